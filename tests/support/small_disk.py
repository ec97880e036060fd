"""A small real file system for storage-fault tests: a tmpfs mounted on a folder, filled, freed, made read-only.

Mounting needs root (and the capability to mount, which some containers lack): :func:`cannot_mount` says why
not, for ``pytest.skip``.
"""

import errno
import os
import sqlite3
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

_CHUNKS = (1 << 20, 64 << 10, 4 << 10, 512, 1)


@dataclass
class SmallDisk:
    """A mounted tmpfs."""

    path: Path

    def fill(self) -> int:
        """Write a filler file until the disk is full (ENOSPC); returns the bytes written."""
        written = 0
        with (self.path / "filler").open("ab", buffering=0) as filler:
            for size in _CHUNKS:
                block = b"\0" * size
                while True:
                    try:
                        written += filler.write(block) or 0
                    except OSError as exc:
                        if exc.errno != errno.ENOSPC:
                            raise
                        break
        return written

    def free(self) -> None:
        """Delete the filler file."""
        (self.path / "filler").unlink(missing_ok=True)

    def read_only(self) -> None:
        """Remount read-only (no file on it may be open for writing)."""
        _mount("-o", "remount,ro", str(self.path))

    def writable(self) -> None:
        """Remount read-write."""
        _mount("-o", "remount,rw", str(self.path))


def cannot_mount() -> str | None:
    """Why this process cannot mount a tmpfs; None when it can."""
    if os.geteuid() != 0:
        return "mounting a small tmpfs to fill needs root"
    return None


@contextmanager
def small_disk(path: Path, *, size_kib: int) -> Iterator[SmallDisk]:
    """Mount a tmpfs of ``size_kib`` on ``path`` (created if missing) for the block; unmount after."""
    path.mkdir(parents=True, exist_ok=True)
    _mount("-t", "tmpfs", "-o", f"size={size_kib}k", "tmpfs", str(path))
    try:
        yield SmallDisk(path)
    finally:
        subprocess.run(["umount", "-l", str(path)], check=False, capture_output=True)


def truncate_wal(database: Path) -> None:
    """Checkpoint a WAL database and truncate its WAL, so that its next write must grow the file again."""
    db = sqlite3.connect(database)
    try:
        db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        db.close()


def _mount(*args: str) -> None:
    result = subprocess.run(["mount", *args], check=False, capture_output=True, text=True)
    if result.returncode != 0:
        raise RuntimeError(f"mount {' '.join(args)} failed: {result.stderr.strip()}")
