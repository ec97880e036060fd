"""Two people verify a match before anyone acts on it (EU AI Act Art 14(5)): the operator's confirmation, then a
second person in the control room (the API) or the officer sent to the match (``alert.verified``)."""

import json
import uuid
from typing import Any

import httpx
import pytest
from sqlalchemy import select, update

from tests.command.deployments.conftest import Desk, queued
from tests.command.events import alert
from tests.command.governance import SECOND_SUPERVISOR, ingest_events
from tests.command.incidents.test_service import CAMERA, _delivered, _dispatch, _open, _raise
from vigil.command.audit.models import AuditEntry
from vigil.command.database import Database
from vigil.command.ingestion.metrics import IngestionMetrics
from vigil.command.ingestion.models import RejectReason, Transport
from vigil.command.ingestion.schemas import IngestResult, Outcome
from vigil.command.ingestion.service import ingest
from vigil.command.settings import IngestionLimits
from vigil.command.units.models import Unit
from vigil.command.verifications.errors import IdentityAlreadySettled
from vigil.command.verifications.models import AlertVerification, VerifierKind
from vigil.command.verifications.schemas import IdentityState, VerificationRequest
from vigil.command.verifications.service import identity_of, verify
from vigil.events import AlertVerified, DispatchOrder, IdentityVerdict, encode_event, parse_event, utc_now


def _pursued(database: Database, desk: Desk, probe_jpeg: bytes, *units: str) -> tuple[str, dict[str, Any]]:
    """An alert from cam-1 that Olivia confirms and opens an incident on, sending ``units``, through the API."""
    raised = alert(probe_jpeg, location=CAMERA)
    ingest_events(database, "cam-1", raised)
    alert_id = str(raised.alert_id)
    with desk.operator() as olivia:
        confirmed = olivia.post(f"/api/v1/reviews/{alert_id}/decision", json={"decision": "confirmed"})
        assert confirmed.status_code == 200, confirmed.text
        opened = olivia.post("/api/v1/incidents", json={"alert_id": alert_id})
        assert opened.status_code == 201, opened.text
        incident: dict[str, Any] = opened.json()
        if units:
            sent = olivia.post(f"/api/v1/incidents/{incident['incident_id']}/dispatches", json={"unit_ids": units})
            assert sent.status_code == 200, sent.text
            incident = sent.json()
    return alert_id, incident


def _verify(client: httpx.Client, alert_id: str, verdict: str) -> httpx.Response:
    return client.post(f"/api/v1/reviews/{alert_id}/verification", json={"verdict": verdict})


def _close(client: httpx.Client, incident_id: str, outcome: str) -> httpx.Response:
    return client.post(f"/api/v1/incidents/{incident_id}/close", json={"outcome": outcome})


def _orders(database: Database) -> list[DispatchOrder]:
    return [order for order in queued(database, "dispatch.order") if isinstance(order, DispatchOrder)]


