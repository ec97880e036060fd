"""A refused or lapsed deployment stops on its devices and everything it found is deleted; its record, the audit
trail and the idempotency records stay (EU AI Act Art 5(3))."""

import uuid
from datetime import datetime, timedelta

import pytest
from sqlalchemy import func, select, update

from tests.command.conftest import Register
from tests.command.deployments.conftest import Desk, audited, decision, queued, urgent
from tests.command.events import alert, dispatch_status, position, send_watchlist
from tests.command.governance import OPERATOR, SUPERVISOR, ingest_events, new_watchlist, review
from vigil.command.alerts.models import Alert
from vigil.command.database import Database
from vigil.command.dispatches.models import DispatchStatusRecord
from vigil.command.feed.models import FeedEntry
from vigil.command.incidents.models import DispatchOrderRecord, Incident
from vigil.command.incidents.schemas import DispatchRequest, IncidentOpen
from vigil.command.incidents.service import dispatch_units, open_incident
from vigil.command.ingestion.metrics import IngestionMetrics
from vigil.command.ingestion.models import IngestedEvent, Transport
from vigil.command.ingestion.schemas import Outcome
from vigil.command.ingestion.service import ingest
from vigil.command.jobs import keep_deployments
from vigil.command.settings import IngestionLimits
from vigil.command.units.models import Unit
from vigil.command.verifications.models import AlertVerification
from vigil.command.watchlists.service import assign_device
from vigil.dispatch.settings import DispatchSettings
from vigil.dispatch.unit import UnitStatus
from vigil.events import (
    AlertRaised,
    AlertVerified,
    DeploymentStopped,
    DeploymentStopReason,
    DispatchCancelled,
    DispatchState,
    IdentityVerdict,
    Location,
    encode_event,
    utc_now,
)

CAMERA = Location(lat=51.5081, lon=-0.1281, accuracy_m=8)
UNGOVERNED_VERSION = 900
"""The alerts are ingested from a watchlist no deployment names, then filed under the deployment, so that these
tests do not depend on how ingestion decides an alert's deployment."""


@pytest.fixture
def street(database: Database, register: Register) -> None:
    """The camera cam-1 (unit A-12) at Trafalgar Square, and unit A-1 100 m away with its radio."""
    register("cam-1", "A-12")
    register("radio-A-1", "A-1")
    now = utc_now()
    ingest_events(database, "cam-1", position(lat=CAMERA.lat, lon=CAMERA.lon, at=now))
    ingest_events(database, "radio-A-1", position(device_id="radio-A-1", unit_id="A-1", lat=51.5090, lon=-0.1281))
    send_watchlist(database, "cam-1", version=UNGOVERNED_VERSION)


def _deployment(database: Database, desk: Desk) -> str:
    """An urgent deployment of a watchlist cam-1 carries; returns its id."""
    now = utc_now()
    watchlist_id = new_watchlist(database, now)
    with database.session() as session:
        assign_device(session=session, watchlist_id=watchlist_id, device_id="cam-1", actor=SUPERVISOR, now=now)
        session.commit()
    with desk.supervisor() as sam:
        started = sam.post("/api/v1/deployments", json=urgent([watchlist_id]))
    assert started.status_code == 201, started.text
    deployment_id: str = started.json()["deployment_id"]
    return deployment_id


def _raise(database: Database, probe_jpeg: bytes, deployment_id: str | None) -> AlertRaised:
    """An alert from cam-1, filed under the deployment."""
    raised = alert(probe_jpeg, location=CAMERA, watchlist_version=UNGOVERNED_VERSION)
    ingest_events(database, "cam-1", raised)
    if deployment_id is not None:
        with database.session() as session:
            session.execute(
                update(Alert).where(Alert.alert_id == raised.alert_id).values(deployment_id=uuid.UUID(deployment_id))
            )
            session.commit()
    return raised


