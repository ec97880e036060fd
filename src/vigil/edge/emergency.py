"""The officer's emergency on the device: raised once, delivered to control, acknowledged by an operator.

The handset's emergency button (held, so it is not pressed by accident) raises an ``officer.emergency`` that
goes through the outbox like every event. A device holds at most one emergency at a time: a second press while
one is open is the same emergency, not a new one (control must not see two for one officer in trouble). The
officer is shown where it stands: sent, then delivered once the server's ack for the event comes back, then
acknowledged with the operator's name and message. The device never learns that control resolved it, so it
stays open (and the position goes out every second) until the officer dismisses it, which only an
acknowledged emergency allows: an unacknowledged one may be the only thing keeping the officer alive.
"""

import threading
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from datetime import datetime

from vigil.edge.errors import EdgeError
from vigil.events import EmergencyAcknowledged, OfficerEmergency


class NoEmergency(EdgeError):
    """No emergency is open on this device."""


class EmergencyNotAcknowledged(EdgeError):
    """The emergency cannot be dismissed before control has acknowledged it."""


@dataclass(frozen=True)
class EmergencyStatus:
    """Where the device's emergency stands, as the officer is shown it.

    Attributes:
        emergency_id: the emergency.
        raised_at: when the officer raised it (UTC).
        delivered: the command centre has stored the event (its ack came back).
        acknowledged_by: the operator who acknowledged it; None before.
        acknowledged_at: when they did (UTC); None before.
        message: what control tells the officer, e.g. the units sent; empty before.
    """

    emergency_id: uuid.UUID
    raised_at: datetime
    delivered: bool = False
    acknowledged_by: str | None = None
    acknowledged_at: datetime | None = None
    message: str = ""


EmergencyListener = Callable[[EmergencyStatus | None], None]
"""Shown each change of the emergency; None once the officer dismissed it."""


class DeviceEmergency:
    """The emergency this device holds, if any; safe to use from the agent's and the screen server's threads.

    The listener is called under the lock, so the officer is shown the changes in the order they happened.
    """

    def __init__(self, *, emit: Callable[[OfficerEmergency], None], listener: EmergencyListener) -> None:
        """Hold no emergency yet.

        Args:
            emit: stores the event for sending (the agent's outbox); raises when it cannot.
            listener: shown every change (the agent's notifiers).
        """
        self._emit = emit
        self._listener = listener
        self._lock = threading.Lock()
        self._event: OfficerEmergency | None = None
        self._status: EmergencyStatus | None = None

    @property
    def open(self) -> bool:
        """True from the press until the officer dismisses the acknowledged emergency."""
        with self._lock:
            return self._event is not None

    def status(self) -> EmergencyStatus | None:
        """Where the emergency stands; None when none is open."""
        with self._lock:
            return self._status

    def raise_(self, make: Callable[[], OfficerEmergency]) -> OfficerEmergency:
        """Raise an emergency with the event ``make`` builds, or return the one already open (``make`` unused).

        An error of ``emit`` (the event could not be stored) reaches the caller, and leaves no emergency open, so
        that the officer's next press tries again.

        Returns:
            The open emergency's event.
        """
        with self._lock:
            if self._event is not None:
                return self._event
            event = make()
            self._emit(event)
            self._event = event
            self._status = EmergencyStatus(emergency_id=event.emergency_id, raised_at=event.at)
            self._listener(self._status)
            return event

    def delivered(self, event_ids: Iterable[uuid.UUID]) -> None:
        """The server acknowledged these events; the emergency is delivered if its event is among them."""
        with self._lock:
            if self._event is None or self._status is None or self._status.delivered:
                return
            if self._event.id not in set(event_ids):
                return
            self._status = replace(self._status, delivered=True)
            self._listener(self._status)

    def acknowledged(self, acknowledgement: EmergencyAcknowledged) -> bool:
        """Control acknowledged an emergency; it is delivered, evidently.

        Returns:
            True when it is the open emergency (shown); False for another or a redelivery (nothing changes).
        """
        with self._lock:
            status = self._status
            if status is None or status.emergency_id != acknowledgement.emergency_id or status.acknowledged_by:
                return False
            self._status = replace(
                status,
                delivered=True,
                acknowledged_by=acknowledgement.by,
                acknowledged_at=acknowledgement.at,
                message=acknowledgement.message,
            )
            self._listener(self._status)
            return True

    def dismiss(self) -> None:
        """The officer dismisses the acknowledged emergency; a later press raises a new one.

        Raises:
            NoEmergency: none is open.
            EmergencyNotAcknowledged: control has not acknowledged it yet.
        """
        with self._lock:
            if self._status is None:
                raise NoEmergency("no emergency is open on this device")
            if self._status.acknowledged_by is None:
                raise EmergencyNotAcknowledged(
                    "control has not acknowledged the emergency yet; it stays open until they have"
                )
            self._event = self._status = None
            self._listener(None)
