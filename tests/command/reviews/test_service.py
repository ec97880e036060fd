"""The review: final decisions sent to the device, the dispatch gate, escalation, and what the reviewer sees."""

import uuid
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from tests.command.conftest import Register
from tests.command.events import alert, evidence
from tests.command.governance import (
    AUDITOR,
    OPERATOR,
    SECOND_SUPERVISOR,
    ingest_events,
    live_subject,
    make_keys,
    new_watchlist,
    review,
)
from tests.support.inbox import Inbox
from vigil.bus.memory import MemoryBus
from vigil.command.alerts.models import Alert
from vigil.command.database import Database
from vigil.command.downlink.models import DownlinkMessage
from vigil.command.downlink.service import deliver_pending, pending_count
from vigil.command.feed.service import read_entries
from vigil.command.reviews.errors import (
    AlertAlreadyReviewed,
    AlertDismissed,
    AlertNotConfirmed,
    AlertUnreviewed,
    ReasonRequired,
    ReviewerRoleMissing,
)
from vigil.command.reviews.schemas import ReviewRequest
from vigil.command.reviews.service import (
    ConfirmedAlert,
    confirmed_alert,
    decide,
    escalate_unreviewed,
    review_detail,
    review_enrolled_chip,
    review_queue,
)
from vigil.events import AlertReviewed, Location, ReviewDecision, parse_event, utc_now
from vigil.watchlist.operating_point import threshold_for_size

TRAFALGAR = {
    "type": "Feature",
    "geometry": {"type": "Point", "coordinates": [-0.1281, 51.5081]},
    "properties": {"radius_m": 500},
}


def start_dispatch(database: Database, alert_id: uuid.UUID) -> ConfirmedAlert:
    """What the dispatch part does first (issue 8): only a confirmed alert may start one."""
    with database.session() as session:
        return confirmed_alert(session=session, alert_id=alert_id)


@pytest.mark.parametrize(
    ("decision", "error"),
    [(None, AlertUnreviewed), ("dismissed", AlertDismissed), ("confirmed", None)],
)
def test_only_a_confirmed_alert_can_start_a_dispatch(
    database: Database,
    register: Register,
    probe_jpeg: bytes,
    decision: str | None,
    error: type[AlertNotConfirmed] | None,
) -> None:
    register()
    raised = alert(probe_jpeg)
    ingest_events(database, "cam-1", raised)
    if decision is not None:
        review(database, raised.alert_id, decision, at=utc_now(), reason="not the same person")
    if error is not None:
        with pytest.raises(error, match=str(raised.alert_id)):
            start_dispatch(database, raised.alert_id)
        return
    confirmed = start_dispatch(database, raised.alert_id)
    assert (confirmed.alert_id, confirmed.reviewed_by, confirmed.subject_id) == (raised.alert_id, "u-olivia", "obama")


def test_a_decision_is_final_on_the_feed_and_sent_to_the_device(
    database: Database, register: Register, probe_jpeg: bytes
) -> None:
    register()
    raised = alert(probe_jpeg)
    ingest_events(database, "cam-1", raised)
    now = utc_now()
    review(database, raised.alert_id, "dismissed", at=now, reason="  different ear shape ")
    with database.session() as session, pytest.raises(AlertAlreadyReviewed, match="already dismissed by Olivia"):
        decide(
            session=session,
            alert_id=raised.alert_id,
            request=ReviewRequest(decision=ReviewDecision.CONFIRMED),
            actor=SECOND_SUPERVISOR,
            now=now,
        )
    bus = MemoryBus()
    inbox = Inbox()
    bus.subscribe("vigil/v1/devices/+/down/#", inbox)
    try:
        with database.session() as session:
            assert pending_count(session=session) == 1
        assert deliver_pending(database=database, bus=bus) == 1
        assert deliver_pending(database=database, bus=bus) == 0
        received = inbox.wait_for_messages(1)  # on the subscriber's thread: stopping the bus drops what is queued
        with database.session() as session:
            stored = session.get_one(Alert, raised.alert_id)
            entries = read_entries(session=session, after=0, upto=10**9, limit=100)
            published = session.scalar(select(DownlinkMessage.published_at))
    finally:
        bus.stop()
    assert (stored.review_decision, stored.reviewed_by, stored.reviewer_name, stored.review_reason) == (
        ReviewDecision.DISMISSED,
        "u-olivia",
        "Olivia Operator",
        "different ear shape",
    )
    assert published is not None
    (message,) = received
    sent = parse_event(message.payload)
    assert message.topic == "vigil/v1/devices/cam-1/down/alert.reviewed"
    assert isinstance(sent, AlertReviewed)
    assert (sent.alert_id, sent.decision, sent.reviewer, sent.reason) == (
        raised.alert_id,
        ReviewDecision.DISMISSED,
        "Olivia Operator",
        "different ear shape",
    )
    assert [e.kind for e in entries if e.kind != "unit.changed"] == ["alert.raised", "alert.reviewed"]