def _pursued(database: Database, alert_id: uuid.UUID) -> tuple[uuid.UUID, uuid.UUID]:
    """Confirm the alert, open an incident on it, send A-1, which accepts; returns the incident and order ids."""
    review(database, alert_id, "confirmed", at=utc_now())
    settings = DispatchSettings()
    with database.session() as session:
        incident = open_incident(
            session=session, request=IncidentOpen(alert_id=alert_id), actor=OPERATOR, now=utc_now(), settings=settings
        )
        sent = dispatch_units(
            session=session,
            incident_id=incident.incident_id,
            request=DispatchRequest(unit_ids=["A-1"], instructions="Detain if confirmed in person."),
            actor=OPERATOR,
            now=utc_now(),
            settings=settings,
        )
        session.commit()
    [order] = sent.dispatches
    answer = dispatch_status(device_id="radio-A-1", dispatch_id=order.dispatch_id, status=DispatchState.ACCEPTED)
    ingest_events(database, "radio-A-1", answer)
    return incident.incident_id, order.dispatch_id


def _feed_text(database: Database) -> str:
    with database.session() as session:
        return " ".join(str(p) for p in session.scalars(select(FeedEntry.payload)))


def _stored(database: Database, alert_id: uuid.UUID) -> bool:
    with database.session() as session:
        return session.get(Alert, alert_id) is not None


def _resend(database: Database, raised: AlertRaised) -> Outcome:
    with database.session() as session:
        return ingest(
            session=session,
            raw=encode_event(raised),
            transport=Transport.HTTP,
            authenticated_device_id="cam-1",
            limits=IngestionLimits(),
            metrics=IngestionMetrics(),
        ).outcome


def test_a_refusal_stops_the_deployment_and_deletes_its_alerts_incidents_orders_verifications_and_feed_entries(
    database: Database, desk: Desk, street: None, probe_jpeg: bytes
) -> None:
    deployment_id = _deployment(database, desk)
    pursued = _raise(database, probe_jpeg, deployment_id)
    incident_id, dispatch_id = _pursued(database, pursued.alert_id)
    waiting = _raise(database, probe_jpeg, deployment_id)
    kept = _raise(database, probe_jpeg, None)  # no deployment's: it stays
    assert str(pursued.alert_id) in _feed_text(database)
    assert _status(database, "A-1") is not UnitStatus.AVAILABLE
    assert [e.dispatch_id for e in queued(database, "dispatch.order")] == [dispatch_id]
    assert [e.alert_id for e in queued(database, "alert.reviewed")] == [pursued.alert_id]
    # The officer on scene verifies the match (its second verification): A-1 is sent its order again.
    verified = AlertVerified(
        device_id="radio-A-1",
        alert_id=pursued.alert_id,
        dispatch_id=dispatch_id,
        unit_id="A-1",
        verdict=IdentityVerdict.SAME_PERSON,
    )
    ingest_events(database, "radio-A-1", verified)
    assert [e.revision for e in queued(database, "dispatch.order")] == [1, 2]

    with desk.supervisor() as sam:
        refused = sam.post(f"/api/v1/deployments/{deployment_id}/decision", json=decision(granted=False))
        after = sam.post(f"/api/v1/deployments/{deployment_id}/decision", json=decision(granted=True))
    assert refused.status_code == 200, refused.text
    record = refused.json()
    assert (record["state"], record["searching"], record["alerts_deleted"]) == ("refused", False, 2)
    assert record["refusal_reason"] == "Not necessary: the suspect was located by other means"
    assert record["data_deleted_at"] == record["ended_at"] == record["decision_recorded_at"]
    assert after.status_code == 409

    with database.session() as session:
        assert set(session.scalars(select(Alert.alert_id))) == {kept.alert_id}
        assert session.get(Incident, incident_id) is None
        assert session.get(DispatchOrderRecord, dispatch_id) is None
        assert session.scalar(select(func.count()).select_from(DispatchStatusRecord)) == 0
        assert session.scalar(select(func.count()).select_from(AlertVerification)) == 0
        # the idempotency records stay: a resend is a duplicate, and nothing is stored again
        assert session.get(IngestedEvent, pursued.id) is not None
    feed = _feed_text(database)
    for gone in (pursued.alert_id, waiting.alert_id, incident_id, dispatch_id):
        assert str(gone) not in feed
    assert str(kept.alert_id) in feed
    assert _resend(database, pursued) is Outcome.DUPLICATE
    assert not _stored(database, pursued.alert_id)

    [stopped] = queued(database, "deployment.stopped")
    assert isinstance(stopped, DeploymentStopped)
    assert (stopped.device_id, str(stopped.deployment_id), stopped.reason, stopped.delete_results) == (
        "cam-1",
        deployment_id,
        DeploymentStopReason.REFUSED,
        True,
    )
    [cancelled] = queued(database, "dispatch.cancelled")  # the officer on the way is stood down
    assert isinstance(cancelled, DispatchCancelled)
    assert (cancelled.device_id, cancelled.dispatch_id) == ("radio-A-1", dispatch_id)
    assert queued(database, "dispatch.order") == []  # the order, with the face crop, is gone from the outbox
    assert queued(database, "alert.reviewed") == []  # nor the decision on the alert
    assert _status(database, "A-1") is UnitStatus.AVAILABLE

    trail = audited(database, deployment_id)
    assert [action for _, action, _ in trail] == [
        "deployment.created",
        "deployment.refused",
        "deployment.stopped",
        "deployment.data_deleted",
    ]
    actor, _, deleted = trail[-1]
    assert actor == record["decision_recorded_by"]
    assert (
        deleted["alerts"],
        deleted["incidents"],
        deleted["dispatch_orders"],
        deleted["orders_stood_down"],
        deleted["verifications"],
    ) == (2, 1, 1, 1, 1)


