"""The audit trail for auditors over HTTP: pages, filters, verification, and every read recorded."""

import time
from collections.abc import Callable
from pathlib import Path

from fastapi import FastAPI

from tests.command.audit.conftest import CheckpointKeys, Rehash, Tamper
from tests.command.conftest import CreateAccount, Register, RunningServer
from tests.command.events import alert, send_watchlist
from vigil.command.accounts.models import Role
from vigil.command.app import create_app
from vigil.command.audit.checkpoint_store import store_file
from vigil.command.database import Database
from vigil.command.settings import AuditSettings, CommandSettings
from vigil.events import encode_event


def test_an_auditor_reads_the_trail_page_by_page_and_each_read_is_recorded(
    server: RunningServer, accounts: CreateAccount, trail: Database
) -> None:
    token = server.sign_in(accounts("aud-1", Role.AUDITOR))
    with server.client(token) as client:
        first = client.get("/api/v1/audit", params={"limit": 4}).json()
        second = client.get("/api/v1/audit", params={"after": first["next_after"], "limit": 4}).json()
        filtered = client.get("/api/v1/audit", params={"record_id": "alert-3"}).json()
        views = client.get("/api/v1/audit", params={"actor": "aud-1"}).json()
    assert [e["seq"] for e in first["entries"]] == [1, 2, 3, 4]
    assert first["next_after"] == 4
    assert [e["seq"] for e in second["entries"]] == [5, 6, 7, 8]  # 7: user.created, 8: user.signed_in
    assert [(e["seq"], e["details"]) for e in filtered["entries"]] == [(3, {"n": 3})]
    assert [e["action"] for e in views["entries"]] == ["user.signed_in"] + ["audit.viewed"] * 3
    assert views["entries"][1]["details"] == {"after": 0, "entries": 4}
    assert second["entries"][0]["prev_hash"] == first["entries"][-1]["hash"]


def test_an_auditor_verifies_the_trail_over_http(
    server: RunningServer, accounts: CreateAccount, trail: Database, tamper: Tamper
) -> None:
    token = server.sign_in(accounts("aud-1", Role.AUDITOR))
    with server.client(token) as client:
        intact = client.get("/api/v1/audit/verify").json()
        tamper("DELETE FROM audit_log WHERE seq = 3")
        broken = client.get("/api/v1/audit/verify").json()
    assert (intact["intact"], intact["entries"], intact["anchor"]) == (True, 8, None)
    assert (broken["intact"], [(p["kind"], p["missing_seqs"]) for p in broken["problems"]]) == (
        False,
        [("missing", [3])],
    )


def test_every_view_of_a_face_crop_is_recorded(
    server: RunningServer, database: Database, register: Register, accounts: CreateAccount, probe_jpeg: bytes
) -> None:
    raised = alert(probe_jpeg)
    operator = server.sign_in(accounts("op-1", Role.OPERATOR))
    auditor = server.sign_in(accounts("aud-1", Role.AUDITOR))
    device_token = register()
    send_watchlist(database, "cam-1")  # a device's alert names a subject it was sent
    with server.client(device_token) as device, server.client(operator) as client:
        device.post("/api/v1/events", content=encode_event(raised))
        for _ in range(2):
            assert client.get(f"/api/v1/alerts/{raised.alert_id}/probe.jpg").content == probe_jpeg
        client.get("/api/v1/alerts")  # the list shows no faces: not a view of biometric data
    with server.client(auditor) as client:
        views = client.get("/api/v1/audit", params={"record_type": "alert"}).json()["entries"]
    assert [(e["actor"], e["action"], e["record_id"], e["address"]) for e in views] == [
        ("op-1", "alert.probe_viewed", str(raised.alert_id), "127.0.0.1")
    ] * 2


def test_the_server_checkpoints_the_trail_as_it_starts_and_its_verification_finds_a_rewrite(
    serve: Callable[[FastAPI], RunningServer],
    settings: CommandSettings,
    trail: Database,
    accounts: CreateAccount,
    store: Path,
    checkpoint_keys: CheckpointKeys,
    tamper: Tamper,
    rehash: Rehash,
) -> None:
    audit = AuditSettings(checkpoint_dir=store, checkpoint_key_file=checkpoint_keys.private_file)
    server = serve(create_app(settings.model_copy(update={"audit": audit})))
    deadline = time.monotonic() + 10
    while not (store_file(store).exists() and store_file(store).read_text()) and time.monotonic() < deadline:
        time.sleep(0.01)
    token = server.sign_in(accounts("aud-1", Role.AUDITOR))
    with server.client(token) as client:
        intact = client.get("/api/v1/audit/verify").json()
        tamper("UPDATE audit_log SET actor = 'op-9' WHERE seq = 3")
        rehash(3)
        rewritten = client.get("/api/v1/audit/verify").json()
    assert (intact["intact"], intact["anchor"]["checkpoints"], intact["anchor"]["refused"]) == (True, 1, [])
    assert intact["anchor"]["last_seq"] >= 6
    assert rewritten["intact"] is False
    assert [(p["kind"], p["seq"], p["checkpoint"]) for p in rewritten["problems"]] == [("rewritten", 1, 1)]
