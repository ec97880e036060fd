"""Counting the public report from the database.

**Alerts** are counted by when they were raised, in ``[from, to)``, with their review decision as it stands. The
false alerts are the dismissed ones and the confirmed ones whose incident closed with the wrong person found.

**Faces processed** are counted from device statuses as :mod:`vigil.command.report.tallies` says.
"""

import uuid
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from vigil.command.alerts.models import Alert
from vigil.command.devices.models import Device
from vigil.command.report.errors import ReportPeriodInvalid
from vigil.command.report.schemas import DeploymentRow, DeviceRow, Figures, PublicReport, VersionRow
from vigil.command.report.tallies import face_increments, wrong_person_alert_ids
from vigil.command.watchlists.models import Watchlist, WatchlistVersion
from vigil.events import ReviewDecision


@dataclass
class _Tally:
    faces: int = 0
    decisions: dict[ReviewDecision | None, int] = field(default_factory=lambda: defaultdict(int))
    wrong_person: int = 0

    def figures(self) -> Figures:
        return Figures.of(
            faces=self.faces,
            confirmed=self.decisions[ReviewDecision.CONFIRMED],
            dismissed=self.decisions[ReviewDecision.DISMISSED],
            pending=self.decisions[None],
            wrong_person=self.wrong_person,
        )


def build_report(*, session: Session, period_from: datetime, period_to: datetime, now: datetime) -> PublicReport:
    """Count the report for ``[period_from, period_to)``.

    Raises:
        ReportPeriodInvalid: ``period_to`` is not after ``period_from``.
    """
    if period_to <= period_from:
        raise ReportPeriodInvalid(
            f"the period ends ({period_to.isoformat()}) before it starts ({period_from.isoformat()})"
        )
    totals = _Tally()
    devices: dict[str, _Tally] = defaultdict(_Tally)
    versions: dict[int | None, _Tally] = defaultdict(_Tally)
    for increment in face_increments(session=session, period_from=period_from, period_to=period_to):
        totals.faces += increment.faces
        devices[increment.device_id].faces += increment.faces
        versions[increment.watchlist_version].faces += increment.faces
    alerts = session.execute(
        select(Alert.device_id, Alert.watchlist_version, Alert.review_decision, func.count())
        .where(Alert.raised_at >= period_from, Alert.raised_at < period_to)
        .group_by(Alert.device_id, Alert.watchlist_version, Alert.review_decision)
    )
    for device_id, version, decision, count in alerts:
        totals.decisions[decision] += count
        devices[device_id].decisions[decision] += count
        versions[version].decisions[decision] += count
    # A confirmed alert that led officers to the wrong person was a false alert the review did not catch.
    wrong = session.execute(
        select(Alert.device_id, Alert.watchlist_version, func.count())
        .where(
            Alert.raised_at >= period_from,
            Alert.raised_at < period_to,
            Alert.review_decision == ReviewDecision.CONFIRMED,
            Alert.alert_id.in_(wrong_person_alert_ids()),
        )
        .group_by(Alert.device_id, Alert.watchlist_version)
    )
    for device_id, version, count in wrong:
        totals.wrong_person += count
        devices[device_id].wrong_person += count
        versions[version].wrong_person += count
    known = {
        v.version: (v, w)
        for v, w in session.execute(
            select(WatchlistVersion, Watchlist)
            .join(Watchlist, Watchlist.watchlist_id == WatchlistVersion.watchlist_id)
            .where(WatchlistVersion.version.in_([v for v in versions if v is not None]))
        )
    }
    deployments: dict[uuid.UUID | None, _Tally] = defaultdict(_Tally)
    watchlists: dict[uuid.UUID, Watchlist] = {}
    for reported, tally in versions.items():
        found = known.get(reported) if reported is not None else None
        key = found[1].watchlist_id if found is not None else None
        if found is not None:
            watchlists[found[1].watchlist_id] = found[1]
        deployments[key].faces += tally.faces
        deployments[key].wrong_person += tally.wrong_person
        for decision, count in tally.decisions.items():
            deployments[key].decisions[decision] += count
    units = dict(session.execute(select(Device.device_id, Device.unit_id).where(Device.device_id.in_(devices))).all())
    return PublicReport(
        period_from=period_from,
        period_to=period_to,
        generated_at=now,
        totals=totals.figures(),
        devices=[DeviceRow(device_id=d, unit_id=units.get(d), figures=devices[d].figures()) for d in sorted(devices)],
        deployments=sorted(
            (
                DeploymentRow(
                    watchlist_id=key,
                    name=watchlists[key].name if key is not None else "(watchlists not made by this server)",
                    starts_at=watchlists[key].starts_at if key is not None else None,
                    ends_at=watchlists[key].ends_at if key is not None else None,
                    figures=tally.figures(),
                )
                for key, tally in deployments.items()
            ),
            key=lambda row: (row.watchlist_id is None, row.name, str(row.watchlist_id)),
        ),
        versions=[
            _version_row(version, known.get(version) if version is not None else None, versions[version].figures())
            for version in sorted(versions, key=lambda v: (v is None, v or 0))
        ],
    )


def _version_row(version: int | None, found: tuple[WatchlistVersion, Watchlist] | None, figures: Figures) -> VersionRow:
    """A version's row: its watchlist, model and threshold (how it was chosen, what it expected), and its figures."""
    if found is None:
        return VersionRow(version=version, watchlist_id=None, watchlist_name=None, subjects=None, figures=figures)
    row, watchlist = found
    return VersionRow(
        version=version,
        watchlist_id=watchlist.watchlist_id,
        watchlist_name=watchlist.name,
        subjects=len(row.subject_ids),
        model=row.model,
        threshold=row.threshold,
        size_threshold=row.size_threshold,
        threshold_basis=row.threshold_basis,
        looser_threshold_reason=row.looser_threshold_reason,
        expected=str(row.expected["sentence"]) if row.expected is not None else None,
        figures=figures,
    )
