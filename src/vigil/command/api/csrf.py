"""Cross-site request forgery: a request the session cookie authenticates must come from the server's own pages.

The session cookie is ``SameSite=Strict``, so browsers already leave it off requests started by other *sites*.
Two more checks close what that leaves open (another origin on the same site, older browsers):

* a state-changing request (POST, PUT, PATCH, DELETE) or a WebSocket handshake authenticated by the cookie must
  say where it comes from, and it must be here: ``Sec-Fetch-Site: same-origin`` (every current browser sends it),
  or, where a browser sends no fetch metadata, an ``Origin`` whose host is the ``Host`` the request came to;
* signing in refuses a request a browser marks as cross-site (login CSRF: being signed in as someone else).

Requests that carry ``Authorization: Bearer`` are not checked: a browser never adds that header by itself, so a
forged request cannot carry it. The host is compared without the port: cookies do not tell ports apart either,
and a proxy in front may pass on the host without it.
"""

from urllib.parse import urlsplit

from starlette.requests import HTTPConnection

from vigil.command.errors import CrossSiteRequest

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def changes_state(connection: HTTPConnection) -> bool:
    """Whether a request may change something: an unsafe method, or a WebSocket handshake."""
    return connection.scope["type"] == "websocket" or connection.scope.get("method", "GET") not in SAFE_METHODS


def check_same_origin(connection: HTTPConnection) -> None:
    """Refuse a request unless the browser says it comes from this server's own origin.

    Raises:
        CrossSiteRequest: it comes from elsewhere, or says nothing of where it comes from.
    """
    site = connection.headers.get("sec-fetch-site")
    if site is not None:
        if site == "same-origin":
            return
        raise CrossSiteRequest(
            f"refused: this request comes from another origin (Sec-Fetch-Site: {site}); use the command centre's "
            "own page, or an API client with Authorization: Bearer"
        )
    origin = connection.headers.get("origin")
    if origin is None:
        raise CrossSiteRequest(
            "refused: a request signed in by the session cookie must say where it comes from (Origin); API clients "
            "send Authorization: Bearer instead"
        )
    if not _same_host(origin, connection.headers.get("host")):
        raise CrossSiteRequest(f"refused: this request comes from another origin ({origin[:100]})")


def refuse_cross_site(connection: HTTPConnection) -> None:
    """Refuse a request that a browser marks as coming from another origin; accept one that says nothing.

    Raises:
        CrossSiteRequest: the browser says it comes from another origin.
    """
    site = connection.headers.get("sec-fetch-site")
    origin = connection.headers.get("origin")
    if (site is not None and site != "same-origin") or (
        site is None and origin is not None and not _same_host(origin, connection.headers.get("host"))
    ):
        raise CrossSiteRequest("refused: sign in from the command centre's own page, not from another site")


def _same_host(origin: str, host: str | None) -> bool:
    if host is None or origin == "null":
        return False
    origin_host = urlsplit(origin).hostname
    request_host = urlsplit(f"//{host}").hostname
    return origin_host is not None and origin_host == request_host
