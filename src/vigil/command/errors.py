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
        ├── AccountError
        │   ├── SignInFailed            wrong user name, password or code, a disabled account, or too many
        │   │                           failures from this source: one answer for all (HTTP 401)
        │   ├── ReauthenticationFailed  a signed-in user's password or code, asked again, is wrong (HTTP 403)
        │   ├── SecondFactorUnreadable  a second-factor secret does not open with this server's key (HTTP 500)
        │   ├── NotSignedIn             no session, or one expired, revoked or of a disabled user (HTTP 401)
        │   ├── RoleRequired            signed in, without a role the action needs (HTTP 403)
        │   ├── CrossSiteRequest        a cookie-borne request from another site (CSRF), refused (HTTP 403)
        │   ├── OwnAccountRefused       an administrator changing their own roles or disabling themselves (HTTP 403)
        │   ├── UnknownUser             no user has this name (HTTP 404)
        │   ├── UserAlreadyExists       the name is taken, by a live or a disabled user (HTTP 409)
        │   └── InvalidAccount          a user name, display name, password or role set that is not allowed (HTTP 422)
        ├── AuditError
        │   └── InvalidAuditEntry       an audit entry breaks the trail's rules (details beyond ids and counts…): a bug
        ├── UnknownUnit                 no unit has this id
        ├── UnknownAlert                no alert has this id, or its image was deleted
        ├── IngestionStopped            the server is shutting down: the bus delivers the message again later
        ├── CertificateUnusable         the HTTPS certificate or its key cannot be loaded
        ├── BrokerConfigError           the MQTT broker's files cannot be generated (vigil.command.broker.errors)
        └── RequestRejected
            ├── BodyTooLarge            the request body is over the limit (HTTP 413)
            ├── BatchTooLarge           more events in one request than allowed (HTTP 413)
            ├── InvalidRequest          the request cannot be read at all (HTTP 400)
            └── FixRejected             an OsmAnd tracker's fix was rejected and recorded (HTTP 400)

A rejected *event* is not an error: ingestion stores it with a reason and carries on
(see :mod:`vigil.command.ingestion.service`).
"""

from pathlib import Path

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


class AccountError(CommandError):
    """Base class of sign-in and user-administration errors."""


class SignInFailed(AccountError):
    """The sign-in failed, for a reason the client is never told (so the answer does not tell which names exist).

    An unknown name, a wrong password or code, a disabled account, or too many failures from this source. It
    carries nothing the client did not send, so that every failure's answer is the same to the byte.
    """

    def __init__(self) -> None:
        super().__init__(
            "the user name, password or code is wrong, or there were too many failed attempts from here: check "
            "them and try again in a minute; an administrator can help if it goes on"
        )


class ReauthenticationFailed(AccountError):
    """A signed-in user, asked for their password (and code) again before a sensitive change, gave a wrong one.

    Attributes:
        username: the user.
    """

    def __init__(self, *, username: str) -> None:
        super().__init__(
            "the password or code is wrong, or there were too many failed attempts from here: nothing was changed; "
            "check them and try again in a minute"
        )
        self.username = username


class SecondFactorUnreadable(AccountError):
    """A stored second-factor secret does not open with this server's key (another key, or tampered with).

    Attributes:
        username: the user whose secret it is.
    """

    def __init__(self, message: str, *, username: str) -> None:
        super().__init__(message)
        self.username = username


class NotSignedIn(AccountError):
    """The request carries no session, or one that is unknown, expired or revoked, or of a disabled user."""


class RoleRequired(AccountError):
    """The caller is signed in but holds none of the roles the action needs.

    Attributes:
        needed: the roles any one of which would do.
    """

    def __init__(self, *, needed: list[str]) -> None:
        super().__init__(f"this needs the role {' or '.join(needed)}; ask an administrator if you should have it")
        self.needed = needed


class CrossSiteRequest(AccountError):
    """A state-changing request authenticated by the session cookie did not come from the server's own pages."""


class OwnAccountRefused(AccountError):
    """An administrator tried to change their own roles or disable their own account.

    Attributes:
        username: the account.
    """

    def __init__(self, message: str, *, username: str) -> None:
        super().__init__(message)
        self.username = username


class UnknownUser(AccountError):
    """No user has this name.

    Attributes:
        username: the name asked for.
    """

    def __init__(self, *, username: str) -> None:
        super().__init__(f"no user {username!r}; `vigil users list` shows the users")
        self.username = username


class UserAlreadyExists(AccountError):
    """A user with this name exists (disabled users keep theirs, so their audit trail stays unambiguous).

    Attributes:
        username: the name asked for.
    """

    def __init__(self, *, username: str) -> None:
        super().__init__(f"user name {username!r} is taken; user names are never reused, choose another")
        self.username = username


class InvalidAccount(AccountError):
    """A user name, display name, password or set of roles that is not allowed.

    Attributes:
        field: what is wrong (``username``, ``display_name``, ``password``, ``roles``).
    """

    def __init__(self, message: str, *, field: str) -> None:
        super().__init__(message)
        self.field = field


class AuditError(CommandError):
    """Base class of audit-trail errors."""


class InvalidAuditEntry(AuditError):
    """An audit entry that breaks the trail's rules (a bug in the caller, so HTTP 500).

    Its details hold more than short ids, counts and flags, or its actor, action or record type is not in the
    expected form.

    Biometric data (images, embeddings) must never reach the audit trail; this error stops anything that looks
    like it, or is simply too large, before it is written.
    """


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


class CertificateUnusable(CommandError):
    """The server's HTTPS certificate or its key cannot be loaded (missing, unreadable, not PEM, not a pair).

    Attributes:
        certificate_file: the certificate.
        key_file: its key.
    """

    def __init__(self, message: str, *, certificate_file: Path, key_file: Path) -> None:
        super().__init__(message)
        self.certificate_file = certificate_file
        self.key_file = key_file


class RequestRejected(CommandError):
    """Base class of requests refused as a whole before any event in them was looked at."""


class BodyTooLarge(RequestRejected):
    """The request body is over the limit.

    Attributes:
        limit_bytes: the limit.
    """

    def __init__(self, *, limit_bytes: int, advice: str = "send fewer events at a time") -> None:
        super().__init__(f"the request body is over the limit of {limit_bytes:,} bytes; {advice}")
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