@pytest.mark.parametrize(
    ("request_", "actor", "error"),
    [
        (ReviewRequest(decision=ReviewDecision.DISMISSED, reason="   "), OPERATOR, ReasonRequired),
        (ReviewRequest(decision=ReviewDecision.CONFIRMED), AUDITOR, ReviewerRoleMissing),
    ],
)
def test_a_dismissal_needs_a_reason_and_a_reviewer_a_reviewing_role(
    database: Database,
    register: Register,
    probe_jpeg: bytes,
    request_: ReviewRequest,
    actor: object,
    error: type[Exception],
) -> None:
    register()
    raised = alert(probe_jpeg)
    ingest_events(database, "cam-1", raised)
    with database.session() as session, pytest.raises(error):
        decide(session=session, alert_id=raised.alert_id, request=request_, actor=actor, now=utc_now())  # type: ignore[arg-type]
    with database.session() as session:
        assert session.get_one(Alert, raised.alert_id).review_decision is None


def test_an_alert_unreviewed_past_the_escalation_time_is_escalated_once(
    database: Database, register: Register, probe_jpeg: bytes
) -> None:
    register()
    now = utc_now()
    old = alert(probe_jpeg, at=now - timedelta(seconds=120))
    young = alert(probe_jpeg, at=now - timedelta(seconds=119))
    decided = alert(probe_jpeg, at=now - timedelta(seconds=300))
    ingest_events(database, "cam-1", old, young, decided)
    review(database, decided.alert_id, "confirmed", at=now)
    with database.session() as session:
        first = escalate_unreviewed(session=session, escalation_s=120, now=now)
        session.commit()
        again = escalate_unreviewed(session=session, escalation_s=120, now=now + timedelta(seconds=5))
        session.commit()
        queue = review_queue(session=session, now=now, limit=10)
        kinds = [e.kind for e in read_entries(session=session, after=0, upto=10**9, limit=100)]
    assert [e.alert_id for e in first] == [old.alert_id]
    assert first[0].pending_s == 120
    assert [e.alert_id for e in again] == [young.alert_id]
    assert kinds.count("alert.escalated") == 2
    assert [(a.alert_id, a.escalated) for a in queue.alerts] == [(old.alert_id, True), (young.alert_id, True)]
    assert (queue.pending, queue.alerts[0].age_s) == (2, 120)


def test_the_reviewer_sees_the_subjects_record_and_its_enrolled_chip(
    database: Database, tmp_path: Path, register: Register, probe_jpeg: bytes
) -> None:
    keys = make_keys(tmp_path)
    now = utc_now()
    register("cam-1", "A-12")
    watchlist_id = new_watchlist(database, now, area=TRAFALGAR)
    version = live_subject(database, keys, watchlist_id, "obama", probe_jpeg, now=now)
    backing = evidence()
    inside = alert(probe_jpeg, watchlist_version=version, frames=2, evidence=backing)
    outside = alert(probe_jpeg, watchlist_version=version, location=Location(lat=51.52, lon=-0.1281))
    unknown = alert(probe_jpeg, watchlist_version=version + 40)
    ingest_events(database, "cam-1", inside, outside, unknown)
    with database.session() as session:
        detail = review_detail(session=session, alert_id=inside.alert_id, actor=OPERATOR, now=now)
        away = review_detail(session=session, alert_id=outside.alert_id, actor=OPERATOR, now=now)
        stranger = review_detail(session=session, alert_id=unknown.alert_id, actor=OPERATOR, now=now)
        chip = review_enrolled_chip(session=session, alert_id=inside.alert_id, actor=OPERATOR, now=now)
    assert detail.subject is not None
    assert (detail.subject.legal_basis, detail.subject.category, detail.subject.watchlist_name) == (
        "Warrant 2024/117, Westminster Magistrates' Court",
        "wanted_on_warrant",
        "Op Falcon",
    )
    assert (detail.officer, detail.margin, detail.inside_deployment, away.inside_deployment) == (
        "A-12",
        pytest.approx(0.09),
        True,
        False,
    )
    # The faces that backed the match, as the device sent them; the threshold its watchlist version carried.
    assert (detail.evidence, away.evidence) == (backing, None)
    assert detail.subject.watchlist_threshold == pytest.approx(threshold_for_size(1))
    assert detail.probe_url == f"/api/v1/reviews/{inside.alert_id}/probe.jpg"
    assert detail.enrolled_url == f"/api/v1/reviews/{inside.alert_id}/enrolled.jpg"
    assert (stranger.subject, stranger.enrolled_url, stranger.inside_deployment) == (None, None, None)
    assert chip == probe_jpeg  # the test's template chip is the probe crop


def test_every_look_at_the_evidence_and_every_decision_is_audited(
    database: Database, register: Register, probe_jpeg: bytes
) -> None:
    from vigil.command.audit.models import AuditEntry
    from vigil.command.reviews.service import review_probe

    register()
    raised = alert(probe_jpeg)
    ingest_events(database, "cam-1", raised)
    now = utc_now()
    with database.session() as session:
        review_detail(session=session, alert_id=raised.alert_id, actor=OPERATOR, now=now)
        assert review_probe(session=session, alert_id=raised.alert_id, actor=OPERATOR, now=now) == probe_jpeg
        session.commit()
    review(database, raised.alert_id, "dismissed", at=now, reason="different person")
    with database.session() as session:
        entries = session.scalars(
            select(AuditEntry).where(AuditEntry.record_id == str(raised.alert_id)).order_by(AuditEntry.seq)
        ).all()
    assert [(e.actor, e.action) for e in entries] == [
        ("u-olivia", "alert.review_viewed"),
        ("u-olivia", "alert.probe_viewed"),
        ("u-olivia", "alert.dismissed"),
    ]
    assert '"with_reason":true' in entries[-1].details
    assert "different person" not in entries[-1].details
