"""Counting one deployment's report from the database.

**Alerts** are those filed under the deployment (``alerts.deployment_id``: ingestion files each alert under the
deployment that covers it), with their decisions as they stand. Each is counted once at each step:

* the *first verification* is the operator's review: confirmed, dismissed (a false alert), or pending;
* the *second verification* applies to confirmed alerts: *not the person* when any verifier said so (a false
  alert, whatever another said), else *same person* when any verifier said so, else *cannot tell only* when every
  look said that, else *awaiting*;
* the *outcomes* are those of the incidents opened on its alerts (or whose target moved to one), each incident
  once; a confirmed alert whose incident found the wrong person is a false alert.

The false alerts are the union of the three: an alert found false at two steps counts once.

**Faces processed** are those reported by devices under a version of the deployment's watchlists, in its window
(from its start to its end, or to when it was stopped): the increases in the devices' ``faces_processed`` counts
(:mod:`vigil.command.report.tallies`).

A refused or lapsed deployment's alerts are deleted (EU AI Act Art 5(3)): its report gives its record, when the
deletion ran and how many alerts it removed, and no figures.
"""

import uuid
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Select, func, or_, select
from sqlalchemy.orm import Session

from vigil.command.alerts.models import Alert
from vigil.command.deployments.errors import UnknownDeployment
from vigil.command.deployments.models import Deployment, DeploymentState, DeploymentWatchlist
from vigil.command.devices.models import Device, DeviceStatusRecord
from vigil.command.incidents.models import Incident, IncidentOutcome, IncidentStatus
from vigil.command.report.deployment_schemas import (
    DeletedData,
    DeploymentFigures,
    DeploymentReport,
    DeviceFaces,
    FirstVerification,
    Outcomes,
    ReportedAuthorisation,
    SecondVerification,
    TrialMatches,
    VerifierLooks,
    VersionBasis,
    VersionInForce,
    WatchlistRef,
)
from vigil.command.report.place import describe_area
from vigil.command.report.tallies import face_increments, wrong_person_alert_ids
from vigil.command.verifications.models import AlertVerification, VerifierKind
from vigil.command.watchlists.models import Watchlist, WatchlistVersion
from vigil.events import DeploymentMode, IdentityVerdict, ReviewDecision

DELETED_STATES = frozenset({DeploymentState.REFUSED, DeploymentState.LAPSED})
"""States whose alerts are deleted: their reports show no figures."""


def build_deployment_report(*, session: Session, deployment_id: uuid.UUID, now: datetime) -> DeploymentReport:
    """Count a deployment's report.

    Args:
        session: where to read it.
        deployment_id: the deployment.
        now: when the report is made (UTC).

    Returns:
        Its authorisation and figures; for a refused or lapsed one, its authorisation and what was deleted.

    Raises:
        UnknownDeployment: no deployment has this id.
    """
    deployment = session.get(Deployment, deployment_id)
    if deployment is None:
        raise UnknownDeployment(str(deployment_id))
    watchlists = [
        WatchlistRef(watchlist_id=watchlist_id, name=name)
        for watchlist_id, name in session.execute(
            select(Watchlist.watchlist_id, Watchlist.name)
            .join(DeploymentWatchlist, DeploymentWatchlist.watchlist_id == Watchlist.watchlist_id)
            .where(DeploymentWatchlist.deployment_id == deployment_id)
            .order_by(Watchlist.name, Watchlist.watchlist_id)
        )
    ]
    counted_to = deployment.ends_at
    if deployment.ended_at is not None and deployment.ended_at < counted_to:
        counted_to = max(deployment.ended_at, deployment.starts_at)
    silent = deployment.mode is DeploymentMode.SILENT
    report = DeploymentReport(
        generated_at=now,
        deployment=_authorisation(deployment, watchlists),
        silent_trial=silent,
        counted_from=deployment.starts_at,
        counted_to=counted_to,
        figures=None,
        trial=None,
        versions=[],
        devices=[],
        deleted=None,
        notes=[],
    )
    if deployment.state in DELETED_STATES:
        deleted = DeletedData(deleted_at=deployment.data_deleted_at, alerts_deleted=deployment.alerts_deleted)
        return report.model_copy(update={"deleted": deleted, "notes": [_deleted_note(deployment.state, deleted)]})
    versions = select(WatchlistVersion.version).where(
        WatchlistVersion.watchlist_id.in_(w.watchlist_id for w in watchlists)
    )
    devices = _device_faces(session, versions, deployment.starts_at, counted_to)
    tally = _count_alerts(session, deployment_id)
    figures = tally.figures(faces=sum(d.faces_processed for d in devices))
    return report.model_copy(
        update={
            "figures": figures,
            "trial": tally.trial(figures) if silent else None,
            "versions": _versions(session, deployment, watchlists, counted_to),
            "devices": devices,
            "notes": _notes(deployment, counted_to, silent),
        }
    )


