"""The watchlist the camera searches now, swapped for a newer one without stopping the pipeline.

A watchlist announced with a deployment's scope keeps that scope beside it (:class:`LoadedWatchlist.scope`): the
two are installed, searched and withdrawn together. Neither is written to the device's storage: a package lives
in memory only, so a restart starts from the watchlist the agent is given, and control announces the rest again.
"""

import threading
import uuid
from dataclasses import dataclass, replace
from datetime import datetime

from vigil.edge.deployment import DeploymentAlreadyStopped, HeldScope
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
        scope: the authorised deployment it is used under; None when no deployment governs it.
    """

    gallery: Gallery
    version: int
    valid_until: datetime | None
    package: HeldPackage | None
    scope: HeldScope | None = None


class ActiveWatchlist:
    """Holds the current watchlist; readers take a consistent snapshot, a writer swaps it atomically."""

    def __init__(self, initial: LoadedWatchlist) -> None:
        """Start with ``initial``."""
        self._lock = threading.Lock()
        self._current = initial
        self._stopped: set[uuid.UUID] = set()

    @property
    def current(self) -> LoadedWatchlist:
        """The watchlist in force now."""
        with self._lock:
            return self._current

    def swap(self, newer: LoadedWatchlist) -> None:
        """Put a newer watchlist in force; searches already running finish on the old one.

        Raises:
            ValueError: ``newer`` is not newer than the one in force.
            DeploymentAlreadyStopped: ``newer`` is for a deployment that :meth:`withdraw` stopped.
        """
        with self._lock:
            if newer.version <= self._current.version:
                raise ValueError(f"watchlist version {newer.version} is not newer than {self._current.version}")
            if newer.scope is not None and newer.scope.deployment_id in self._stopped:
                raise DeploymentAlreadyStopped(
                    f"watchlist v{newer.version} is for deployment {newer.scope.deployment_id}, which control has "
                    "stopped: it is not installed",
                    deployment_id=newer.scope.deployment_id,
                )
            self._current = newer

    def withdraw(self, deployment_id: uuid.UUID) -> LoadedWatchlist | None:
        """Stop searching under a deployment: its watchlist (if in force) gives way to an empty one.

        The empty one keeps the version and package record, so neither the withdrawn package nor an older one can
        be installed again; a package for the deployment that arrives later is refused (:meth:`swap`).

        Returns:
            The watchlist withdrawn (its gallery then dropped by the caller); None when the one in force is not
            this deployment's.
        """
        with self._lock:
            self._stopped.add(deployment_id)
            withdrawn = self._current
            if withdrawn.scope is None or withdrawn.scope.deployment_id != deployment_id:
                return None
            empty = Gallery([], threshold=withdrawn.gallery.threshold, model=withdrawn.gallery.model)
            self._current = replace(withdrawn, gallery=empty, scope=None)
            return withdrawn
