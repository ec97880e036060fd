"""Fetching, verifying and swapping in a new watchlist package while the camera keeps running.

On a ``watchlist.available`` announcement the updater downloads the package on its own thread (over HTTPS,
the server checked against the force's CA: :mod:`vigil.edge.server_trust`; plain HTTP only from this device's
loopback unless allowed), checks the announced sha256, verifies and decrypts it
(:func:`vigil.watchlist.package.open_package`: signature, this device's key, newer than the one held, not
expired, made with this device's face network), builds its gallery and swaps it in, with the deployment scope
announced with it (:mod:`vigil.edge.deployment`). The pipeline never waits: searches in progress finish on the old
gallery. A refused package (or scope) leaves the old one in force and is reported through ``on_error``; one made
with another face network is also logged as ``watchlist.model_mismatch``.
"""

import hashlib
import logging
import ssl
import threading
import urllib.parse
import urllib.request
from collections.abc import Callable
from typing import Any
from urllib.error import URLError

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from vigil.edge.active_watchlist import ActiveWatchlist, LoadedWatchlist
from vigil.edge.deployment import HeldScope
from vigil.edge.errors import EdgeError
from vigil.edge.server_trust import server_tls_context
from vigil.errors import VigilError
from vigil.events import DeploymentScope, WatchlistAvailable, utc_now
from vigil.watchlist.errors import ModelMismatch
from vigil.watchlist.gallery import Gallery
from vigil.watchlist.package import WatchlistPackage, open_package
from vigil.web.loopback import is_loopback

_log = logging.getLogger(__name__)
MAX_PACKAGE_BYTES = 512 * 1024 * 1024


class WatchlistFetchFailed(EdgeError):
    """The package could not be downloaded, or is not the one announced."""


class PlainHttpRefused(WatchlistFetchFailed):
    """The package URL would send the device's token over the network unencrypted."""


def fetch_url(
    url: str,
    *,
    token: str | None = None,
    context: ssl.SSLContext | None = None,
    allow_plain_http: bool = False,
    timeout_s: float = 60.0,
    max_bytes: int = MAX_PACKAGE_BYTES,
) -> bytes:
    """Download a package (``https://``, ``file://``, or ``http://`` from this device's loopback).

    Args:
        url: where the announcement said the package is.
        token: the device's token, sent as ``Authorization: Bearer`` (the command centre serves each device only
            its own package).
        context: how the server's certificate is checked (:func:`vigil.edge.server_trust.server_tls_context`);
            None: against the system's trusted CAs.
        allow_plain_http: also download over ``http://`` from another machine (the token and package then cross
            the network readable: a test network only).
        timeout_s: how long to wait, seconds.
        max_bytes: the largest package accepted.

    Raises:
        PlainHttpRefused: ``http://`` to another machine without ``allow_plain_http``, or another scheme.
        WatchlistFetchFailed: unreachable, a certificate that fails the check, an HTTP error or redirect, or larger
            than ``max_bytes``.
    """
    _check_transport(url, allow_plain_http=allow_plain_http)
    https = urllib.request.HTTPSHandler(context=context or server_tls_context(None))
    opener = urllib.request.build_opener(https, _RefuseRedirects())
    try:
        headers = {"Authorization": f"Bearer {token}"} if token is not None else {}
        request = urllib.request.Request(url, headers=headers)
        with opener.open(request, timeout=timeout_s) as response:  # the command centre's own URL
            data = bytes(response.read(max_bytes + 1))
    except (URLError, OSError, ValueError) as exc:
        raise WatchlistFetchFailed(f"cannot download the watchlist package from {url} ({exc})") from exc
    if len(data) > max_bytes:
        raise WatchlistFetchFailed(f"the package at {url} is larger than {max_bytes:,} bytes")
    return data


def _check_transport(url: str, *, allow_plain_http: bool) -> None:
    parts = urllib.parse.urlsplit(url)
    if parts.scheme in ("https", "file"):
        return
    if parts.scheme != "http":
        raise PlainHttpRefused(f"cannot download the watchlist package from {url}: use https://")
    if not allow_plain_http and not is_loopback(parts.hostname or ""):
        raise PlainHttpRefused(
            f"refused to download the watchlist package over plain HTTP from {parts.hostname}: this device's token "
            "and the package would cross the network readable. Set the command centre's public URL to https://… "
            "(VIGIL_WATCHLISTS__PUBLIC_URL); on a test network only, allow plain HTTP (--allow-plain-http)"
        )


