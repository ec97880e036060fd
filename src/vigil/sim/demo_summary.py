"""The demo's summary: what the cameras saw, what the command centre stored and decided, and how fast.

Counts come from where they are true: faces and frames from the devices' own reports; alerts, reviews,
incidents, orders and officers' answers from the command centre's database; which alerts were right from the
street cameras' ground truth. Two latencies are measured, not estimated:

* face to screen: from the first frame with the subject's face in view (the camera's ground truth, real time) to
  the alert's arrival on the operator's live feed (a real WebSocket, see :mod:`vigil.sim.operator_feed`);
* confirmation to first officer on scene: from the operator's confirmation (stored with the review) to the first
  ``on_scene`` answer to one of the incident's orders, in simulated seconds (the officers move on the simulated
  clock).

The deployment the cameras searched under, and each confirmed match's second verification (by the officer on
scene or a second person in the control room), come from the command centre's database too.

"Nothing lost" is checked too: every alert a device raised (and showed its officer) must be stored by the server.
"""

import statistics
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import datetime

from pydantic import BaseModel, Field
from sqlalchemy import select

from vigil.command.alerts.models import Alert
from vigil.command.database import Database
from vigil.command.deployments.models import Deployment
from vigil.command.dispatches.models import DispatchStatusRecord
from vigil.command.incidents.models import DispatchOrderRecord, Incident, IncidentStatus
from vigil.command.verifications.models import AlertVerification, VerifierKind
from vigil.edge.agent import EdgeRunReport
from vigil.events import AlertEvidence, DispatchState, IdentityVerdict, ReviewDecision
from vigil.sim.autopilot import AutopilotCounts
from vigil.sim.ground_truth import AlertSeen, in_view_when_seen, match_alerts
from vigil.sim.handset_log import HandsetLog
from vigil.sim.operator_feed import AlertOnScreen
from vigil.sim.street_camera import Appearance


class Latency(BaseModel):
    """A latency measured over several events, seconds."""

    count: int = Field(description="Events measured.")
    median_s: float | None = Field(description="Median, seconds; None when nothing was measured.")
    min_s: float | None
    max_s: float | None

    @classmethod
    def of(cls, values: Sequence[float]) -> "Latency":
        """Summarise ``values`` (seconds)."""
        if not values:
            return cls(count=0, median_s=None, min_s=None, max_s=None)
        return cls(count=len(values), median_s=statistics.median(values), min_s=min(values), max_s=max(values))


class AlertBacking(BaseModel):
    """What one stored alert rested on: how near its face matched, and which faces of the track backed it."""

    subject_id: str
    distance: float
    threshold: float
    faces_searched: int | None = Field(description="Faces of the person's track searched; null from older devices.")
    matched_qualities: list[float] = Field(description="Quality score of each matching face, nearest match first.")


class DemoSummary(BaseModel):
    """What ``vigil demo`` prints at the end (``--json``: this document)."""

    page_url: str = Field(description="The control-room page.")
    on_duty_s: float = Field(description="Real seconds the cameras ran.")
    speed: float = Field(description="Simulated seconds per real second.")
    officers_on_foot: int
    officers_in_cars: int
    cameras: int
    watchlist: list[str] = Field(description="The watchlist's subjects.")
    public: list[str] = Field(description="The members of the public who walked past (never enrolled).")
    walks_past: dict[str, int] = Field(description="Times each person walked past a camera.")
    frames_processed: int
    faces_seen: int = Field(description="Face detections on the body cameras, all frames together.")
    alerts_raised_on_devices: int = Field(description="Alerts the body cameras raised and showed their officers.")
    alerts: int = Field(description="Alerts stored by the command centre.")
    alerts_by_subject: dict[str, int]
    true_alerts: int = Field(
        description="Stored alerts naming the person the camera showed when the device saw the face (ground truth)."
    )
    false_alerts: int = Field(description="Stored alerts naming someone the camera was not showing.")
    alerts_lost: list[uuid.UUID] = Field(description="Alerts a device raised that the server never stored.")
    outbox_backlog: int = Field(description="Events still in the devices' outboxes at the end.")
    deployment: str = Field(description="The authorised deployment the cameras searched under, and its authority.")
    confirmed: int
    dismissed: int
    unreviewed: int
    verified_by_officer: int = Field(
        description="Confirmed alerts the officer on scene verified as the same person (the second verification)."
    )
    verified_in_control_room: int = Field(
        description="Confirmed alerts a second person in the control room verified as the same person."
    )
    refuted: int = Field(description="Confirmed alerts a second person found were not the person (false alerts).")
    incidents: int
    incidents_closed: int
    dispatches: int = Field(description="Dispatch orders sent to units.")
    acknowledged: int = Field(description="Orders the officer accepted or declined from their device.")
    declined: int
    on_scene: int = Field(description="Orders whose officer reported on scene.")
    orders_not_on_handset: int = Field(description="Orders the server sent that never reached the unit's device.")
    backing: list[AlertBacking] = Field(description="Each stored alert's match and the faces behind it, in order.")
    face_to_feed: Latency = Field(
        description="From the first frame with the subject in view to the alert on the operator's feed (real time)."
    )
    face_to_handset: Latency = Field(
        description="From the first frame with the subject in view to the alert card on the officer's handset."
    )
    confirmation_to_on_scene_sim: Latency = Field(
        description="From the operator's confirmation to the first officer on scene, simulated seconds."
    )
    autopilot: AutopilotCounts | None = Field(description="What the scripted operator did; None without it.")


