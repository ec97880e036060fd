"""Errors of the command centre.

Hierarchy::

    VigilError
    └── CommandError
        ├── DatabaseError
        │   ├── DatabaseUnavailable     the database cannot be reached or is busy: retry (HTTP 503, bus redelivery)
        │   └── MigrationFailed         the schema could not be brought up to date
        ├── DeviceError
        │   ├── UnknownDevice           no device is registered under this id
        │   ├── InvalidDeviceId         not a valid device id (letters, digits, . _ -; at most 64)
        │   ├── DeviceAlreadyRegistered the id is taken; register the replacement under a new id
        │   └── NotAuthenticated        no device token, or one that is wrong or revoked (HTTP 401)
        ├── UnknownUnit                 no unit has this id
        ├── UnknownAlert                no alert has this id, or its image was deleted
        ├── IngestionStopped            the server is shutting down: the bus delivers the message again later
        ├── BrokerConfigError           the MQTT broker's files cannot be generated (vigil.command.broker.errors)
        └── RequestRejected
            ├── BodyTooLarge            the request body is over the limit (HTTP 413)
            ├── BatchTooLarge           more events in one request than allowed (HTTP 413)
            ├── InvalidRequest          the request cannot be read at all (HTTP 400)
            └── FixRejected             an OsmAnd tracker's fix was rejected and recorded (HTTP 400)

A rejected *event* is not an error: ingestion stores it with a reason and carries on
(see :mod:`vigil.command.ingestion.service`).
"""

from vigil.errors import VigilError


class CommandError(VigilError):
    """Base class of every command-centre error."""


class DatabaseError(CommandError):
    """Base class of database errors."""


class DatabaseUnavailable(DatabaseError):
    """The database cannot be reached, or stayed locked; nothing was committed and the caller may retry."""


class MigrationFailed(DatabaseError):
    """The database schema could not be brought up to date."""


class DeviceError(CommandError):
    """Base class of device errors.

    Attributes:
        device_id: the device concerned.
    """

    def __init__(self, message: str, *, device_id: str) -> None:
        super().__init__(message)
        self.device_id = device_id


class UnknownDevice(DeviceError):
    """No device is registered under this id."""


class InvalidDeviceId(DeviceError):
    """Not a valid device id."""


class DeviceAlreadyRegistered(DeviceError):
    """A device with this id exists (revoked ids are never reused, so their history stays unambiguous)."""


class NotAuthenticated(DeviceError):
    """The request carries no device token, or one that is wrong or revoked."""


class UnknownUnit(CommandError):
    """No unit has this id.

    Attributes:
        unit_id: the id asked for.
    """

    def __init__(self, unit_id: str) -> None:
        super().__init__(f"no unit {unit_id!r}; `vigil devices register --unit-id {unit_id}` creates it")
        self.unit_id = unit_id


class UnknownAlert(CommandError):
    """No alert has this id, or its probe image is gone.

    Attributes:
        alert_id: the id asked for.
    """

    def __init__(self, message: str, *, alert_id: str) -> None:
        super().__init__(message)
        self.alert_id = alert_id


class IngestionStopped(CommandError):
    """The server is shutting down and takes no more events; the bus delivers the message again later."""


class RequestRejected(CommandError):
    """Base class of requests refused as a whole before any event in them was looked at."""


class BodyTooLarge(RequestRejected):
    """The request body is over the limit.

    Attributes:
        limit_bytes: the limit.
    """

    def __init__(self, *, limit_bytes: int) -> None:
        super().__init__(f"the request body is over the limit of {limit_bytes:,} bytes; send fewer events at a time")
        self.limit_bytes = limit_bytes


class BatchTooLarge(RequestRejected):
    """More events in one request than allowed.

    Attributes:
        count: events in the request.
        limit: the most allowed.
    """

    def __init__(self, *, count: int, limit: int) -> None:
        super().__init__(f"the request holds {count:,} events; the limit is {limit:,} per request")
        self.count = count
        self.limit = limit


class InvalidRequest(RequestRejected):
    """The request cannot be read at all."""


class FixRejected(RequestRejected):
    """An OsmAnd tracker's fix was rejected (and recorded among the rejected events).

    Attributes:
        reason: the rejection's reason code.
    """

    def __init__(self, message: str, *, reason: str) -> None:
        super().__init__(message)
        self.reason = reason