def test_a_second_person_in_the_control_room_verifies_and_the_units_are_told_who(
    database: Database, desk: Desk, street: None, probe_jpeg: bytes
) -> None:
    alert_id, incident = _pursued(database, desk, probe_jpeg, "A-1")
    incident_id = incident["incident_id"]
    assert incident["identity"]["state"] == "awaiting_second"
    [order] = _orders(database)  # the order says who confirmed it, and that nobody verified it yet
    assert (order.revision, order.evidence.confirmed_by, order.evidence.verified_by) == (1, "OLIVIA", None)

    with desk.operator() as olivia, desk.supervisor() as sam:
        own = _verify(olivia, alert_id, "same_person")
        arrest_too_soon = _close(olivia, incident_id, "arrest")
        unsure = _verify(sam, alert_id, "cannot_tell")
        verified = _verify(sam, alert_id, "same_person")
        again = _verify(olivia, alert_id, "not_the_person")
        detail = sam.get(f"/api/v1/reviews/{alert_id}").json()
        feed = sam.get("/api/v1/feed").json()["entries"]
        arrested = _close(olivia, incident_id, "arrest")

    assert own.status_code == 409
    assert "someone other than OLIVIA, who confirmed it" in own.json()["error"]["message"]
    assert arrest_too_soon.status_code == 409
    assert arrest_too_soon.json()["error"]["code"] == "identity_not_verified"
    assert (
        "the officer on the handset, or a second person in the control room"
        in (arrest_too_soon.json()["error"]["message"])
    )
    assert unsure.status_code == 201, unsure.text
    assert (unsure.json()["verdict"], unsure.json()["identity"]["state"]) == ("cannot_tell", "awaiting_second")
    assert verified.status_code == 201, verified.text
    body = verified.json()
    assert (body["verifier_kind"], body["verifier_name"], body["incident_id"]) == ("control_room", "SAM", incident_id)
    assert {k: body["identity"][k] for k in ("state", "confirmed_by", "verified_by")} == {
        "state": "verified",
        "confirmed_by": "OLIVIA",
        "verified_by": "SAM",
    }
    assert again.status_code == 409  # a settled identity is final
    assert "already verified by SAM (same person)" in again.json()["error"]["message"]

    assert detail["identity"]["state"] == "verified"
    assert [v["verdict"] for v in detail["verifications"]] == ["cannot_tell", "same_person"]
    verified_entries = [e["payload"] for e in feed if e["kind"] == "alert.verified"]
    assert [(p["verdict"], p["incident_id"], p["identity"]["state"]) for p in verified_entries] == [
        ("cannot_tell", incident_id, "awaiting_second"),
        ("same_person", incident_id, "verified"),
    ]
    # A-1 is sent its order again, one revision on, naming the second person.
    first, resent = _orders(database)
    assert (resent.dispatch_id, resent.revision) == (first.dispatch_id, 2)
    assert (resent.evidence.confirmed_by, resent.evidence.verified_by) == ("OLIVIA", "SAM")
    assert arrested.status_code == 200, arrested.text
    assert (arrested.json()["outcome"], arrested.json()["identity"]["verified_by"]) == ("arrest", "SAM")

    with database.session() as session:
        trail = session.execute(
            select(AuditEntry.action, AuditEntry.details).where(
                AuditEntry.record_id == alert_id, AuditEntry.action == "alert.verified"
            )
        ).all()
    assert [json.loads(details)["verdict"] for _, details in trail] == ["cannot_tell", "same_person"]


def test_not_the_person_refutes_the_match_and_no_arrest_may_follow(
    database: Database, desk: Desk, street: None, probe_jpeg: bytes
) -> None:
    alert_id, incident = _pursued(database, desk, probe_jpeg, "A-1")
    with desk.operator() as olivia, desk.supervisor() as sam:
        refuted = _verify(sam, alert_id, "not_the_person")
        arrest = _close(olivia, incident["incident_id"], "arrest")
        wrong_person = _close(olivia, incident["incident_id"], "wrong_person")
        reopened = olivia.post("/api/v1/incidents", json={"alert_id": alert_id})
    assert refuted.status_code == 201, refuted.text
    assert (refuted.json()["identity"]["state"], refuted.json()["identity"]["verified_by"]) == ("refuted", "SAM")
    assert arrest.status_code == 409
    assert "SAM found it is not the person" in arrest.json()["error"]["message"]
    assert wrong_person.status_code == 200, wrong_person.text
    assert wrong_person.json()["identity"]["state"] == "refuted"
    assert [order.evidence.verified_by for order in _orders(database)] == [None]  # nothing was sent again
    # A false alert starts nothing again.
    assert reopened.status_code == 409
    assert "SAM found it is not the person" in reopened.json()["error"]["message"]


@pytest.mark.parametrize("decision", [None, "dismissed"])
def test_only_a_confirmed_match_can_be_verified(
    database: Database, desk: Desk, street: None, probe_jpeg: bytes, decision: str | None
) -> None:
    raised = alert(probe_jpeg, location=CAMERA)
    ingest_events(database, "cam-1", raised)
    with desk.operator() as olivia, desk.supervisor() as sam:
        if decision is not None:
            olivia.post(f"/api/v1/reviews/{raised.alert_id}/decision", json={"decision": decision, "reason": "no"})
        refused = _verify(sam, str(raised.alert_id), "same_person")
        detail = sam.get(f"/api/v1/reviews/{raised.alert_id}").json()
    assert refused.status_code == 409
    assert refused.json()["error"]["code"] == ("alert_unreviewed" if decision is None else "alert_dismissed")
    assert (detail["identity"], detail["verifications"]) == (None, [])


