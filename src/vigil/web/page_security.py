"""The security headers every Vigil page is served with, by the command centre and by the handset alike.

A page may load from its own server only (its API and feed included) and map tiles from the one configured tile
server; it may not be framed, sniffed, or given the camera, microphone or location.
"""

import urllib.parse

from starlette.types import ASGIApp, Message, Receive, Scope, Send


def content_security_policy(tile_url: str | None) -> str:
    """The Content-Security-Policy of a page whose map takes tiles from ``tile_url`` (None: no tile server)."""
    tiles = ""
    if tile_url is not None:
        parts = urllib.parse.urlsplit(tile_url.replace("{s}", "*"))
        tiles = f" {parts.scheme}://{parts.netloc}"
    return (
        "default-src 'self'; script-src 'self'; connect-src 'self'; "
        f"img-src 'self' data: blob:{tiles}; style-src 'self' 'unsafe-inline'; "
        "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
    )


class SecurityHeaders:
    """ASGI middleware adding the page's security headers to every HTTP response of the app it wraps."""

    def __init__(self, app: ASGIApp, *, policy: str) -> None:
        """Wrap ``app``; ``policy`` is the page's Content-Security-Policy (:func:`content_security_policy`)."""
        self._app = app
        self._headers = [
            (b"content-security-policy", policy.encode()),
            (b"x-content-type-options", b"nosniff"),
            (b"referrer-policy", b"no-referrer"),
            (b"x-frame-options", b"DENY"),
            (b"permissions-policy", b"camera=(), microphone=(), geolocation=()"),
        ]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Pass the request on; add the headers when the response starts."""
        if scope["type"] != "http":
            await self._app(scope, receive, send)
            return

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), *self._headers]
            await send(message)

        await self._app(scope, receive, with_headers)