@dataclass(frozen=True)
class _AlertTally:
    """The deployment's alerts, as sets of ids at each step, and its incidents' outcomes."""

    decisions: dict[uuid.UUID, ReviewDecision | None]
    verdicts: dict[uuid.UUID, set[IdentityVerdict]]
    looks: dict[VerifierKind, Counter[IdentityVerdict]]
    wrong_person: set[uuid.UUID]
    acted_on: set[uuid.UUID]
    outcomes: Counter[str]

    def of(self, decision: ReviewDecision | None) -> set[uuid.UUID]:
        return {alert_id for alert_id, made in self.decisions.items() if made is decision}

    def found_false_later(self) -> set[uuid.UUID]:
        """Confirmed alerts a later step found false: not the person, or the wrong person found."""
        refuted = {a for a, verdicts in self.verdicts.items() if IdentityVerdict.NOT_THE_PERSON in verdicts}
        return (refuted | self.wrong_person) & self.of(ReviewDecision.CONFIRMED)

    def figures(self, *, faces: int) -> DeploymentFigures:
        confirmed, dismissed = self.of(ReviewDecision.CONFIRMED), self.of(ReviewDecision.DISMISSED)
        verdicts = {alert_id: self.verdicts.get(alert_id, set()) for alert_id in confirmed}
        not_the_person = {a for a, v in verdicts.items() if IdentityVerdict.NOT_THE_PERSON in v}
        same_person = {a for a, v in verdicts.items() if IdentityVerdict.SAME_PERSON in v} - not_the_person
        false_alerts = len(dismissed | self.found_false_later())
        alerts = len(self.decisions)
        return DeploymentFigures(
            faces_processed=faces,
            alerts=alerts,
            first_verification=FirstVerification(
                confirmed=len(confirmed), dismissed=len(dismissed), pending=len(self.of(None))
            ),
            second_verification=SecondVerification(
                same_person=len(same_person),
                not_the_person=len(not_the_person),
                cannot_tell_only=sum(1 for v in verdicts.values() if v == {IdentityVerdict.CANNOT_TELL}),
                awaiting=sum(1 for v in verdicts.values() if not v),
                by_verifier=[
                    VerifierLooks(
                        verifier_kind=kind,
                        same_person=self.looks[kind][IdentityVerdict.SAME_PERSON],
                        not_the_person=self.looks[kind][IdentityVerdict.NOT_THE_PERSON],
                        cannot_tell=self.looks[kind][IdentityVerdict.CANNOT_TELL],
                    )
                    for kind in VerifierKind
                ],
            ),
            outcomes=Outcomes(
                arrest=self.outcomes[IncidentOutcome.ARREST],
                not_found=self.outcomes[IncidentOutcome.NOT_FOUND],
                wrong_person=self.outcomes[IncidentOutcome.WRONG_PERSON],
                other=self.outcomes[IncidentOutcome.OTHER],
                open=self.outcomes[IncidentStatus.OPEN],
            ),
            alerts_acted_on=len(self.acted_on),
            false_alerts=false_alerts,
            false_alerts_per_1000_faces=1000 * false_alerts / faces if faces else None,
            faces_per_false_alert=faces / false_alerts if false_alerts else None,
            false_alerts_per_alert=false_alerts / alerts if alerts else None,
        )

    def trial(self, figures: DeploymentFigures) -> TrialMatches:
        return TrialMatches(
            true_matches=len(self.of(ReviewDecision.CONFIRMED) - self.found_false_later()),
            false_matches=figures.false_alerts,
            unreviewed=figures.first_verification.pending,
            false_match_rate=figures.false_alerts_per_alert,
            faces_per_false_match=figures.faces_per_false_alert,
        )


