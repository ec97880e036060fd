"""The reports' HTML pages: one self-contained document (inline style, nothing fetched) that prints as it reads.

Both reports (:mod:`vigil.command.report.html`, :mod:`vigil.command.report.deployment_html`) are written into
:func:`document`: its policy lets the page load nothing and run nothing (``POLICY`` is sent as the response's
``Content-Security-Policy`` header too, and repeated in the page for a copy saved to disk), and its print
stylesheet gives the printable page: black on white, no navigation, each ``<section>`` on a new page.
"""

from datetime import UTC, datetime
from html import escape

POLICY = "default-src 'none'; style-src 'unsafe-inline'; img-src data:"
"""The reports' Content-Security-Policy: nothing fetched, no script; only the inline style and inline images."""

_STYLE = """
body { font-family: sans-serif; margin: 2em; color: #111; }
table { border-collapse: collapse; margin: 1em 0 2em; }
th, td { border: 1px solid #bbb; padding: 4px 8px; text-align: right; }
th:first-child, td:first-child { text-align: left; }
caption { text-align: left; font-weight: bold; margin-bottom: 4px; }
.headline { font-size: 1.3em; }
.note { color: #444; font-size: 0.9em; max-width: 60em; }
.warning { border: 2px solid #b00; padding: 0.5em 1em; font-weight: bold; }
nav { margin-bottom: 1em; }
nav a { margin-right: 1em; }
@page { margin: 15mm; }
@media print {
  body { margin: 0; color: #000; background: #fff; font-size: 10pt; }
  nav { display: none; }
  a { color: #000; text-decoration: none; }
  th, td { border-color: #000; }
  .note { color: #000; }
  .warning { border-color: #000; }
  section { break-before: page; }
  section:first-of-type { break-before: auto; }
  table, svg, h2 { break-inside: avoid; }
  h2 { break-after: avoid; }
}
"""


def document(*, title: str, body: str) -> str:
    """A whole HTML page (UTF-8) around ``body``.

    Args:
        title: the page's title, as text (escaped here).
        body: the page's content, as HTML whose every string the caller escaped.

    Returns:
        The document, ending in a newline.
    """
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en"><head><meta charset="utf-8">'
        f'<meta http-equiv="Content-Security-Policy" content="{escape(POLICY)}">'
        f"<title>{escape(title)}</title><style>{_STYLE}</style></head><body>{body}</body></html>\n"
    )


def count(value: int | None) -> str:
    """A count with thousands separators; a dash for none."""
    return "–" if value is None else f"{value:,}"


def distance(value: float | None) -> str:
    """A face-match distance or threshold, to three places; a dash for none."""
    return "–" if value is None else f"{value:.3f}"


def percent(value: float | None) -> str:
    """A ratio as a percentage to one place; a dash for none."""
    return "–" if value is None else f"{value:.1%}"


def moment(value: datetime | None) -> str:
    """A time as ``YYYY-MM-DD HH:MM UTC`` (the 24-hour clock); a dash for none."""
    return "–" if value is None else f"{value.astimezone(UTC):%Y-%m-%d %H:%M} UTC"
