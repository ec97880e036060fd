"""Errors of incidents and dispatch.

Hierarchy::

    VigilError
    └── CommandError
        └── IncidentError
            ├── UnknownIncident          no incident has this id (404)
            ├── IncidentClosed           the incident is closed: nothing more can be sent for it (409)
            ├── AlertAlreadyActedOn      an incident exists for this alert already (409)
            ├── SubjectAlreadyPursued    an incident for this subject is open; its target follows new sightings (409)
            ├── AlertWithoutPlace        the alert carries no location to search around (422)
            ├── UnitNotDispatchable      the unit cannot take this order now (409)
            └── IdentityNotVerified      an arrest on an identification no second person verified (409)

Starting a dispatch from an alert nobody confirmed is refused by the review's gate
(:class:`~vigil.command.reviews.errors.AlertNotConfirmed`).
"""

from vigil.command.errors import CommandError


class IncidentError(CommandError):
    """Base class of incident errors.

    Attributes:
        incident_id: the incident concerned, when there is one.
    """

    def __init__(self, message: str, *, incident_id: str | None = None) -> None:
        super().__init__(message)
        self.incident_id = incident_id


class UnknownIncident(IncidentError):
    """No incident has this id."""


class IncidentClosed(IncidentError):
    """The incident is closed."""


class AlertAlreadyActedOn(IncidentError):
    """An incident was opened for this alert already."""


class SubjectAlreadyPursued(IncidentError):
    """An incident for the same subject is open: a new confirmed sighting moves its target instead."""


class AlertWithoutPlace(IncidentError):
    """The alert has no location, so there is nowhere to search around."""


class UnitNotDispatchable(IncidentError):
    """The unit cannot take the order: off duty, without a device, unknown, or already on this incident.

    Attributes:
        unit_id: the unit.
    """

    def __init__(self, message: str, *, incident_id: str, unit_id: str) -> None:
        super().__init__(message, incident_id=incident_id)
        self.unit_id = unit_id


class IdentityNotVerified(IncidentError):
    """Closing with an arrest on a match that a second person has not verified (EU AI Act Art 14(5)).

    Attributes:
        state: where the identity stands (``awaiting_second`` or ``refuted``).
    """

    def __init__(self, message: str, *, incident_id: str, state: str) -> None:
        super().__init__(message, incident_id=incident_id)
        self.state = state
