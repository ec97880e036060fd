"""What the device knows of its own health, as the officer's status bar shows it.

The link to the command centre, the events waiting in the outbox (and whether its storage failed, so that some
are only in memory), the position fix, the battery and the watchlist in force, with the one judgement the
screen needs made here: whether that watchlist is out of date
(expired, or control announced a newer one this device could not install). Under a deployment, also whether the
device searches now (:mod:`vigil.edge.deployment`) and whether a silent trial is in progress.
"""

import enum
from dataclasses import dataclass
from datetime import datetime

from vigil.edge.position import PositionFix


class LinkState(enum.StrEnum):
    """The link to the command centre."""

    UP = "up"
    """The last send reached the command centre's broker."""
    DOWN = "down"
    """The last send failed: events wait in the outbox and go when the link returns."""
    OFFLINE = "offline"
    """The device runs without a link: events stay in the outbox."""


@dataclass(frozen=True)
class WatchlistHealth:
    """The watchlist in force, and what the device heard of newer ones.

    Attributes:
        version: the version in force.
        valid_until: when its package stops being valid (UTC); None for a local watchlist file.
        announced_version: the newest version control announced; None when none was.
        install_problem: why the last announced package could not be installed; None when none failed.
    """

    version: int
    valid_until: datetime | None
    announced_version: int | None
    install_problem: str | None

    def out_of_date(self, now: datetime) -> str | None:
        """Why the officer must not rely on this watchlist, for a banner; None while it is current.

        Args:
            now: the time to judge at (UTC).

        Returns:
            The reason: the watchlist expired, or a newer version was announced and could not be installed.
        """
        if self.valid_until is not None and self.valid_until <= now:
            return f"watchlist v{self.version} expired at {self.valid_until:%Y-%m-%d %H:%M} UTC"
        newer = self.announced_version is not None and self.announced_version > self.version
        if newer and self.install_problem is not None:
            return (
                f"watchlist v{self.announced_version} was issued but could not be installed "
                f"({self.install_problem}); this device still searches v{self.version}"
            )
        return None


@dataclass(frozen=True)
class DeviceHealth:
    """A snapshot of the device's health.

    Attributes:
        link: the link to the command centre.
        outbox_backlog: events waiting for the command centre's acknowledgement.
        fix: the latest fresh position fix; None without one.
        battery_pct: the battery's charge, 0 to 100 %; None when the device cannot read it.
        watchlist: the watchlist in force.
        outbox_in_memory: of the backlog, the events held only in memory because the outbox's storage failed.
        storage_warning: what the officer must be told about the outbox's storage (full, read-only, broken) and
            the events it holds in memory or had to drop; None while everything is on disk.
        search_paused: why the device does not search now (outside its deployment's area or window, no fix, the
            deployment stopped), for the officer; None while it searches.
        silent_trial: whether the watchlist in force is a deployment's silent trial (its alerts go to control only).
    """

    link: LinkState
    outbox_backlog: int
    fix: PositionFix | None
    battery_pct: float | None
    watchlist: WatchlistHealth
    outbox_in_memory: int = 0
    storage_warning: str | None = None
    search_paused: str | None = None
    silent_trial: bool = False