def summarise(
    *,
    page_url: str,
    on_duty_s: float,
    speed: float,
    officers: tuple[int, int, int],
    watchlist: Sequence[str],
    public: Sequence[str],
    database: Database,
    appearances: Mapping[str, Sequence[Appearance]],
    reports: Mapping[str, EdgeRunReport],
    handsets: Iterable[HandsetLog],
    on_screen: Sequence[AlertOnScreen],
    sim_time_of: Callable[[datetime], float],
    autopilot: AutopilotCounts | None,
) -> DemoSummary:
    """Build the summary (see the module's description).

    Args:
        page_url: the control-room page.
        on_duty_s: real seconds the cameras ran.
        speed: simulated seconds per real second.
        officers: officers on foot, in cars, and body cameras.
        watchlist: the subjects.
        public: the members of the public.
        database: the command centre's database.
        appearances: each camera's walks (ground truth), by device id.
        reports: each device's counts, by device id.
        handsets: what each device showed its officer.
        on_screen: the alerts as they reached the operator's feed.
        sim_time_of: a real moment on the simulated clock (simulated seconds since the epoch).
        autopilot: what the scripted operator did, or None.

    Returns:
        The summary.

    Raises:
        DatabaseUnavailable: the database cannot be read.
    """
    with database.session() as session:
        alerts = list(session.scalars(select(Alert)))
        incidents = list(session.scalars(select(Incident)))
        orders = list(session.scalars(select(DispatchOrderRecord)))
        answers = list(session.scalars(select(DispatchStatusRecord)))
        verifications = list(session.scalars(select(AlertVerification)))
        deployments = list(session.scalars(select(Deployment).order_by(Deployment.requested_at)))
        session.expunge_all()
    handsets = list(handsets)
    verdicts = match_alerts(appearances, [AlertSeen(a.device_id, a.subject_id, a.received_at) for a in alerts])
    wrong = [a for a, v in zip(alerts, verdicts, strict=True) if not in_view_when_seen(v, a.first_seen_at)]
    shown = [card for log in handsets for card in log.alerts()]
    stored = {a.alert_id for a in alerts}
    answered: dict[uuid.UUID, set[DispatchState]] = {}
    for answer in answers:
        answered.setdefault(answer.dispatch_id, set()).add(answer.status)
    reached = set().union(*(log.orders() for log in handsets))
    walks: dict[str, int] = {}
    for walks_past_camera in appearances.values():
        for walk in walks_past_camera:
            if walk.first_seen_at is not None:
                walks[walk.person_id] = walks.get(walk.person_id, 0) + 1
    by_subject: dict[str, int] = {}
    for alert in alerts:
        by_subject[alert.subject_id] = by_subject.get(alert.subject_id, 0) + 1
    return DemoSummary(
        page_url=page_url,
        on_duty_s=round(on_duty_s, 1),
        speed=speed,
        officers_on_foot=officers[0],
        officers_in_cars=officers[1],
        cameras=officers[2],
        watchlist=list(watchlist),
        public=list(public),
        walks_past=walks,
        frames_processed=sum(r.frames_processed for r in reports.values()),
        faces_seen=sum(r.faces_seen for r in reports.values()),
        alerts_raised_on_devices=len(shown),
        alerts=len(alerts),
        alerts_by_subject=by_subject,
        true_alerts=len(alerts) - len(wrong),
        false_alerts=len(wrong),
        alerts_lost=sorted(card.alert_id for card in shown if card.alert_id not in stored),
        outbox_backlog=sum(r.outbox_backlog for r in reports.values()),
        confirmed=sum(a.review_decision is ReviewDecision.CONFIRMED for a in alerts),
        dismissed=sum(a.review_decision is ReviewDecision.DISMISSED for a in alerts),
        unreviewed=sum(a.review_decision is None for a in alerts),
        deployment="; ".join(f"{d.name} ({d.authority}, {d.authority_reference})" for d in deployments) or "none",
        verified_by_officer=_settled(verifications, IdentityVerdict.SAME_PERSON, VerifierKind.OFFICER),
        verified_in_control_room=_settled(verifications, IdentityVerdict.SAME_PERSON, VerifierKind.CONTROL_ROOM),
        refuted=_settled(verifications, IdentityVerdict.NOT_THE_PERSON, None),
        incidents=len(incidents),
        incidents_closed=sum(i.status is IncidentStatus.CLOSED for i in incidents),
        dispatches=len(orders),
        acknowledged=sum(
            bool(answered.get(o.dispatch_id, set()) & {DispatchState.ACCEPTED, DispatchState.DECLINED}) for o in orders
        ),
        declined=sum(DispatchState.DECLINED in answered.get(o.dispatch_id, set()) for o in orders),
        on_scene=sum(DispatchState.ON_SCENE in answered.get(o.dispatch_id, set()) for o in orders),
        orders_not_on_handset=sum(o.dispatch_id not in reached for o in orders),
        backing=[_backing(alert) for alert in sorted(alerts, key=lambda a: a.raised_at)],
        face_to_feed=Latency.of(
            _from_in_view(appearances, [(s.alert.device_id, s.alert.subject_id, s.arrived_at) for s in on_screen])
        ),
        face_to_handset=Latency.of(
            _from_in_view(
                appearances,
                [(log.device_id, card.subject_id, card.shown_at) for log in handsets for card in log.alerts()],
            )
        ),
        confirmation_to_on_scene_sim=Latency.of(
            _confirmation_to_on_scene(alerts, incidents, orders, answers, sim_time_of)
        ),
        autopilot=autopilot,
    )