def _status(database: Database, unit_id: str) -> UnitStatus:
    with database.session() as session:
        return session.get_one(Unit, unit_id).status


def _due(desk: Desk, deployment_id: str) -> datetime:
    with desk.operator() as olivia:
        return datetime.fromisoformat(olivia.get(f"/api/v1/deployments/{deployment_id}").json()["authorisation_due_at"])


def test_an_urgent_deployment_with_no_authorisation_in_24_hours_lapses_and_its_data_is_deleted(
    database: Database, desk: Desk, street: None, probe_jpeg: bytes
) -> None:
    deployment_id = _deployment(database, desk)
    raised = _raise(database, probe_jpeg, deployment_id)
    due = _due(desk, deployment_id)

    assert keep_deployments(database=database, now=due - timedelta(seconds=1)) == 0
    assert _stored(database, raised.alert_id)
    assert keep_deployments(database=database, now=due) == 1
    assert keep_deployments(database=database, now=due + timedelta(minutes=1)) == 0  # once

    with desk.operator() as olivia:
        record = olivia.get(f"/api/v1/deployments/{deployment_id}").json()
    assert (record["state"], record["ended_by"], record["alerts_deleted"]) == ("lapsed", "system:urgent_clock", 1)
    assert datetime.fromisoformat(record["data_deleted_at"]) == due
    assert not _stored(database, raised.alert_id)
    assert str(raised.alert_id) not in _feed_text(database)
    [stopped] = queued(database, "deployment.stopped")
    assert (stopped.reason, stopped.delete_results) == (DeploymentStopReason.LAPSED, True)
    trail = audited(database, deployment_id)
    assert [(actor, action) for actor, action, _ in trail[-2:]] == [
        ("system:urgent_clock", "deployment.stopped"),
        ("system:urgent_clock", "deployment.data_deleted"),
    ]
    with desk.supervisor() as sam:
        late = sam.post(f"/api/v1/deployments/{deployment_id}/decision", json=decision(granted=True))
    assert late.status_code == 409


def test_an_urgent_deployment_ended_early_keeps_its_data_until_the_authority_refuses(
    database: Database, desk: Desk, street: None, probe_jpeg: bytes
) -> None:
    deployment_id = _deployment(database, desk)
    raised = _raise(database, probe_jpeg, deployment_id)
    with desk.supervisor() as sam:
        ended = sam.post(f"/api/v1/deployments/{deployment_id}/end", json={"reason": "Threat over"})
        assert (ended.json()["state"], ended.json()["alerts_deleted"]) == ("ended", None)
        assert _stored(database, raised.alert_id)  # ending keeps what it found
        refused = sam.post(f"/api/v1/deployments/{deployment_id}/decision", json=decision(granted=False))
    record = refused.json()
    assert (record["state"], record["end_reason"], record["alerts_deleted"]) == ("refused", "Threat over", 1)
    assert not _stored(database, raised.alert_id)
    stops = queued(database, "deployment.stopped")
    assert [(s.reason, s.delete_results) for s in stops] == [
        (DeploymentStopReason.ENDED, False),
        (DeploymentStopReason.REFUSED, True),
    ]
