"""Bar charts for the report's HTML, drawn as inline SVG: no script, no font files, nothing fetched."""

from collections.abc import Sequence
from dataclasses import dataclass
from html import escape

_ROW_PX = 26
_LABEL_PX = 180
_BAR_PX = 420
_TOP_PX = 28


@dataclass(frozen=True)
class Segment:
    """One part of a stacked bar.

    Attributes:
        label: what it counts (shown in the legend).
        colour: a CSS colour.
    """

    label: str
    colour: str


def stacked_bars(title: str, rows: Sequence[tuple[str, Sequence[int]]], segments: Sequence[Segment]) -> str:
    """A horizontal stacked bar per row, scaled to the largest total, with a legend.

    Args:
        title: read by screen readers (the SVG's title).
        rows: each row's label and one count per segment.
        segments: what each count is.

    Returns:
        An ``<svg>`` element.

    Raises:
        ValueError: a row has not one count per segment, or a count is negative.
    """
    for label, counts in rows:
        if len(counts) != len(segments) or any(c < 0 for c in counts):
            raise ValueError(f"row {label!r}: expected {len(segments)} non-negative counts, got {list(counts)}")
    largest = max((sum(counts) for _, counts in rows), default=0) or 1
    height = _TOP_PX + _ROW_PX * max(len(rows), 1) + 8
    width = _LABEL_PX + _BAR_PX + 60
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" role="img" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" font-family="sans-serif" font-size="12">',
        f"<title>{escape(title)}</title>",
    ]
    x = _LABEL_PX
    for segment in segments:
        parts.append(f'<rect x="{x}" y="6" width="10" height="10" fill="{escape(segment.colour)}"/>')
        parts.append(f'<text x="{x + 14}" y="15">{escape(segment.label)}</text>')
        x += 14 + 8 * len(segment.label) + 16
    for index, (label, counts) in enumerate(rows):
        y = _TOP_PX + index * _ROW_PX
        parts.append(f'<text x="{_LABEL_PX - 6}" y="{y + 15}" text-anchor="end">{escape(label)}</text>')
        x_px = float(_LABEL_PX)
        for segment, count in zip(segments, counts, strict=True):
            width_px = _BAR_PX * count / largest
            if count:
                parts.append(
                    f'<rect x="{x_px:.1f}" y="{y + 3}" width="{width_px:.1f}" height="{_ROW_PX - 8}" '
                    f'fill="{escape(segment.colour)}"><title>{escape(segment.label)}: {count:,}</title></rect>'
                )
            x_px += width_px
        parts.append(f'<text x="{x_px + 4:.1f}" y="{y + 15}">{sum(counts):,}</text>')
    parts.append("</svg>")
    return "".join(parts)
