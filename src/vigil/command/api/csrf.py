"""Cross-site request forgery: a request the session cookie authenticates must come from the server's own pages.

The session cookie is ``SameSite=Strict``, so browsers already leave it off requests started by other *sites*.
Two more checks close what that leaves open (another origin on the same site, older browsers):

* a state-changing request (POST, PUT, PATCH, DELETE) or a WebSocket handshake authenticated by the cookie must
  say where it comes from, and it must be here: ``Sec-Fetch-Site: same-origin`` (every current browser sends it),
  or, where a browser sends no fetch metadata, an ``Origin`` that is the page's own origin;
* signing in refuses a request a browser marks as cross-site (login CSRF: being signed in as someone else).

Requests that carry ``Authorization: Bearer`` are not checked: a browser never adds that header by itself, so a
forged request cannot carry it. An origin is scheme, host *and* port (RFC 6454): another service on the same
host, on another port, is another origin, though cookies do not tell ports apart. The page's origin is the scheme
the request came over (``https`` behind a TLS-terminating proxy, see :mod:`vigil.command.api.transport`) and the
``Host`` it was sent to, its port included: a proxy in front must pass that header on as the browser sent it.
"""

from urllib.parse import urlsplit

from starlette.requests import HTTPConnection

from vigil.command.errors import CrossSiteRequest

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})

DEFAULT_PORTS = {"http": 80, "https": 443}
"""The port an origin without one has."""


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
    if not _same_origin(origin, connection):
        raise CrossSiteRequest(f"refused: this request comes from another origin ({origin[:100]})")


def refuse_cross_site(connection: HTTPConnection) -> None:
    """Refuse a request that a browser marks as coming from another origin; accept one that says nothing.

    Raises:
        CrossSiteRequest: the browser says it comes from another origin.
    """
    site = connection.headers.get("sec-fetch-site")
    origin = connection.headers.get("origin")
    if (site is not None and site != "same-origin") or (
        site is None and origin is not None and not _same_origin(origin, connection)
    ):
        raise CrossSiteRequest("refused: sign in from the command centre's own page, not from another site")


def _same_origin(origin: str, connection: HTTPConnection) -> bool:
    host = connection.headers.get("host")
    if host is None or origin == "null":
        return False
    # A WebSocket handshake's page is the http(s) page that opened it.
    scheme = str(connection.scope.get("scheme", "http"))
    scheme = {"ws": "http", "wss": "https"}.get(scheme, scheme)
    claimed = _origin_of(origin)
    return claimed is not None and claimed == _origin_of(f"{scheme}://{host}")


def _origin_of(url: str) -> tuple[str, str, int] | None:
    """(scheme, host, port) of an http(s) URL, the scheme's default port when it names none; None if malformed."""
    parts = urlsplit(url)
    default_port = DEFAULT_PORTS.get(parts.scheme.lower())
    try:
        port = parts.port
    except ValueError:  # a port out of range or not a number
        return None
    if default_port is None or parts.hostname is None:
        return None
    return parts.scheme.lower(), parts.hostname, port if port is not None else default_port
