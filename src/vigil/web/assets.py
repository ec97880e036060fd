"""Where a built page lives: ``web/build.mjs`` writes each page's bundle into ``dist/<page>/`` beside this module.

A bundle holds everything the page loads (its script, styles, Leaflet's CSS and images): a page served from it
makes no request outside its own server.
"""

from pathlib import Path

from vigil.web.errors import PageNotBuilt

DIST = Path(__file__).resolve().parent / "dist"

PAGES = ("handset", "command")
"""The pages ``web/`` builds."""


def page_dir(page: str, *, dist: Path = DIST) -> Path:
    """The folder of a built page, with its ``index.html`` and assets.

    Args:
        page: one of :data:`PAGES`.
        dist: where the bundles are (the package's own ``dist`` by default).

    Returns:
        The folder.

    Raises:
        ValueError: ``page`` is not one of :data:`PAGES`.
        PageNotBuilt: the page has not been built (``./scripts/setup`` builds it).
    """
    if page not in PAGES:
        raise ValueError(f"no page {page!r}; the pages are {', '.join(PAGES)}")
    folder = dist / page
    if not (folder / "index.html").is_file():
        raise PageNotBuilt(page, folder)
    return folder
