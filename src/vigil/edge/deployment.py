"""The authorised deployment a watchlist is used under, as the device holds it, and when it may search.

A ``watchlist.available`` announcement may carry a :class:`~vigil.events.DeploymentScope`: the deployment's
area (GeoJSON), its window ``[starts_at, ends_at)`` and its mode. The device keeps it beside the watchlist
(:class:`HeldScope`, the area parsed once) and searches with that watchlist only while it is inside both: now in
the window, and its latest GPS fix in the area. Outside them, or with no fix (the device cannot tell where it is),
it does not search at all, and says why (:class:`SearchPause`). In a silent trial (``mode = silent``) the device
still sends its alerts to control, but shows the officer nothing of them.

Hierarchy::

    VigilError
    └── EdgeError
        └── DeploymentError
            ├── DeploymentAreaUnusable      the announced area is not one the device can search inside
            └── DeploymentAlreadyStopped    a package of a deployment control has stopped
"""

import enum
import uuid
from dataclasses import dataclass
from datetime import datetime

from vigil.dispatch.area import Area
from vigil.dispatch.area_geojson import parse_area
from vigil.dispatch.errors import InvalidArea
from vigil.dispatch.geodesy import GeoPoint
from vigil.dispatch.settings import AreaLimits
from vigil.edge.errors import EdgeError
from vigil.edge.position import PositionFix
from vigil.events import DeploymentMode, DeploymentScope, DeploymentStopped, DeploymentStopReason

DEPLOYMENT_AREA_LIMITS = AreaLimits(max_radius_m=100_000, max_span_m=200_000, min_area_m2=100, max_positions=20_000)
"""The limits a deployment's area is read with: the same as the server's
:data:`vigil.command.watchlists.service.DEPLOYMENT_AREA_LIMITS`, repeated because the edge may not import the
server (a test holds the two equal). An area the server accepted is then one the device accepts."""

_STOP_WORDS = {
    DeploymentStopReason.REFUSED: "its authorisation was refused",
    DeploymentStopReason.LAPSED: "its authorisation lapsed",
    DeploymentStopReason.ENDED: "a supervisor ended it",
}


class DeploymentError(EdgeError):
    """Base class of the device's deployment errors.

    Attributes:
        deployment_id: the deployment concerned.
    """

    def __init__(self, message: str, *, deployment_id: uuid.UUID) -> None:
        super().__init__(message)
        self.deployment_id = deployment_id


class DeploymentAreaUnusable(DeploymentError):
    """The area announced with a watchlist cannot be read: the device cannot tell where it may search."""


class DeploymentAlreadyStopped(DeploymentError):
    """A package announced for a deployment that control has already stopped on this device."""


class PauseReason(enum.StrEnum):
    """Why the device does not search now."""

    BEFORE_WINDOW = "before_window"
    AFTER_WINDOW = "after_window"
    NO_FIX = "no_fix"
    OUTSIDE_AREA = "outside_area"
    STOPPED = "stopped"


@dataclass(frozen=True)
class SearchPause:
    """The device does not search now, and what the officer is told about it.

    Attributes:
        reason: why, for code.
        message: why, for the officer (the handset's banner).
    """

    reason: PauseReason
    message: str


@dataclass(frozen=True)
class HeldScope:
    """A deployment scope as the device holds it beside its watchlist: the announcement's, with its area parsed.

    Attributes:
        scope: the scope as announced.
        area: its area, ready to test positions against.
    """

    scope: DeploymentScope
    area: Area

    @classmethod
    def of(cls, scope: DeploymentScope) -> "HeldScope":
        """Read an announced scope.

        Raises:
            DeploymentAreaUnusable: its area is not GeoJSON the device can read, or is beyond the deployment limits.
        """
        try:
            area = parse_area(scope.area, limits=DEPLOYMENT_AREA_LIMITS)
        except InvalidArea as exc:
            raise DeploymentAreaUnusable(
                f"the area of deployment {scope.deployment_id} cannot be used ({exc}); the watchlist announced with "
                "it is refused: control must announce it again with a valid area",
                deployment_id=scope.deployment_id,
            ) from exc
        return cls(scope=scope, area=area)

    @property
    def deployment_id(self) -> uuid.UUID:
        """The deployment."""
        return self.scope.deployment_id

    @property
    def silent(self) -> bool:
        """Whether it is a silent trial: alerts go to control only, the officer is shown none."""
        return self.scope.mode is DeploymentMode.SILENT

    def pause(self, *, fix: PositionFix | None, now: datetime) -> SearchPause | None:
        """Whether the device must not search now, and why; None while it may.

        Args:
            fix: the device's latest fresh position fix; None without one.
            now: the current time (UTC).

        Returns:
            None when ``now`` is in ``[starts_at, ends_at)`` and the fix lies in the area (its boundary included);
            otherwise the first of: before the window, after it, no fix, outside the area.
        """
        scope = self.scope
        if now < scope.starts_at:
            return SearchPause(
                PauseReason.BEFORE_WINDOW,
                f"Searching paused: before the deployment's window (it starts {scope.starts_at:%Y-%m-%d %H:%M} UTC)",
            )
        if now >= scope.ends_at:
            return SearchPause(
                PauseReason.AFTER_WINDOW,
                f"Searching paused: after the deployment's window (it ended {scope.ends_at:%Y-%m-%d %H:%M} UTC)",
            )
        if fix is None:
            return SearchPause(PauseReason.NO_FIX, "Searching paused: no GPS fix: the deployment is bounded to an area")
        if not self.area.contains(GeoPoint(fix.lat, fix.lon)):
            return SearchPause(PauseReason.OUTSIDE_AREA, "Searching paused: outside the deployment's area")
        return None


def stopped_pause(stopped: DeploymentStopped) -> SearchPause:
    """What the officer is told once control stopped the deployment their watchlist was for."""
    return SearchPause(
        PauseReason.STOPPED,
        f"Searching stopped: control stopped the deployment ({_STOP_WORDS[stopped.reason]}); its watchlist was "
        "removed from this device",
    )