def _send(database: Database, device_id: str, event: AlertVerified) -> IngestResult:
    with database.session() as session:
        return ingest(
            session=session,
            raw=encode_event(event),
            transport=Transport.HTTP,
            authenticated_device_id=device_id,
            limits=IngestionLimits(),
            metrics=IngestionMetrics(),
        )


def test_the_officer_sent_verifies_on_the_handset_and_no_one_else_can(
    database: Database, street: None, probe_jpeg: bytes
) -> None:
    with database.session() as session:
        session.execute(update(Unit).where(Unit.unit_id == "A-1").values(call_sign="Alpha One"))
        session.commit()
    alert_id = _raise(database, probe_jpeg, decision="confirmed")
    incident = _open(database, alert_id)
    sent = _dispatch(database, incident, "A-1")
    dispatch_id = sent.dispatches[0].dispatch_id
    _delivered(database)

    def verdict(device_id: str, unit_id: str, verdict: IdentityVerdict) -> AlertVerified:
        return AlertVerified(
            device_id=device_id, alert_id=alert_id, dispatch_id=dispatch_id, unit_id=unit_id, verdict=verdict
        )

    not_sent = _send(database, "radio-A-2", verdict("radio-A-2", "A-2", IdentityVerdict.NOT_THE_PERSON))
    posing = _send(database, "radio-A-2", verdict("radio-A-2", "A-1", IdentityVerdict.NOT_THE_PERSON))
    officer = verdict("radio-A-1", "A-1", IdentityVerdict.SAME_PERSON)
    accepted = _send(database, "radio-A-1", officer)
    late = _send(database, "radio-A-1", verdict("radio-A-1", "A-1", IdentityVerdict.NOT_THE_PERSON))

    assert (not_sent.outcome, not_sent.reason) == (Outcome.REJECTED, RejectReason.VERIFICATION_REFUSED)
    assert "was never sent order" in (not_sent.message or "")
    assert (posing.outcome, posing.reason) == (Outcome.REJECTED, RejectReason.UNIT_MISMATCH)
    assert accepted.outcome is Outcome.ACCEPTED, accepted.message
    assert (late.outcome, late.reason) == (Outcome.REJECTED, RejectReason.VERIFICATION_REFUSED)
    assert "already verified by Alpha One" in (late.message or "")
    with database.session() as session:
        [row] = session.scalars(select(AlertVerification)).all()
        identity = identity_of(session=session, alert_id=alert_id)
    assert (row.verifier_kind, row.verified_by, row.verifier_name, row.dispatch_id, row.event_id) == (
        VerifierKind.OFFICER,
        "A-1",
        "Alpha One",
        dispatch_id,
        officer.id,
    )
    assert identity is not None
    assert (identity.state, identity.verified_by) == (IdentityState.VERIFIED, "Alpha One")
    [message] = [m for m in _delivered(database) if m.topic.endswith("/dispatch.order")]
    resent = parse_event(message.payload)
    assert isinstance(resent, DispatchOrder)
    assert (resent.device_id, resent.revision, resent.evidence.verified_by) == ("radio-A-1", 2, "Alpha One")
    # The control room cannot override the officer's verification.
    with database.session() as session, pytest.raises(IdentityAlreadySettled, match="already verified by Alpha One"):
        verify(
            session=session,
            alert_id=alert_id,
            request=VerificationRequest(verdict=IdentityVerdict.NOT_THE_PERSON),
            actor=SECOND_SUPERVISOR,
            now=utc_now(),
        )


def test_an_officer_cannot_verify_an_alert_nobody_confirmed(
    database: Database, street: None, probe_jpeg: bytes
) -> None:
    alert_id = _raise(database, probe_jpeg, decision=None)
    event = AlertVerified(
        device_id="radio-A-1",
        alert_id=alert_id,
        dispatch_id=uuid.uuid4(),
        unit_id="A-1",
        verdict=IdentityVerdict.SAME_PERSON,
    )
    result = _send(database, "radio-A-1", event)
    assert (result.outcome, result.reason) == (Outcome.REJECTED, RejectReason.VERIFICATION_REFUSED)
    assert "has not been confirmed" in (result.message or "")
