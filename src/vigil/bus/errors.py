"""Errors of the message bus.

Hierarchy::

    VigilError
    └── BusError
        ├── BusUnavailable              the broker cannot be reached, or the link is down: keep the message and retry
        ├── BusRefused                  the broker refused the connection or a publish (credentials, ACL)
        │   └── BusTlsFailed            the TLS handshake failed: no retry fixes it until a setting or a file changes
        │       └── BrokerCertificateRejected  the broker's certificate is not trusted (another CA, wrong name, expired)
        ├── BusTlsFilesUnusable         the CA file, client certificate or key in the settings cannot be loaded
        └── BusClosed                   the bus was stopped
"""

from pathlib import Path

from vigil.errors import VigilError


class BusError(VigilError):
    """Base class of every bus error."""


class BusUnavailable(BusError):
    """The broker cannot be reached or did not confirm in time; the message was not accepted."""


class BusRefused(BusError):
    """The broker refused the connection or a message: wrong credentials, or not allowed by its ACL."""


class BusTlsFailed(BusRefused):
    """The TLS handshake with the broker failed: a plaintext port, a client certificate missing or refused.

    Attributes:
        broker: ``host:port``.
        reason: what failed, as the TLS library put it.
    """

    def __init__(self, message: str, *, broker: str, reason: str) -> None:
        super().__init__(message)
        self.broker = broker
        self.reason = reason


class BrokerCertificateRejected(BusTlsFailed):
    """The broker's certificate is not trusted: not issued by the configured CA, not for that name, or expired.

    Attributes:
        broker: ``host:port``.
        reason: the verifier's reason, e.g. "Hostname mismatch, certificate is not valid for 'x'.".
    """


class BusTlsFilesUnusable(BusError):
    """A CA file, client certificate or key named in the settings cannot be read or used.

    Attributes:
        path: the file at fault.
    """

    def __init__(self, message: str, *, path: Path) -> None:
        super().__init__(message)
        self.path = path


class BusClosed(BusError):
    """The bus has been stopped."""