class _RefuseRedirects(urllib.request.HTTPRedirectHandler):
    """The package is at the URL announced: a redirect (perhaps to plain HTTP, with the token) is an error."""

    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


def loaded_from_package(package: WatchlistPackage, *, scope: HeldScope | None = None) -> LoadedWatchlist:
    """The searchable form of an opened package, used under ``scope`` (None: no deployment governs it)."""
    return LoadedWatchlist(
        gallery=Gallery(list(package.entries), threshold=package.header.threshold, model=package.header.model),
        version=package.header.version,
        valid_until=package.header.valid_until,
        package=package.held,
        scope=scope,
    )


class WatchlistUpdater:
    """Swaps in announced packages."""

    def __init__(
        self,
        *,
        active: ActiveWatchlist,
        device_id: str,
        device_key: bytes,
        verify_key: Ed25519PublicKey,
        model: str,
        on_error: Callable[[str], None],
        fetch: Callable[[str], bytes] = fetch_url,
    ) -> None:
        """Wire the updater.

        Args:
            active: the watchlist in force, to swap.
            device_id: this device.
            device_key: this device's AES key.
            verify_key: the command centre's public key.
            model: the id of this device's face network (its embedder's); packages made with another are refused.
            on_error: told why a package was refused (for the device status).
            fetch: downloads a URL.
        """
        self._active = active
        self._device_id = device_id
        self._device_key = device_key
        self._verify_key = verify_key
        self._model = model
        self._on_error = on_error
        self._fetch = fetch
        self._lock = threading.Lock()
        self._threads: list[threading.Thread] = []

    def announce(self, announcement: WatchlistAvailable) -> None:
        """Start fetching an announced package, unless the device already holds that version or newer."""
        if announcement.version <= self._active.current.version:
            return
        thread = threading.Thread(target=self._update, args=(announcement,), name="watchlist-update", daemon=True)
        with self._lock:
            self._threads = [t for t in self._threads if t.is_alive()] + [thread]
        thread.start()

    def wait(self, timeout_s: float = 60.0) -> None:
        """Wait for updates in progress (for tests and orderly shutdown)."""
        with self._lock:
            threads = list(self._threads)
        for thread in threads:
            thread.join(timeout_s)

    def _update(self, announcement: WatchlistAvailable) -> None:
        with self._lock:  # one update at a time, so two announcements cannot race each other
            try:
                self.apply(self._fetch(announcement.url), expected_sha256=announcement.sha256, scope=announcement.scope)
            except VigilError as exc:
                _log.warning("watchlist.update_refused", extra={"version": announcement.version, "reason": str(exc)})
                self._on_error(str(exc))

    def apply(
        self, data: bytes, *, expected_sha256: str | None = None, scope: DeploymentScope | None = None
    ) -> LoadedWatchlist:
        """Verify a package's bytes and swap it in, with the deployment scope it was announced with.

        Args:
            data: the package's bytes.
            expected_sha256: the announced digest (hex); None: not checked.
            scope: the deployment the package is used under; None: no deployment governs it.

        Returns:
            The watchlist now in force.

        Raises:
            WatchlistFetchFailed: the bytes are not the announced package.
            DeploymentAreaUnusable: the scope's area cannot be read.
            DeploymentAlreadyStopped: the scope's deployment was stopped on this device.
            PackageError: the package is refused (signature, key, replay, expiry, corruption).
            ModelMismatch: the package was made with another face network than this device's.
        """
        if expected_sha256 is not None and hashlib.sha256(data).hexdigest() != expected_sha256:
            raise WatchlistFetchFailed("the downloaded package does not match the announced sha256")
        held_scope = None if scope is None else HeldScope.of(scope)
        current = self._active.current
        try:
            package = open_package(
                data,
                verify_key=self._verify_key,
                device_key=self._device_key,
                now=utc_now(),
                held=current.package,
                device_id=self._device_id,
                model=self._model,
            )
        except ModelMismatch as exc:
            _log.warning(
                "watchlist.model_mismatch",
                extra={
                    "device_id": self._device_id,
                    "package_model": exc.expected,
                    "device_model": exc.got,
                    "kept_version": current.version,
                },
            )
            raise
        loaded = loaded_from_package(package, scope=held_scope)
        self._active.swap(loaded)
        _log.info(
            "watchlist.swapped",
            extra={
                "version": loaded.version,
                "subjects": len(package.entries),
                "deployment_id": None if held_scope is None else str(held_scope.deployment_id),
                "mode": None if scope is None else scope.mode.value,
            },
        )
        return loaded