def _settled(verifications: Sequence[AlertVerification], verdict: IdentityVerdict, kind: VerifierKind | None) -> int:
    """Alerts whose second verification gave ``verdict``, by ``kind`` of verifier (None: either)."""
    return len({v.alert_id for v in verifications if v.verdict is verdict and kind in (None, v.verifier_kind)})


def _backing(alert: Alert) -> AlertBacking:
    evidence = AlertEvidence.model_validate(alert.evidence) if alert.evidence is not None else None
    return AlertBacking(
        subject_id=alert.subject_id,
        distance=alert.distance,
        threshold=alert.threshold,
        faces_searched=evidence.faces_searched if evidence is not None else None,
        matched_qualities=evidence.matched_qualities if evidence is not None else [alert.quality_score],
    )


def _from_in_view(
    appearances: Mapping[str, Sequence[Appearance]], seen: Sequence[tuple[str, str, datetime]]
) -> list[float]:
    verdicts = match_alerts(appearances, [AlertSeen(device, subject, at) for device, subject, at in seen])
    return [v.from_in_view_s for v in verdicts if v.from_in_view_s is not None]


def _confirmation_to_on_scene(
    alerts: Sequence[Alert],
    incidents: Sequence[Incident],
    orders: Sequence[DispatchOrderRecord],
    answers: Sequence[DispatchStatusRecord],
    sim_time_of: Callable[[datetime], float],
) -> list[float]:
    confirmed_at = {a.alert_id: a.reviewed_at for a in alerts if a.review_decision is ReviewDecision.CONFIRMED}
    incident_of = {o.dispatch_id: o.incident_id for o in orders}
    first_on_scene: dict[uuid.UUID, datetime] = {}
    for answer in answers:
        incident_id = incident_of.get(answer.dispatch_id)
        if answer.status is DispatchState.ON_SCENE and incident_id is not None:
            at = answer.at
            first_on_scene[incident_id] = min(at, first_on_scene.get(incident_id, at))
    values = []
    for incident in incidents:
        confirmed = confirmed_at.get(incident.alert_id) if incident.alert_id is not None else None
        on_scene = first_on_scene.get(incident.incident_id)
        if confirmed is not None and on_scene is not None:
            values.append(sim_time_of(on_scene) - sim_time_of(confirmed))
    return values
