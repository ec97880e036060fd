"""Alerts on a watchlist a deployment governs: taken only from inside a running deployment's place and time."""

import re
import uuid
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import event, select
from sqlalchemy.engine import Connection

from tests.command.conftest import Register
from tests.command.events import alert, send_watchlist
from tests.command.ingestion.deployments import deploy
from vigil.command.alerts.models import Alert
from vigil.command.database import Database
from vigil.command.deployments.models import DeploymentState
from vigil.command.feed.models import FeedEntry
from vigil.command.ingestion.metrics import IngestionMetrics
from vigil.command.ingestion.models import RejectedEvent, RejectReason, Transport
from vigil.command.ingestion.schemas import IngestResult, Outcome
from vigil.command.ingestion.service import Received, ingest_many
from vigil.command.settings import IngestionLimits
from vigil.events import AlertRaised, DeploymentMode, Location, encode_event, utc_now

GOVERNED, UNGOVERNED = 3, 4
"""cam-1's two watchlist versions, each of its own watchlist: a deployment governs the first only."""


@pytest.fixture
def camera(register: Register, database: Database) -> None:
    """cam-1 (unit A-12) was sent versions 3 and 4, of two watchlists."""
    register("cam-1", "A-12")
    send_watchlist(database, "cam-1", version=GOVERNED)
    send_watchlist(database, "cam-1", version=UNGOVERNED)


def _ingest(database: Database, *alerts: AlertRaised) -> list[IngestResult]:
    with database.session() as session:
        return ingest_many(
            session=session,
            received=[Received(raw=encode_event(raised), sender="cam-1") for raised in alerts],
            transport=Transport.HTTP,
            limits=IngestionLimits(),
            metrics=IngestionMetrics(),
        )


def _stored(database: Database, raised: AlertRaised) -> Alert | None:
    with database.session() as session:
        return session.get(Alert, raised.alert_id)


def _deployment_of(database: Database, raised: AlertRaised) -> tuple[uuid.UUID | None, bool]:
    """The stored alert's deployment, and whether it is silent."""
    with database.session() as session:
        stored = session.get_one(Alert, raised.alert_id)
        return stored.deployment_id, stored.silent


def _raised_on_the_feed(database: Database) -> list[str]:
    with database.session() as session:
        return [
            entry.payload["alert_id"]
            for entry in session.scalars(select(FeedEntry).where(FeedEntry.kind == "alert.raised"))
        ]


@pytest.mark.usefixtures("camera")
@pytest.mark.parametrize("state", [DeploymentState.AUTHORISED, DeploymentState.URGENT])
@pytest.mark.parametrize("named", [True, False], ids=["naming it", "from an older device"])
def test_an_alert_inside_its_deployments_place_and_time_is_stored_with_it(
    database: Database, probe_jpeg: bytes, state: DeploymentState, named: bool
) -> None:
    deployment_id = deploy(database, state=state)
    inside = alert(probe_jpeg, deployment_id=deployment_id if named else None)
    ungoverned = alert(probe_jpeg, watchlist_version=UNGOVERNED, location=None)
    results = _ingest(database, inside, ungoverned)
    assert [r.outcome for r in results] == [Outcome.ACCEPTED, Outcome.ACCEPTED]
    assert _deployment_of(database, inside) == (deployment_id, False)
    # A watchlist no deployment governs: taken as before, from anywhere, with no deployment.
    assert _deployment_of(database, ungoverned) == (None, False)
    with database.session() as session:
        feed = {
            entry.payload["alert_id"]: (entry.payload["deployment_id"], entry.payload["silent"])
            for entry in session.scalars(select(FeedEntry).where(FeedEntry.kind == "alert.raised"))
        }
    assert feed == {str(inside.alert_id): (str(deployment_id), False), str(ungoverned.alert_id): (None, False)}


