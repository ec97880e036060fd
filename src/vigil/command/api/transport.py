"""What the server tells apart by the transport a request came over: HTTPS, or plain HTTP on loopback.

:class:`TransportSecurity` wraps the whole app:

* behind a TLS-terminating proxy (``HttpsSettings.behind_tls_proxy``) every request counts as HTTPS: the browser
  reached the proxy over TLS, whatever the proxy's hop to this process was. Cookies are then ``Secure`` and the
  page's origin, which the cross-site check compares (:mod:`vigil.command.api.csrf`), is ``https://…``;
* every answer over HTTPS carries ``Strict-Transport-Security``, so a browser that has once reached the server
  never again tries it over plain HTTP, where a password or session could be read or the page changed.
"""

from starlette.types import ASGIApp, Message, Receive, Scope, Send

SECURE_SCHEMES = {"http": "https", "websocket": "wss"}
"""The scheme of a request over TLS, by the ASGI scope's type."""


class TransportSecurity:
    """ASGI middleware: HTTPS behind a TLS-terminating proxy, and HSTS on every answer over HTTPS."""

    def __init__(self, app: ASGIApp, *, behind_tls_proxy: bool, hsts_max_age_s: int) -> None:
        """Wrap ``app``.

        Args:
            app: the app.
            behind_tls_proxy: every request reached a TLS-terminating proxy first (counts as HTTPS).
            hsts_max_age_s: ``max-age`` of ``Strict-Transport-Security``, seconds.
        """
        self._app = app
        self._behind_tls_proxy = behind_tls_proxy
        self._hsts = (b"strict-transport-security", f"max-age={hsts_max_age_s}".encode())

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Pass the request on, as HTTPS behind the proxy; add HSTS to an HTTPS answer when it starts."""
        secure_scheme = SECURE_SCHEMES.get(scope["type"])
        if secure_scheme is None:
            await self._app(scope, receive, send)
            return
        if self._behind_tls_proxy:
            scope = {**scope, "scheme": secure_scheme}
        if scope["type"] != "http" or scope.get("scheme") != "https":
            await self._app(scope, receive, send)
            return

        async def with_hsts(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), self._hsts]
            await send(message)

        await self._app(scope, receive, with_hsts)
