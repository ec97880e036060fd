"""``POST /api/v1/events`` on a real server: device tokens, batches, limits and the error shape."""

import base64
import json
from datetime import timedelta

import pytest
from sqlalchemy import select

from tests.command.conftest import CreateAccount, Register, RunningServer
from tests.command.events import alert, position, send_watchlist, with_fields
from tests.command.ingestion.deployments import deploy
from vigil.command.accounts.models import Role
from vigil.command.database import Database
from vigil.command.deployments.models import DeploymentState
from vigil.command.devices.service import revoke_device
from vigil.command.ingestion.models import RejectedEvent
from vigil.command.units.models import PositionRecord
from vigil.events import DeploymentMode, Location, encode_event, utc_now


def test_a_device_sends_one_event_and_learns_it_was_committed(server: RunningServer, register: Register) -> None:
    event = position()
    with server.client(register()) as client:
        response = client.post("/api/v1/events", content=encode_event(event))
    assert response.status_code == 200
    assert response.json() == {
        "results": [
            {
                "index": 0,
                "outcome": "accepted",
                "event_id": str(event.id),
                "type": "position",
                "reason": None,
                "message": None,
            }
        ],
        "committed": [str(event.id)],
        "accepted": 1,
        "duplicates": 0,
        "rejected": 0,
    }


def test_a_batch_with_a_bad_event_keeps_the_others(
    server: RunningServer, register: Register, database: Database
) -> None:
    first, last = position(), position(lat=51.52)
    body = b"[" + b",".join([encode_event(first), with_fields(position(), lat=123), encode_event(last)]) + b"]"
    with server.client(register()) as client:
        answer = client.post("/api/v1/events", content=body).json()
        again = client.post("/api/v1/events", content=body).json()
    assert [(r["outcome"], r["reason"]) for r in answer["results"]] == [
        ("accepted", None),
        ("rejected", "malformed"),
        ("accepted", None),
    ]
    assert answer["results"][1]["message"].startswith("position.lat: Input should be less than or equal to 90")
    assert answer["committed"] == [str(first.id), str(last.id)]
    assert [r["outcome"] for r in again["results"]] == ["duplicate", "rejected", "duplicate"]
    with database.session() as session:
        assert session.scalars(select(PositionRecord.lat).order_by(PositionRecord.lat)).all() == [51.5081, 51.52]


@pytest.mark.parametrize(
    "authorization",
    [
        None,
        "Basic Y2FtLTE6eA==",
        "Bearer cam-1.wrong-secret",
        "Bearer ghost.whatever",
        "Bearer no-dot",
        "Bearer revoked",
    ],
)
def test_a_request_without_a_valid_device_token_is_refused(
    server: RunningServer, register: Register, database: Database, authorization: str | None
) -> None:
    register("cam-1")
    revoked = register("cam-old")
    with database.session() as session:
        revoke_device(actor="system", address=None, session=session, device_id="cam-old", now=utc_now())
    if authorization == "Bearer revoked":
        authorization = f"Bearer {revoked}"
    headers = {"Authorization": authorization} if authorization is not None else {}
    with server.client() as client:
        response = client.post("/api/v1/events", content=encode_event(position()), headers=headers)
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == "Bearer"
    assert response.json()["error"]["code"] == "not_authenticated"
    assert "Bearer" in response.json()["error"]["message"]


def test_a_body_over_the_limit_is_refused_whether_declared_or_streamed(
    server: RunningServer, register: Register
) -> None:
    limit = 512 * 1024
    body = b"[" + b" " * limit + b"]"
    with server.client(register()) as client:
        declared = client.post("/api/v1/events", content=body)
        streamed = client.post("/api/v1/events", content=iter([body[:1000], body[1000:]]))
    for response in (declared, streamed):
        assert response.status_code == 413
        assert response.json()["error"] == {
            "code": "body_too_large",
            "message": f"the request body is over the limit of {limit:,} bytes; send fewer events at a time",
            "details": {"limit_bytes": limit},
        }


def test_a_batch_over_the_event_limit_is_refused(server: RunningServer, register: Register) -> None:
    body = json.dumps([json.loads(encode_event(position())) for _ in range(21)])
    with server.client(register()) as client:
        response = client.post("/api/v1/events", content=body)
    assert response.status_code == 413
    assert response.json()["error"]["code"] == "batch_too_large"
    assert response.json()["error"]["details"] == {"count": 21, "limit": 20}


