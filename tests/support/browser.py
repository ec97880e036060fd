"""A real headless Chromium (Debian's ``/usr/bin/chromium``) driven by Playwright, for the pages' end-to-end tests.

Never a downloaded browser: Playwright launches the system's Chromium (``$VIGIL_CHROMIUM`` to point elsewhere);
``.ci/run`` installs it. Fixtures (loaded by ``tests/conftest.py``): ``browser`` (one Chromium per session),
``screenshots`` (one folder per session, printed; ``$VIGIL_SCREENSHOTS`` keeps them where a run's pictures can
be quoted), and ``open_phone_page``,
which opens a page in a phone-sized context and, when the test ends, fails it on any console error, uncaught
page error or request that left the page's own server.
"""

import os
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from playwright.sync_api import Browser, ConsoleMessage, Page, Playwright, Request, sync_playwright

CHROMIUM = Path(os.environ.get("VIGIL_CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking"]
PHONE = {"width": 400, "height": 860}
"""A 6-inch portrait phone, in CSS pixels."""
WALL = {"width": 1600, "height": 900}
"""A control room's large landscape screen, in CSS pixels."""


@dataclass
class WatchedPage:
    """A page, and everything it said and asked for."""

    page: Page
    origin: str
    screenshots: Path
    console: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    requests: list[str] = field(default_factory=list)
    tolerated: list[re.Pattern[str]] = field(default_factory=list)

    def tolerate(self, pattern: str) -> None:
        """Expect console errors matching ``pattern`` (e.g. a refused connection while a test stops the server)."""
        self.tolerated.append(re.compile(pattern))

    def screenshot(self, name: str, *, full_page: bool = False) -> Path:
        """Save what the screen shows (or the whole page) as ``<screenshots>/<name>.png``; print where."""
        path = self.screenshots / f"{name}.png"
        self.page.screenshot(path=str(path), full_page=full_page)
        print(f"screenshot: {path}")
        return path

    def problems(self) -> list[str]:
        """Console errors, uncaught errors, and requests to anywhere but the page's own server."""
        foreign = [url for url in self.requests if not url.startswith((self.origin, "data:"))]
        return (
            [
                f"console error: {text}"
                for text in self.console
                if text.startswith("error:") and not any(p.search(text) for p in self.tolerated)
            ]
            + [f"page error: {text}" for text in self.errors]
            + [f"request outside the page's server: {url}" for url in foreign]
        )


@pytest.fixture(scope="session")
def playwright_driver() -> Iterator[Playwright]:
    with sync_playwright() as driver:
        yield driver


@pytest.fixture(scope="session")
def browser(playwright_driver: Playwright) -> Iterator[Browser]:
    """Debian's Chromium, headless, without a GPU or background network traffic."""
    if not CHROMIUM.is_file():
        pytest.fail(f"no Chromium at {CHROMIUM}: apt-get install chromium (.ci/run does), or set VIGIL_CHROMIUM")
    launched = playwright_driver.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
    yield launched
    launched.close()


@pytest.fixture(scope="session")
def screenshots(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One folder for the session's screenshots: ``$VIGIL_SCREENSHOTS`` (kept), else one in pytest's temporary
    folder (pytest keeps only its last three sessions' folders)."""
    chosen = os.environ.get("VIGIL_SCREENSHOTS")
    if chosen:
        folder = Path(chosen)
        folder.mkdir(parents=True, exist_ok=True)
    else:
        folder = tmp_path_factory.mktemp("screenshots")
    print(f"screenshots in {folder}")
    return folder


OpenPhonePage = Callable[[str], WatchedPage]


def watch(browser: Browser, url: str, screenshots: Path, *, origin: str, wall: bool = False) -> WatchedPage:
    """Open ``url`` in a fresh context that records console messages, errors and requests: phone-sized, or with
    ``wall`` a control room's large screen."""
    if wall:
        context = browser.new_context(viewport=WALL, device_scale_factor=1)
    else:
        context = browser.new_context(viewport=PHONE, device_scale_factor=2, is_mobile=True, has_touch=True)
    page = context.new_page()
    watched = WatchedPage(page=page, origin=origin, screenshots=screenshots)

    def on_console(message: ConsoleMessage) -> None:
        watched.console.append(f"{message.type}: {message.text}")

    def on_request(request: Request) -> None:
        watched.requests.append(request.url)

    page.on("console", on_console)
    page.on("pageerror", lambda error: watched.errors.append(f"{error}\n{error.stack}"))
    context.on("request", on_request)
    page.goto(url)
    return watched


@pytest.fixture
def open_phone_page(browser: Browser, screenshots: Path) -> Iterator[OpenPhonePage]:
    """Open pages on a phone-sized screen; the test fails if any of them logged an error or went elsewhere."""
    opened: list[WatchedPage] = []

    def open_page(url: str) -> WatchedPage:
        origin = url.split("/", 3)
        watched = watch(browser, url, screenshots, origin="/".join(origin[:3]) + "/")
        opened.append(watched)
        return watched

    yield open_page
    problems = [problem for watched in opened for problem in watched.problems()]
    for watched in opened:
        watched.page.context.close()
    assert not problems, "\n".join(problems)
