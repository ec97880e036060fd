"""Serving the built control-room page (``web/src/command/``) at ``/control/``.

``/`` leads there too (OsmAnd trackers send to ``/osmand/<secret>``, never to ``/``).

The page and its assets come from the package's bundle (:mod:`vigil.web.assets`); it loads nothing from anywhere
but this server and the configured tile server, which its Content-Security-Policy enforces. A server whose bundle
was never built still serves the API; the page's address then answers 503 saying how to build it.
"""

from fastapi import FastAPI
from fastapi.responses import JSONResponse, RedirectResponse
from starlette.staticfiles import StaticFiles

from vigil.web.assets import page_dir
from vigil.web.errors import PageNotBuilt
from vigil.web.page_security import SecurityHeaders, content_security_policy

PAGE = "command"
"""The page's name in ``web/build.mjs``."""

PAGE_PATH = "/control"
"""Where the page is served."""


def mount_page(app: FastAPI, *, tile_url: str | None) -> None:
    """Serve the page at :data:`PAGE_PATH` (and redirect ``/`` to it); without a bundle, answer 503 saying why.

    Args:
        app: the server.
        tile_url: the configured tile server, which the page may load images from.
    """

    @app.get("/", include_in_schema=False)
    def root() -> RedirectResponse:
        return RedirectResponse(f"{PAGE_PATH}/", status_code=307)

    try:
        folder = page_dir(PAGE)
    except PageNotBuilt as exc:
        message = str(exc)

        @app.get(f"{PAGE_PATH}/{{path:path}}", include_in_schema=False)
        def not_built(path: str) -> JSONResponse:
            return JSONResponse({"error": {"code": "page_not_built", "message": message}}, status_code=503)

        return
    static = StaticFiles(directory=folder, html=True)
    app.mount(PAGE_PATH, SecurityHeaders(static, policy=content_security_policy(tile_url)), name="control-room")
