"""Writing the authority's files: certificates readable by all (0644), private keys by their owner only (0600).

A file is written beside its final name, flushed, then linked into place (or renamed over the old one when
replacing), so no reader ever sees half a key, and a key never exists, even briefly, with wider permissions.
"""

import os
import tempfile
from pathlib import Path

from vigil.pki.errors import CertificateFilesExist, PkiError

CERTIFICATE_MODE = 0o644
KEY_MODE = 0o600


def write_file(path: Path, data: bytes, *, mode: int, replace: bool) -> None:
    """Write ``data`` to ``path`` with permission bits ``mode``, whatever the umask.

    Args:
        path: the file to write; its folder must exist.
        data: the whole content.
        mode: its permission bits, e.g. :data:`KEY_MODE`.
        replace: whether an existing file is replaced; False leaves it and raises.

    Raises:
        CertificateFilesExist: the file exists and ``replace`` is False.
        PkiError: the folder or the file cannot be written.
    """
    temporary: str | None = None
    try:
        descriptor, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
        with os.fdopen(descriptor, "wb") as file:
            os.fchmod(file.fileno(), mode)
            file.write(data)
            file.flush()
            os.fsync(file.fileno())
        if replace:
            os.replace(temporary, path)
            temporary = None
        else:
            os.link(temporary, path)  # atomic, and fails rather than overwrite
    except FileExistsError:
        raise CertificateFilesExist(
            f"{path} already exists; it was left as it is (replace it only on purpose)", path=path
        ) from None
    except OSError as exc:
        raise PkiError(f"cannot write {path} ({exc.strerror or exc}); check the folder") from exc
    finally:
        if temporary is not None:
            Path(temporary).unlink(missing_ok=True)
