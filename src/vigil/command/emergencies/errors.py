"""Errors of officers' emergencies.

Hierarchy::

    VigilError
    └── CommandError
        └── EmergencyError
            ├── UnknownEmergency          no emergency has this id (404)
            ├── EmergencyResolved         the emergency is resolved: nothing more can be sent for it (409)
            └── EmergencyWithoutPosition  no position of the officer is known: nowhere to send units (409)

A unit that cannot be sent (off duty, without a device, the officer's own) is refused with
:class:`~vigil.command.incidents.errors.UnitNotDispatchable`, as for any incident.
"""

from vigil.command.errors import CommandError


class EmergencyError(CommandError):
    """Base class of emergency errors.

    Attributes:
        emergency_id: the emergency concerned.
    """

    def __init__(self, message: str, *, emergency_id: str) -> None:
        super().__init__(message)
        self.emergency_id = emergency_id


class UnknownEmergency(EmergencyError):
    """No emergency has this id."""


class EmergencyResolved(EmergencyError):
    """The emergency was resolved: it can no longer be acknowledged or answered with units."""


class EmergencyWithoutPosition(EmergencyError):
    """Nobody knows where the officer is: the emergency carried no location and the unit never reported one."""
