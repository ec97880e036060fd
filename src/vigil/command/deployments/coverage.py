"""Which deployment covers an alert: the server's side of "the devices search only inside the deployment".

A watchlist named by a deployment (``deployment_watchlists``) is *governed*: an alert on any of its versions is
accepted only when one of its deployments covers it, that is, the deployment

* is running (authorised, or urgent within its 24 hours: :data:`RUNNING_STATES`),
* had started when the person was first seen and when the alert was raised, and had not ended when it was
  raised (``starts_at`` ≤ ``first_seen_at``, ``at`` < ``ends_at``),
* holds the alert's location in its area (an alert without a location cannot be shown to be inside),
* and is the deployment the alert names, when it names one (the scope of the package the device searched with).

An alert no deployment covers is refused, with what a person needs to act on it: :attr:`Uncovered.NOT_RUNNING`
when none of the watchlist's deployments is running (each named, with its state), :attr:`Uncovered.OUTSIDE`
otherwise (why each running deployment does not cover it). An alert on a watchlist no deployment names is not
governed here, and is taken as before (``deployment_id`` stays empty).

Ingestion loads what the checks need once per batch (:func:`deployment_coverage`, one query whatever the number
of alerts), and asks :meth:`DeploymentCoverage.cover` for each alert.
"""

import enum
import uuid
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from vigil.command.deployments.models import RUNNING_STATES, Deployment, DeploymentState, DeploymentWatchlist
from vigil.command.value_sets import one_of
from vigil.command.watchlists.models import WatchlistVersion
from vigil.command.watchlists.service import DEPLOYMENT_AREA_LIMITS
from vigil.dispatch.area import Area
from vigil.dispatch.area_geojson import parse_area
from vigil.dispatch.errors import InvalidArea
from vigil.dispatch.geodesy import GeoPoint
from vigil.events import AlertRaised, DeploymentMode


@dataclass(frozen=True)
class GoverningDeployment:
    """A deployment that governs a watchlist, as the coverage check needs it.

    Attributes:
        deployment_id: the deployment.
        name: its name, for messages.
        state: where it stands.
        mode: live or silent.
        starts_at: its window's start (UTC).
        ends_at: its window's end (UTC, excluded).
        area: its area; None when the stored GeoJSON cannot be read (``area_problem`` says why).
        area_problem: why the area cannot be read; empty when it can.
    """

    deployment_id: uuid.UUID
    name: str
    state: DeploymentState
    mode: DeploymentMode
    starts_at: datetime
    ends_at: datetime
    area: Area | None
    area_problem: str = ""

    @property
    def label(self) -> str:
        """How messages name it: its name and id."""
        return f"deployment {self.name!r} ({self.deployment_id})"

    @property
    def running(self) -> bool:
        """Whether it may search (inside its window)."""
        return self.state in RUNNING_STATES

    def misses(self, event: AlertRaised) -> str | None:
        """Why ``event`` lies outside this deployment's window or area; None when it lies inside both."""
        earliest, latest = min(event.first_seen_at, event.at), max(event.first_seen_at, event.at)
        if earliest < self.starts_at:
            return (
                f"the alert (person first seen {event.first_seen_at.isoformat()}, raised {event.at.isoformat()}) "
                f"is before its window, which opens at {self.starts_at.isoformat()}"
            )
        if latest >= self.ends_at:
            return (
                f"the alert (raised {event.at.isoformat()}) is after its window, which closed at "
                f"{self.ends_at.isoformat()}"
            )
        location = event.location
        if location is None:
            return "the alert carries no location, so it cannot be shown to lie inside its area"
        if self.area is None:
            return f"its stored area cannot be read ({self.area_problem}): correct the deployment's area"
        if not self.area.contains(GeoPoint(location.lat, location.lon)):
            return f"the alert's location ({location.lat:.6f}, {location.lon:.6f}) lies outside its area"
        return None


class Uncovered(enum.StrEnum):
    """Why no deployment covers an alert on a governed watchlist."""

    NOT_RUNNING = "not_running"
    """None of the watchlist's deployments is running (each is refused, lapsed or ended)."""
    OUTSIDE = "outside"
    """The alert is outside the area or window of every running one, or names another deployment."""


@dataclass(frozen=True)
class NotCovered:
    """An alert on a governed watchlist that no deployment covers.

    Attributes:
        why: which of the two cases.
        message: for a person: which deployments were considered, and why none covers it.
    """

    why: Uncovered
    message: str


