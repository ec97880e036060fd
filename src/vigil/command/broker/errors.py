"""Errors of generating the MQTT broker's files.

Hierarchy::

    VigilError
    └── CommandError
        └── BrokerConfigError
            ├── InvalidBrokerUser       a server user name that cannot be a broker user name
            ├── BrokerUserClash         a server user name is also a device id
            ├── BrokerSecretUnreadable  a server user's secret file cannot be read, or holds no usable secret
            └── BrokerFilesUnwritable   the output folder, or a file in it, cannot be written
"""

from pathlib import Path

from vigil.command.errors import CommandError


class BrokerConfigError(CommandError):
    """Base class of errors generating the broker's password file, ACL and config."""


class InvalidBrokerUser(BrokerConfigError):
    """A server user name that the broker's files cannot hold.

    Attributes:
        user: the name given.
    """

    def __init__(self, message: str, *, user: str) -> None:
        super().__init__(message)
        self.user = user


class BrokerUserClash(BrokerConfigError):
    """A server user name is also a device's id; one broker user would be both.

    Attributes:
        user: the name in both.
    """

    def __init__(self, message: str, *, user: str) -> None:
        super().__init__(message)
        self.user = user


class BrokerSecretUnreadable(BrokerConfigError):
    """A secret file cannot be read, or holds no usable secret.

    Attributes:
        path: the file.
    """

    def __init__(self, message: str, *, path: Path) -> None:
        super().__init__(message)
        self.path = path


class BrokerFilesUnwritable(BrokerConfigError):
    """The output folder, or a file in it, cannot be written.

    Attributes:
        path: what could not be written.
    """

    def __init__(self, message: str, *, path: Path) -> None:
        super().__init__(message)
        self.path = path
