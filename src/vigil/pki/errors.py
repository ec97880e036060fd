"""Errors of the force's certificate authority.

Hierarchy::

    VigilError
    └── PkiError
        ├── AuthorityExists          the folder already holds a CA: it is never overwritten
        ├── AuthorityUnusable        the CA's files are missing, unreadable, not a CA, or its key is exposed
        ├── InvalidCertificateRequest a certificate's name, hosts or validity cannot be issued
        └── CertificateFilesExist    the certificate or key being issued is already there (give replace)
"""

from pathlib import Path

from vigil.errors import VigilError


class PkiError(VigilError):
    """Base class of every certificate authority error."""


class AuthorityExists(PkiError):
    """The folder already holds a CA; making a new one would orphan every certificate it issued.

    Attributes:
        path: the existing file.
    """

    def __init__(self, message: str, *, path: Path) -> None:
        super().__init__(message)
        self.path = path


class AuthorityUnusable(PkiError):
    """The CA's certificate or key cannot be used.

    Attributes:
        path: the file at fault.
    """

    def __init__(self, message: str, *, path: Path) -> None:
        super().__init__(message)
        self.path = path


class InvalidCertificateRequest(PkiError):
    """A certificate cannot be issued as asked: a bad name or host, no host for a server, a validity too long."""


class CertificateFilesExist(PkiError):
    """The certificate or key file to be written already exists.

    Attributes:
        path: the existing file.
    """

    def __init__(self, message: str, *, path: Path) -> None:
        super().__init__(message)
        self.path = path