def _count_alerts(session: Session, deployment_id: uuid.UUID) -> _AlertTally:
    ours = select(Alert.alert_id).where(Alert.deployment_id == deployment_id)
    decisions = dict(
        session.execute(select(Alert.alert_id, Alert.review_decision).where(Alert.deployment_id == deployment_id)).all()
    )
    verdicts: dict[uuid.UUID, set[IdentityVerdict]] = defaultdict(set)
    looks: dict[VerifierKind, Counter[IdentityVerdict]] = defaultdict(Counter)
    for alert_id, kind, verdict in session.execute(
        select(AlertVerification.alert_id, AlertVerification.verifier_kind, AlertVerification.verdict)
        .join(Alert, Alert.alert_id == AlertVerification.alert_id)
        .where(Alert.deployment_id == deployment_id, Alert.review_decision == ReviewDecision.CONFIRMED)
    ):
        verdicts[alert_id].add(verdict)
        looks[kind][verdict] += 1
    wrong_person = set(
        session.scalars(
            ours.where(Alert.review_decision == ReviewDecision.CONFIRMED, Alert.alert_id.in_(wrong_person_alert_ids()))
        )
    )
    acted_on: set[uuid.UUID] = set()
    outcomes: Counter[str] = Counter()
    for opened_on, target_alert_id, status, outcome in session.execute(
        select(Incident.alert_id, Incident.target_alert_id, Incident.status, Incident.outcome).where(
            or_(Incident.alert_id.in_(ours), Incident.target_alert_id.in_(ours))
        )
    ):
        acted_on.update(a for a in (opened_on, target_alert_id) if a is not None and a in decisions)
        outcomes[IncidentStatus.OPEN if status is IncidentStatus.OPEN else outcome or IncidentOutcome.OTHER] += 1
    return _AlertTally(
        decisions=decisions,
        verdicts=verdicts,
        looks=looks,
        wrong_person=wrong_person,
        acted_on=acted_on,
        outcomes=outcomes,
    )


def _device_faces(
    session: Session, versions: Select[int], counted_from: datetime, counted_to: datetime
) -> list[DeviceFaces]:
    """Each device's faces under the versions in the window; devices that reported none under them are left out."""
    devices = session.scalars(
        select(DeviceStatusRecord.device_id)
        .where(
            DeviceStatusRecord.at >= counted_from,
            DeviceStatusRecord.at < counted_to,
            DeviceStatusRecord.watchlist_version.in_(versions),
        )
        .distinct()
    ).all()
    if not devices:
        return []
    ours = set(session.scalars(versions))
    faces: Counter[str] = Counter()
    for increment in face_increments(session=session, period_from=counted_from, period_to=counted_to, devices=devices):
        if increment.watchlist_version in ours:
            faces[increment.device_id] += increment.faces
    units = dict(session.execute(select(Device.device_id, Device.unit_id).where(Device.device_id.in_(devices))).all())
    return [
        DeviceFaces(device_id=device_id, unit_id=units.get(device_id), faces_processed=faces[device_id])
        for device_id in sorted(faces)
    ]


def _versions(
    session: Session, deployment: Deployment, watchlists: Sequence[WatchlistRef], counted_to: datetime
) -> list[VersionInForce]:
    """The versions its alerts matched; without alerts, each watchlist's version in force when the window opened."""
    matched = dict(
        session.execute(
            select(Alert.watchlist_version, func.count())
            .where(Alert.deployment_id == deployment.deployment_id)
            .group_by(Alert.watchlist_version)
        ).all()
    )
    if matched:
        return _version_rows(session, matched, VersionBasis.MATCHED)
    rows: list[VersionInForce] = []
    for watchlist in watchlists:
        of_watchlist = select(WatchlistVersion.version).where(WatchlistVersion.watchlist_id == watchlist.watchlist_id)
        at_start = session.scalar(
            of_watchlist.where(WatchlistVersion.created_at <= deployment.starts_at)
            .order_by(WatchlistVersion.created_at.desc(), WatchlistVersion.version.desc())
            .limit(1)
        )
        if at_start is not None:
            rows += _version_rows(session, {at_start: 0}, VersionBasis.IN_FORCE_AT_START)
            continue
        first = session.scalar(
            of_watchlist.where(WatchlistVersion.created_at < counted_to)
            .order_by(WatchlistVersion.created_at, WatchlistVersion.version)
            .limit(1)
        )
        if first is not None:
            rows += _version_rows(session, {first: 0}, VersionBasis.FIRST_IN_WINDOW)
    return rows