@dataclass(frozen=True)
class DeploymentCoverage:
    """The deployments governing the watchlists of a batch's alerts.

    Attributes:
        watchlists: watchlist version → its watchlist, for the governed versions only.
        governing: watchlist → its deployments, earliest start first.
    """

    watchlists: Mapping[int, uuid.UUID]
    governing: Mapping[uuid.UUID, Sequence[GoverningDeployment]]

    def cover(self, event: AlertRaised) -> GoverningDeployment | NotCovered | None:
        """The deployment that covers ``event``, or why none does.

        Where several running deployments of the watchlist cover the alert and it names none, the one that
        started first is chosen.

        Returns:
            The covering deployment; a :class:`NotCovered` when the watchlist is governed and none covers the
            alert; None when no deployment governs the alert's watchlist version (and the alert names none).
        """
        watchlist_id = self.watchlists.get(event.watchlist_version)
        if watchlist_id is None:
            if event.deployment_id is None:
                return None
            return NotCovered(
                Uncovered.OUTSIDE,
                f"the alert names deployment {event.deployment_id}, but no deployment governs watchlist version "
                f"{event.watchlist_version}: the device's package and the centre disagree (resend the package)",
            )
        deployments = self.governing[watchlist_id]
        running = [deployment for deployment in deployments if deployment.running]
        if not running:
            stopped = ", ".join(f"{deployment.label}, {deployment.state.value}" for deployment in deployments)
            return NotCovered(
                Uncovered.NOT_RUNNING,
                f"watchlist {watchlist_id} may be used only under {stopped}: none is running, so no alert on it is "
                "accepted (the device should have stopped searching with it)",
            )
        misses = {deployment.deployment_id: deployment.misses(event) for deployment in running}
        covering = [deployment for deployment in running if misses[deployment.deployment_id] is None]
        if event.deployment_id is None:
            if covering:
                return covering[0]
            reasons = "; ".join(f"{deployment.label}: {misses[deployment.deployment_id]}" for deployment in running)
            return NotCovered(
                Uncovered.OUTSIDE,
                f"the alert is outside every running deployment of watchlist {watchlist_id} ({reasons}); devices "
                "search only inside their deployment's area and window",
            )
        for deployment in covering:
            if deployment.deployment_id == event.deployment_id:
                return deployment
        return NotCovered(Uncovered.OUTSIDE, _named_elsewhere(event, watchlist_id, deployments, misses, covering))


def deployment_coverage(*, session: Session, versions: Collection[int]) -> DeploymentCoverage:
    """The deployments governing these watchlist versions' watchlists (one query, whatever the number).

    Args:
        session: where to read them.
        versions: the watchlist versions a batch's alerts name.

    Returns:
        What :meth:`DeploymentCoverage.cover` needs for alerts naming any of ``versions``.
    """
    if not versions:
        return DeploymentCoverage(watchlists={}, governing={})
    rows = session.execute(
        select(
            WatchlistVersion.version,
            WatchlistVersion.watchlist_id,
            Deployment.deployment_id,
            Deployment.name,
            Deployment.state,
            Deployment.mode,
            Deployment.starts_at,
            Deployment.ends_at,
            Deployment.area,
        )
        .join(DeploymentWatchlist, DeploymentWatchlist.watchlist_id == WatchlistVersion.watchlist_id)
        .join(Deployment, Deployment.deployment_id == DeploymentWatchlist.deployment_id)
        .where(one_of(session, WatchlistVersion.version, versions))
    ).all()
    watchlists: dict[int, uuid.UUID] = {}
    deployments: dict[uuid.UUID, GoverningDeployment] = {}
    governing: dict[uuid.UUID, dict[uuid.UUID, GoverningDeployment]] = {}
    for version, watchlist_id, deployment_id, name, state, mode, starts_at, ends_at, area in rows:
        watchlists[version] = watchlist_id
        if deployment_id not in deployments:  # each area is read once, however many versions name it
            deployments[deployment_id] = _governing(deployment_id, name, state, mode, starts_at, ends_at, area)
        governing.setdefault(watchlist_id, {})[deployment_id] = deployments[deployment_id]
    return DeploymentCoverage(
        watchlists=watchlists,
        governing={
            watchlist_id: sorted(found.values(), key=lambda d: (d.starts_at, d.deployment_id))
            for watchlist_id, found in governing.items()
        },
    )


def _governing(
    deployment_id: uuid.UUID,
    name: str,
    state: DeploymentState,
    mode: DeploymentMode,
    starts_at: datetime,
    ends_at: datetime,
    area: object,
) -> GoverningDeployment:
    try:
        parsed, problem = parse_area(area, limits=DEPLOYMENT_AREA_LIMITS), ""
    except InvalidArea as exc:  # checked when recorded; a row changed since is refused, never guessed at
        parsed, problem = None, str(exc)
    return GoverningDeployment(
        deployment_id=deployment_id,
        name=name,
        state=state,
        mode=mode,
        starts_at=starts_at,
        ends_at=ends_at,
        area=parsed,
        area_problem=problem,
    )


def _named_elsewhere(
    event: AlertRaised,
    watchlist_id: uuid.UUID,
    deployments: Sequence[GoverningDeployment],
    misses: Mapping[uuid.UUID, str | None],
    covering: Sequence[GoverningDeployment],
) -> str:
    """Why the deployment an alert names does not cover it."""
    named = next((d for d in deployments if d.deployment_id == event.deployment_id), None)
    if named is None:
        why = f"the alert names deployment {event.deployment_id}, which does not govern watchlist {watchlist_id}"
    elif not named.running:
        why = f"the alert names {named.label}, which is {named.state.value}"
    else:
        why = f"the alert names {named.label}, but {misses[named.deployment_id]}"
    if covering:
        return f"{why} (it lies inside {covering[0].label}: the device searched under another deployment's scope)"
    return f"{why}; devices search only inside their deployment's area and window"
