"""Deployments as authorised records: none starts without authorisation; urgent ones run on a 24-hour clock;
decisions, ending, and one running deployment per watchlist at a time."""

from datetime import datetime, timedelta
from typing import Any

import pytest

from tests.command.conftest import Register
from tests.command.deployments.conftest import Desk, audited, authorised, decision, queued, urgent
from tests.command.governance import SUPERVISOR, new_watchlist
from vigil.command.database import Database
from vigil.command.watchlists.service import assign_device
from vigil.events import DeploymentStopped, DeploymentStopReason, utc_now

UNKNOWN_ID = "00000000-0000-4000-8000-000000000000"


def _time(value: str) -> datetime:
    return datetime.fromisoformat(value)


def test_a_deployment_without_authorisation_is_refused_and_nothing_is_recorded(database: Database, desk: Desk) -> None:
    watchlist_id = new_watchlist(database, utc_now())
    body = authorised([watchlist_id])
    neither = {k: v for k, v in body.items() if k != "authorisation"}
    watchlist_id_text = str(watchlist_id)
    with desk.supervisor() as sam, desk.operator() as olivia:
        refused = sam.post("/api/v1/deployments", json=neither)
        both = sam.post("/api/v1/deployments", json=body | {"urgent": True})
        by_operator = olivia.post("/api/v1/deployments", json=body)
        unknown = sam.post("/api/v1/deployments", json=body | {"watchlist_ids": [watchlist_id_text, UNKNOWN_ID]})
        listed = olivia.get("/api/v1/deployments")
    assert refused.status_code == 422
    assert refused.json()["error"] == {
        "code": "authorisation_required",
        "message": "a deployment cannot start without authorisation: record the authority's decision, or start it "
        "as urgent (its authorisation must then be requested within 24 hours)",
        "details": {"deployment_id": None},
    }
    assert (both.status_code, both.json()["error"]["code"]) == (422, "authorisation_required")
    assert by_operator.status_code == 403
    assert (unknown.status_code, unknown.json()["error"]["code"]) == (404, "unknown_watchlist")
    assert listed.json() == {"deployments": []}


def test_an_authorised_deployment_is_recorded_searches_in_its_window_and_is_audited(
    database: Database, desk: Desk, register: Register
) -> None:
    register("cam-7", "A-12")
    now = utc_now()
    watchlist_id = new_watchlist(database, now)
    with database.session() as session:
        assign_device(session=session, watchlist_id=watchlist_id, device_id="cam-7", actor=SUPERVISOR, now=now)
        session.commit()
    with desk.supervisor() as sam, desk.operator() as olivia:
        created = sam.post("/api/v1/deployments", json=authorised([watchlist_id]))
        later = sam.post(
            "/api/v1/deployments", json=authorised([new_watchlist(database, now)], starts_in=timedelta(days=1))
        )
        assert created.status_code == 201, created.text
        deployment_id = created.json()["deployment_id"]
        read = olivia.get(f"/api/v1/deployments/{deployment_id}")
        listed = olivia.get("/api/v1/deployments")
    record = read.json()
    assert record == created.json()
    assert (record["state"], record["searching"], record["urgent"]) == ("authorised", True, False)
    assert (record["authority_reference"], record["authorised_by_name"]) == ("WMC 2026/881", "DJ Harris")
    assert (record["watchlist_ids"], record["devices"]) == ([str(watchlist_id)], ["cam-7"])
    assert record["authorisation_due_at"] is None
    assert (later.status_code, later.json()["searching"]) == (201, False)  # authorised, its window not open yet
    assert [d["deployment_id"] for d in listed.json()["deployments"]] == [later.json()["deployment_id"], deployment_id]
    [(actor, action, details)] = audited(database, deployment_id)
    assert (actor, action, details["state"], details["authority_reference"]) == (
        record["requested_by"],
        "deployment.created",
        "authorised",
        "WMC 2026/881",
    )


def _past(**delta: float) -> str:
    return (utc_now() - timedelta(**delta)).isoformat()


def _future(**delta: float) -> str:
    return (utc_now() + timedelta(**delta)).isoformat()


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"area": {"type": "Point", "coordinates": [-0.1281, 51.5081]}}, "the deployment's area is not usable"),
        ({"ends_at": _past(hours=1)}, "ends"),
        ({"starts_at": _past(days=9), "ends_at": _past(hours=1)}, "ended already"),
        ({"ends_at": _future(days=8)}, "the longest is 7 days"),
        ({"authorisation": {**authorised([])["authorisation"], "decided_at": _future(hours=1)}}, "in the future"),
        ({"starts_at": _past(hours=2)}, "authorisation comes first"),
        ({"urgent": True, "authorisation": None}, "leave starts_at out"),
    ],
)
def test_a_deployment_outside_its_bounds_is_refused_with_the_reason(
    database: Database, desk: Desk, changes: dict[str, Any], message: str
) -> None:
    watchlist_id = new_watchlist(database, utc_now())
    with desk.supervisor() as sam:
        refused = sam.post("/api/v1/deployments", json=authorised([watchlist_id]) | changes)
    assert refused.status_code == 422, refused.text
    assert message in refused.json()["error"]["message"]


