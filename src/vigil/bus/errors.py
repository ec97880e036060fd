"""Errors of the message bus.

Hierarchy::

    VigilError
    └── BusError
        ├── BusUnavailable      the broker cannot be reached, or the link is down: keep the message and retry
        ├── BusRefused          the broker refused the connection or a publish (credentials, ACL)
        └── BusClosed           the bus was stopped
"""

from vigil.errors import VigilError


class BusError(VigilError):
    """Base class of every bus error."""


class BusUnavailable(BusError):
    """The broker cannot be reached or did not confirm in time; the message was not accepted."""


class BusRefused(BusError):
    """The broker refused the connection or a message: wrong credentials, or not allowed by its ACL."""


class BusClosed(BusError):
    """The bus has been stopped."""
