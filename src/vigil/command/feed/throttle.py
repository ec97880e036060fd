"""Per-unit throttling of positions on one live connection: at most one per unit per interval, the latest wins.

A unit's first position goes out at once. Positions that arrive within ``interval_s`` of the last one sent for
that unit are held, one per unit: a newer one (by the device's ``at``) replaces the held one, an older one
(a late arrival after a gap in coverage) is dropped in favour of it. The held position goes out when the
interval has passed. So a unit's latest position reaches the screen at most ``interval_s`` late, and a burst of
reports costs a couple of messages. Only positions pass through here: alerts and status changes never wait.
"""

from dataclasses import dataclass, field

from vigil.command.feed.schemas import PositionEntry


@dataclass
class PositionThrottle:
    """Which positions to send now and which to hold, for one connection.

    Attributes:
        interval_s: the least time between two positions of one unit, seconds (0: no throttling).
    """

    interval_s: float
    _sent_at: dict[str, float] = field(default_factory=dict)
    _held: dict[str, PositionEntry] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.interval_s < 0:
            raise ValueError(f"interval_s must be 0 or more, got {self.interval_s}")

    def offer(self, entry: PositionEntry, *, now: float) -> PositionEntry | None:
        """The entry, when it may go out now; None when it is held (or superseded by the one held).

        Args:
            entry: a position, in feed order.
            now: a monotonic clock reading, seconds.
        """
        unit = entry.payload.unit_id
        sent = self._sent_at.get(unit)
        if sent is None or now - sent >= self.interval_s:
            self._sent_at[unit] = now
            self._held.pop(unit, None)
            return entry
        held = self._held.get(unit)
        if held is None or entry.payload.at >= held.payload.at:
            self._held[unit] = entry
        return None

    def due(self, *, now: float) -> list[PositionEntry]:
        """The held positions whose interval has passed, in feed order; they count as sent now."""
        ready = [e for unit, e in self._held.items() if now - self._sent_at[unit] >= self.interval_s]
        for entry in ready:
            unit = entry.payload.unit_id
            del self._held[unit]
            self._sent_at[unit] = now
        return sorted(ready, key=lambda e: e.seq)

    def next_due_in(self, *, now: float) -> float | None:
        """Seconds until the next held position is due (0 or more); None when none is held."""
        if not self._held:
            return None
        return max(0.0, min(self._sent_at[unit] + self.interval_s for unit in self._held) - now)