Fields = Callable[[datetime], dict[str, Any]]
"""The deployment's fields, or the alert's, given the time the alert is raised."""
CASES: list[tuple[str, Fields, Fields, RejectReason, str]] = [
    (
        "outside the area",
        lambda now: {},
        lambda now: {"location": Location(lat=51.52, lon=-0.1281)},  # 1.3 km north of the 500 m circle
        RejectReason.OUTSIDE_DEPLOYMENT,
        r"location \(51\.520000, -0\.128100\) lies outside its area",
    ),
    (
        "before it starts",
        lambda now: {"starts_at": now + timedelta(minutes=10)},
        lambda now: {},
        RejectReason.OUTSIDE_DEPLOYMENT,
        "is before its window, which opens at",
    ),
    (
        "the person first seen before it started",
        lambda now: {"starts_at": now - timedelta(seconds=1)},
        lambda now: {"first_seen_at": now - timedelta(seconds=3)},
        RejectReason.OUTSIDE_DEPLOYMENT,
        "is before its window, which opens at",
    ),
    (
        "after it ended",
        lambda now: {"starts_at": now - timedelta(hours=2), "ends_at": now - timedelta(minutes=1)},
        lambda now: {},
        RejectReason.OUTSIDE_DEPLOYMENT,
        "is after its window, which closed at",
    ),
    (
        "at the moment it ends",
        lambda now: {"ends_at": now},
        lambda now: {},
        RejectReason.OUTSIDE_DEPLOYMENT,
        "is after its window",
    ),
    (
        "no location",
        lambda now: {},
        lambda now: {"location": None},
        RejectReason.OUTSIDE_DEPLOYMENT,
        "carries no location, so it cannot be shown to lie inside its area",
    ),
    (
        "naming another deployment",
        lambda now: {},
        lambda now: {"deployment_id": uuid.UUID("0193a5f0-0000-7000-8000-000000000001")},
        RejectReason.OUTSIDE_DEPLOYMENT,
        "names deployment 0193a5f0-0000-7000-8000-000000000001, which does not govern watchlist",
    ),
    (
        "refused",
        lambda now: {"state": DeploymentState.REFUSED},
        lambda now: {},
        RejectReason.DEPLOYMENT_NOT_RUNNING,
        r"deployment 'Op Falcon' \([0-9a-f-]+\), refused: none is running",
    ),
    (
        "lapsed",
        lambda now: {"state": DeploymentState.LAPSED},
        lambda now: {},
        RejectReason.DEPLOYMENT_NOT_RUNNING,
        r"deployment 'Op Falcon' \([0-9a-f-]+\), lapsed: none is running",
    ),
    (
        "ended",
        lambda now: {"state": DeploymentState.ENDED},
        lambda now: {},
        RejectReason.DEPLOYMENT_NOT_RUNNING,
        r"deployment 'Op Falcon' \([0-9a-f-]+\), ended: none is running",
    ),
]


@pytest.mark.usefixtures("camera")
@pytest.mark.parametrize(
    ("deployment", "changes", "reason", "message"), [case[1:] for case in CASES], ids=[case[0] for case in CASES]
)
def test_an_alert_no_running_deployment_covers_is_refused_with_why(
    database: Database,
    probe_jpeg: bytes,
    deployment: Fields,
    changes: Fields,
    reason: RejectReason,
    message: str,
) -> None:
    now = utc_now()
    deploy(database, **deployment(now))
    raised = alert(probe_jpeg, **({"at": now, "first_seen_at": now - timedelta(seconds=3)} | changes(now)))
    (result,) = _ingest(database, raised)
    assert (result.outcome, result.reason) == (Outcome.REJECTED, reason)
    assert result.message is not None
    assert _stored(database, raised) is None
    with database.session() as session:
        rejected = session.scalars(select(RejectedEvent)).one()
    assert (rejected.reason, rejected.message) == (reason, result.message)
    assert re.search(message, rejected.message), rejected.message
    assert _raised_on_the_feed(database) == []


