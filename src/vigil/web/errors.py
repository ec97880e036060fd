"""Errors of the browser pages' assets.

Hierarchy::

    VigilError
    └── WebError
        └── PageNotBuilt    a page's bundle is missing: run ./scripts/setup (needs Node.js 20 and npm)
"""

from pathlib import Path

from vigil.errors import VigilError


class WebError(VigilError):
    """Base class of every error of the browser pages."""


class PageNotBuilt(WebError):
    """A page's bundle is not in the package: the TypeScript was never built.

    Attributes:
        page: the page asked for.
        folder: where its bundle should be.
    """

    def __init__(self, page: str, folder: Path) -> None:
        super().__init__(
            f"the {page!r} page is not built (no {folder / 'index.html'}): run ./scripts/setup, which needs "
            "Node.js 20 and npm, to build the pages from web/"
        )
        self.page = page
        self.folder = folder
