"""Secret files the command line writes for a person to hand over (a device's token): new, owner-only (0600).

A shell redirect (``vigil devices register … > cam-1.token``) makes a file every local user may read (0644
under the usual umask); writing it here gives it the owner's permission alone, whatever the umask, and never
overwrites a file that is there.
"""

import os
from pathlib import Path

from vigil.errors import VigilError


class SecretFileError(VigilError):
    """A secret file cannot be written: it exists already, or its folder cannot be written.

    Attributes:
        path: the file.
    """

    def __init__(self, message: str, *, path: Path) -> None:
        super().__init__(message)
        self.path = path


def refuse_existing(path: Path) -> None:
    """Check before any work that ``path`` is free.

    Raises:
        SecretFileError: it exists.
    """
    if path.exists():
        raise SecretFileError(f"{path} already exists; secret files are never overwritten, choose another", path=path)


def write_secret_file(path: Path, text: str) -> None:
    """Write ``text`` and a newline to a new file that only its owner may read or write.

    Raises:
        SecretFileError: it exists already, or cannot be written.
    """
    try:
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError as exc:
        raise SecretFileError(f"{path} already exists; secret files are never overwritten", path=path) from exc
    except OSError as exc:
        raise SecretFileError(f"cannot write {path}: {exc.strerror}", path=path) from exc
    with os.fdopen(descriptor, "w", encoding="utf-8") as stream:
        stream.write(text + "\n")