def _version_rows(session: Session, alerts: dict[int, int], basis: VersionBasis) -> list[VersionInForce]:
    known = {
        version.version: (version, name)
        for version, name in session.execute(
            select(WatchlistVersion, Watchlist.name)
            .join(Watchlist, Watchlist.watchlist_id == WatchlistVersion.watchlist_id)
            .where(WatchlistVersion.version.in_(alerts))
        )
    }
    rows = []
    for number in sorted(alerts):
        found = known.get(number)
        rows.append(
            VersionInForce(
                version=number,
                watchlist_id=found[0].watchlist_id if found else None,
                watchlist_name=found[1] if found else None,
                threshold=found[0].threshold if found else None,
                subjects=len(found[0].subject_ids) if found else None,
                alerts=alerts[number],
                basis=basis,
            )
        )
    return rows


def _authorisation(deployment: Deployment, watchlists: list[WatchlistRef]) -> ReportedAuthorisation:
    return ReportedAuthorisation(
        deployment_id=deployment.deployment_id,
        name=deployment.name,
        purpose=deployment.purpose,
        purpose_detail=deployment.purpose_detail,
        mode=deployment.mode,
        state=deployment.state,
        urgent=deployment.urgent,
        authorisation_due_at=deployment.authorisation_due_at,
        authority=deployment.authority,
        authority_reference=deployment.authority_reference,
        authorised_by_name=deployment.authorised_by_name,
        decided_at=deployment.decided_at,
        refusal_reason=deployment.refusal_reason,
        requested_by_name=deployment.requested_by_name,
        requested_at=deployment.requested_at,
        area=deployment.area,
        area_description=describe_area(deployment.area),
        starts_at=deployment.starts_at,
        ends_at=deployment.ends_at,
        ended_at=deployment.ended_at,
        end_reason=deployment.end_reason,
        watchlists=watchlists,
    )


def _deleted_note(state: DeploymentState, deleted: DeletedData) -> str:
    why = "its authorisation was refused" if state is DeploymentState.REFUSED else "no authorisation came in time"
    if deleted.deleted_at is None:
        return f"The deployment is {state.value} ({why}): its alerts are to be deleted, so no figures are given."
    return (
        f"The deployment is {state.value} ({why}): its {deleted.alerts_deleted or 0:,} alerts and everything made "
        f"from them were deleted at {deleted.deleted_at.isoformat()} (EU AI Act Art 5(3)), so no figures are given."
    )


def _notes(deployment: Deployment, counted_to: datetime, silent: bool) -> list[str]:
    notes = [
        "Faces processed: the faces the devices reported searching under a version of the deployment's watchlists, "
        f"from {deployment.starts_at.isoformat()} to {counted_to.isoformat()}. Each device reports a running count "
        "in its statuses; the faces are the increases between consecutive statuses (from its last status before "
        "the window; a count that went down means its agent restarted and counts in full). Faces searched shortly "
        "before the window closed count only if a status reported them before it closed.",
        "False alerts: alerts dismissed at the first verification, found not to be the person at the second, or "
        "whose incident found the wrong person; an alert found false at two steps counts once.",
        "Second verification: a confirmed alert counts as not the person when any verifier said so, else as the "
        "same person when any said so, else as cannot tell when every look said that.",
    ]
    if counted_to < deployment.ends_at:
        notes.append(f"The deployment was stopped at {counted_to.isoformat()}, before its window's end.")
    if silent:
        notes.append(
            "A silent trial: its matches were recorded for later review only, so that a force can measure them "
            "before it goes live. True matches are confirmed alerts no later step found false; false matches are "
            "its false alerts."
        )
    return notes