def test_an_urgent_deployment_starts_at_once_with_24_hours_to_record_its_authorisation(
    database: Database, desk: Desk
) -> None:
    watchlist_id = new_watchlist(database, utc_now())
    before = utc_now()
    with desk.supervisor() as sam:
        started = sam.post("/api/v1/deployments", json=urgent([watchlist_id]))
        assert started.status_code == 201, started.text
        deployment_id = started.json()["deployment_id"]
        late = sam.post(
            f"/api/v1/deployments/{deployment_id}/decision",
            json=decision(granted=True, at=utc_now() + timedelta(hours=25)),
        )
        granted = sam.post(f"/api/v1/deployments/{deployment_id}/decision", json=decision(granted=True))
        again = sam.post(f"/api/v1/deployments/{deployment_id}/decision", json=decision(granted=False))
    record = started.json()
    assert (record["state"], record["urgent"], record["searching"]) == ("urgent", True, True)
    assert before <= _time(record["starts_at"]) <= utc_now()
    assert _time(record["authorisation_due_at"]) == _time(record["requested_at"]) + timedelta(hours=24)
    assert (record["authority"], record["decided_at"]) == (None, None)
    assert late.status_code == 422  # in the future, and past its 24 hours
    assert granted.status_code == 200, granted.text
    assert (granted.json()["state"], granted.json()["authority_reference"]) == ("authorised", "WMC 2026/902")
    assert granted.json()["decision_recorded_by"] == record["requested_by"]
    assert (again.status_code, again.json()["error"]["code"]) == (409, "deployment_state_conflict")
    actions = [action for _, action, _ in audited(database, deployment_id)]
    assert actions == ["deployment.created", "deployment.authorised"]


def test_a_decision_is_recorded_only_on_an_urgent_deployment_and_a_refusal_needs_its_reason(
    database: Database, desk: Desk
) -> None:
    with desk.supervisor() as sam:
        recorded = sam.post("/api/v1/deployments", json=authorised([new_watchlist(database, utc_now())]))
        started = sam.post("/api/v1/deployments", json=urgent([new_watchlist(database, utc_now())]))
        on_authorised = sam.post(
            f"/api/v1/deployments/{recorded.json()['deployment_id']}/decision", json=decision(granted=True)
        )
        unexplained = sam.post(
            f"/api/v1/deployments/{started.json()['deployment_id']}/decision",
            json=decision(granted=False) | {"reason": None},
        )
        unknown = sam.post(f"/api/v1/deployments/{UNKNOWN_ID}/decision", json=decision(granted=True))
    assert on_authorised.status_code == 409
    assert (unexplained.status_code, unexplained.json()["error"]["message"]) == (
        422,
        "a refusal needs its reason, for the record",
    )
    assert unknown.status_code == 404


def test_a_watchlist_is_in_one_running_deployment_at_a_time(database: Database, desk: Desk) -> None:
    watchlist_id = new_watchlist(database, utc_now())
    with desk.supervisor() as sam:
        first = sam.post("/api/v1/deployments", json=authorised([watchlist_id]))
        overlapping = sam.post("/api/v1/deployments", json=authorised([watchlist_id], starts_in=timedelta(hours=7)))
        after = sam.post("/api/v1/deployments", json=authorised([watchlist_id], starts_in=timedelta(hours=8)))
        ended = sam.post(
            f"/api/v1/deployments/{first.json()['deployment_id']}/end", json={"reason": "Suspect arrested"}
        )
        instead = sam.post("/api/v1/deployments", json=authorised([watchlist_id], starts_in=timedelta(hours=1)))
    assert overlapping.status_code == 409
    error = overlapping.json()["error"]
    assert (error["code"], error["details"]["other_deployment_id"]) == (
        "watchlist_already_deployed",
        first.json()["deployment_id"],
    )
    assert after.status_code == 201, after.text  # the next window, back to back
    assert ended.status_code == 200
    assert instead.status_code == 409  # still overlaps the one that follows
    assert instead.json()["error"]["details"]["other_deployment_id"] == after.json()["deployment_id"]


def test_a_supervisor_ends_a_deployment_early_and_its_devices_stop_without_deleting(
    database: Database, desk: Desk, register: Register
) -> None:
    register("cam-7", "A-12")
    now = utc_now()
    watchlist_id = new_watchlist(database, now)
    with database.session() as session:
        assign_device(session=session, watchlist_id=watchlist_id, device_id="cam-7", actor=SUPERVISOR, now=now)
        session.commit()
    with desk.supervisor() as sam, desk.operator() as olivia:
        created = sam.post("/api/v1/deployments", json=authorised([watchlist_id]))
        deployment_id = created.json()["deployment_id"]
        by_operator = olivia.post(f"/api/v1/deployments/{deployment_id}/end", json={"reason": "Suspect arrested"})
        ended = sam.post(f"/api/v1/deployments/{deployment_id}/end", json={"reason": "Suspect arrested"})
        again = sam.post(f"/api/v1/deployments/{deployment_id}/end", json={"reason": "Suspect arrested"})
    assert by_operator.status_code == 403
    record = ended.json()
    assert (record["state"], record["searching"], record["end_reason"]) == ("ended", False, "Suspect arrested")
    assert (record["ended_by"], record["data_deleted_at"]) == (created.json()["requested_by"], None)
    assert again.status_code == 409
    [stopped] = queued(database, "deployment.stopped")
    assert isinstance(stopped, DeploymentStopped)
    assert (stopped.device_id, str(stopped.deployment_id), stopped.reason, stopped.delete_results) == (
        "cam-7",
        deployment_id,
        DeploymentStopReason.ENDED,
        False,
    )