@pytest.mark.usefixtures("camera")
def test_an_alert_naming_a_deployment_on_a_watchlist_none_governs_is_refused(
    database: Database, probe_jpeg: bytes
) -> None:
    deployment_id = deploy(database)
    (result,) = _ingest(database, alert(probe_jpeg, watchlist_version=UNGOVERNED, deployment_id=deployment_id))
    assert (result.outcome, result.reason) == (Outcome.REJECTED, RejectReason.OUTSIDE_DEPLOYMENT)
    assert result.message is not None
    assert f"names deployment {deployment_id}, but no deployment governs watchlist version 4" in result.message


@pytest.mark.usefixtures("camera")
def test_the_running_deployment_covers_the_alert_and_a_stopped_one_is_named_with_its_state(
    database: Database, probe_jpeg: bytes
) -> None:
    now = utc_now()
    deploy(database, state=DeploymentState.ENDED, name="Op Heron", starts_at=now - timedelta(days=2))
    running = deploy(database, starts_at=now - timedelta(minutes=5))
    accepted = alert(probe_jpeg, deployment_id=running)
    away = alert(probe_jpeg, location=Location(lat=51.52, lon=-0.1281))
    first, second = _ingest(database, accepted, away)
    assert first.outcome is Outcome.ACCEPTED
    assert _deployment_of(database, accepted) == (running, False)
    # Only the running deployment is considered for place and time.
    assert (second.outcome, second.reason) == (Outcome.REJECTED, RejectReason.OUTSIDE_DEPLOYMENT)
    assert second.message is not None
    assert ("'Op Falcon'" in second.message, "Op Heron" in second.message) == (True, False)
    deploy(database, state=DeploymentState.REFUSED, name="Op Kestrel", version=UNGOVERNED)
    deploy(database, state=DeploymentState.LAPSED, name="Op Osprey", version=UNGOVERNED)
    (stopped,) = _ingest(database, alert(probe_jpeg, watchlist_version=UNGOVERNED))
    assert stopped.reason is RejectReason.DEPLOYMENT_NOT_RUNNING
    assert stopped.message is not None
    assert ("'Op Kestrel'" in stopped.message, "refused" in stopped.message) == (True, True)
    assert ("'Op Osprey'" in stopped.message, "lapsed" in stopped.message) == (True, True)


@pytest.mark.usefixtures("camera")
def test_a_silent_deployments_alert_is_stored_for_review_with_no_feed_entry(
    database: Database, probe_jpeg: bytes
) -> None:
    silent = deploy(database, mode=DeploymentMode.SILENT)
    trial = alert(probe_jpeg, deployment_id=silent)
    live = alert(probe_jpeg, watchlist_version=UNGOVERNED)
    assert [r.outcome for r in _ingest(database, trial, live)] == [Outcome.ACCEPTED, Outcome.ACCEPTED]
    assert _deployment_of(database, trial) == (silent, True)
    # The feed is what the control room's live queue and map show: the trial's alert is not on it.
    assert _raised_on_the_feed(database) == [str(live.alert_id)]


@pytest.mark.usefixtures("camera")
def test_a_batch_reads_its_deployments_in_one_query(database: Database, probe_jpeg: bytes) -> None:
    deploy(database)
    deploy(database, version=UNGOVERNED, area={"type": "Polygon", "coordinates": [[
        [-0.130, 51.507], [-0.126, 51.507], [-0.126, 51.509], [-0.130, 51.509], [-0.130, 51.507]
    ]]})  # fmt: skip
    alerts = [alert(probe_jpeg, watchlist_version=GOVERNED if n % 2 else UNGOVERNED) for n in range(8)]
    statements: list[str] = []

    def seen(conn: Connection, cursor: object, statement: str, *args: object) -> None:
        statements.append(statement)

    event.listen(database.engine, "before_cursor_execute", seen)
    try:
        results = _ingest(database, *alerts)
    finally:
        event.remove(database.engine, "before_cursor_execute", seen)
    assert [r.outcome for r in results] == [Outcome.ACCEPTED] * 8
    assert sum("deployment_watchlists" in statement for statement in statements) == 1
