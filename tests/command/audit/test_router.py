"""The audit trail for auditors over HTTP: pages, filters, verification, and every read recorded."""

from tests.command.audit.conftest import Tamper
from tests.command.conftest import CreateAccount, Register, RunningServer
from tests.command.events import alert
from vigil.command.accounts.models import Role
from vigil.command.database import Database
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
    assert (intact["intact"], intact["entries"]) == (True, 8)
    assert (broken["intact"], [(p["kind"], p["missing_seqs"]) for p in broken["problems"]]) == (
        False,
        [("missing", [3])],
    )


def test_every_view_of_a_face_crop_is_recorded(
    server: RunningServer, register: Register, accounts: CreateAccount, probe_jpeg: bytes
) -> None:
    raised = alert(probe_jpeg)
    operator = server.sign_in(accounts("op-1", Role.OPERATOR))
    auditor = server.sign_in(accounts("aud-1", Role.AUDITOR))
    with server.client(register()) as device, server.client(operator) as client:
        device.post("/api/v1/events", content=encode_event(raised))
        for _ in range(2):
            assert client.get(f"/api/v1/alerts/{raised.alert_id}/probe.jpg").content == probe_jpeg
        client.get("/api/v1/alerts")  # the list shows no faces: not a view of biometric data
    with server.client(auditor) as client:
        views = client.get("/api/v1/audit", params={"record_type": "alert"}).json()["entries"]
    assert [(e["actor"], e["action"], e["record_id"], e["address"]) for e in views] == [
        ("op-1", "alert.probe_viewed", str(raised.alert_id), "127.0.0.1")
    ] * 2