def test_the_counters_follow_what_arrived(server: RunningServer, register: Register, accounts: CreateAccount) -> None:
    admin = server.sign_in(accounts("admin-1", Role.ADMIN))
    with server.client(register()) as client, server.client(admin) as administrator:
        client.post("/api/v1/events", content=b"[" + encode_event(position()) + b', {"type": "x"}]')
        metrics = administrator.get("/api/v1/metrics").json()
    assert metrics["ingestion"]["accepted"] == 1
    assert metrics["ingestion"]["rejected_by_reason"] == {"malformed": 1}
    assert metrics["ingestion"]["by_transport"]["http"] == {"accepted": 1, "duplicate": 0, "rejected": 1}
    assert metrics["uptime_s"] >= 0


def test_alerts_for_what_the_device_was_never_sent_never_reach_the_review_queue(
    server: RunningServer, register: Register, database: Database, accounts: CreateAccount, probe_jpeg: bytes
) -> None:
    cam_1 = register("cam-1", "A-12")
    cam_2 = register("cam-2", "B-7")
    send_watchlist(database, "cam-1", version=3, subjects=("obama", "falcon"))
    good = alert(probe_jpeg)
    sent = [good, alert(probe_jpeg, subject_id="biden"), alert(probe_jpeg, watchlist_version=2)]
    with server.client(cam_1) as client:
        answer = client.post("/api/v1/events", content=b"[" + b",".join(map(encode_event, sent)) + b"]").json()
    with server.client(cam_2) as client:  # version 3 went to cam-1 only
        other = client.post("/api/v1/events", content=encode_event(alert(probe_jpeg, device_id="cam-2", unit_id="B-7")))
    assert [(r["outcome"], r["reason"]) for r in answer["results"]] == [
        ("accepted", None),
        ("rejected", "subject_not_sent"),
        ("rejected", "version_not_sent"),
    ]
    assert "does not hold subject 'biden'" in answer["results"][1]["message"]
    assert "never sent watchlist version 2 (its newest is version 3)" in answer["results"][2]["message"]
    assert other.json()["results"][0]["reason"] == "version_not_sent"
    with server.client(server.sign_in(accounts("op-1", Role.OPERATOR))) as operator:
        queue = operator.get("/api/v1/reviews").json()
    assert [item["alert_id"] for item in queue["alerts"]] == [str(good.alert_id)]
    with database.session() as session:
        kept = session.scalars(select(RejectedEvent.raw)).all()
    assert len(kept) == 3
    assert not any(base64.b64encode(probe_jpeg)[:100] in raw for raw in kept)


def test_a_deployments_bounds_are_kept_over_http_and_a_silent_trials_alert_reaches_no_queue(
    server: RunningServer, register: Register, database: Database, accounts: CreateAccount, probe_jpeg: bytes
) -> None:
    """Through the device's own endpoint: the place, the time and the state of the governing deployment decide."""
    cam_1 = register("cam-1", "A-12")
    for version in (3, 5, 6, 7):  # four watchlists, each governed by its own deployment around Trafalgar Square
        send_watchlist(database, "cam-1", version=version)
    live = deploy(database, version=3)
    silent = deploy(database, version=5, mode=DeploymentMode.SILENT, name="Op Kite (trial)")
    deploy(database, version=6, ends_at=utc_now() - timedelta(minutes=5), name="Op Heron (over)")
    deploy(database, version=7, state=DeploymentState.REFUSED, name="Op Crane (refused)")
    inside = alert(probe_jpeg, deployment_id=live)
    sent = [
        inside,
        alert(probe_jpeg, location=Location(lat=51.5155, lon=-0.1419, accuracy_m=8)),  # Oxford Circus: outside
        alert(probe_jpeg, location=None),  # no fix: it cannot be shown inside
        alert(probe_jpeg, watchlist_version=6),  # its deployment's window has closed
        alert(probe_jpeg, watchlist_version=7),  # its deployment was refused
        alert(probe_jpeg, watchlist_version=5, deployment_id=silent),
    ]
    with server.client(cam_1) as client:
        answer = client.post("/api/v1/events", content=b"[" + b",".join(map(encode_event, sent)) + b"]").json()
    assert [(r["outcome"], r["reason"]) for r in answer["results"]] == [
        ("accepted", None),
        ("rejected", "outside_deployment"),
        ("rejected", "outside_deployment"),
        ("rejected", "outside_deployment"),
        ("rejected", "deployment_not_running"),
        ("accepted", None),
    ]
    assert "Op Crane (refused)" in answer["results"][4]["message"]
    with server.client(server.sign_in(accounts("op-1", Role.OPERATOR))) as operator:
        queue = operator.get("/api/v1/reviews").json()
        trial = operator.get("/api/v1/reviews/trial", params={"deployment_id": str(silent)}).json()
    # The silent trial's alert waits for the trial's reviewers, not in the live queue.
    assert [item["alert_id"] for item in queue["alerts"]] == [str(inside.alert_id)]
    assert [item["alert_id"] for item in trial["alerts"]] == [str(sent[-1].alert_id)]
