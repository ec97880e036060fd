"""The watchlist the camera searches now, swapped for a newer one without stopping the pipeline."""

import threading
from dataclasses import dataclass
from datetime import datetime

from vigil.watchlist.gallery import Gallery
from vigil.watchlist.package import HeldPackage


@dataclass(frozen=True)
class LoadedWatchlist:
    """A searchable watchlist and what it is.

    Attributes:
        gallery: the live subjects' gallery.
        version: the watchlist version.
        valid_until: when the package stops being valid (None for a local file).
        package: what a newer package must beat (None for a local watchlist file).
    """

    gallery: Gallery
    version: int
    valid_until: datetime | None
    package: HeldPackage | None


class ActiveWatchlist:
    """Holds the current watchlist; readers take a consistent snapshot, a writer swaps it atomically."""

    def __init__(self, initial: LoadedWatchlist) -> None:
        """Start with ``initial``."""
        self._lock = threading.Lock()
        self._current = initial

    @property
    def current(self) -> LoadedWatchlist:
        """The watchlist in force now."""
        with self._lock:
            return self._current

    def swap(self, newer: LoadedWatchlist) -> None:
        """Put a newer watchlist in force; searches already running finish on the old one.

        Raises:
            ValueError: ``newer`` is not newer than the one in force.
        """
        with self._lock:
            if newer.version <= self._current.version:
                raise ValueError(f"watchlist version {newer.version} is not newer than {self._current.version}")
            self._current = newer
