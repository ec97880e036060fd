"""The public report as one self-contained HTML page: tables and inline SVG charts, nothing fetched."""

from collections.abc import Sequence
from html import escape

from vigil.command.report.chart import Segment, stacked_bars
from vigil.command.report.page import count, distance, document, moment, percent
from vigil.command.report.schemas import Figures, PublicReport, VersionRow
from vigil.command.watchlists.models import ThresholdBasis

OUTCOMES = (Segment("confirmed", "#1b7837"), Segment("dismissed", "#c51b7d"), Segment("unreviewed", "#999999"))


def render_html(report: PublicReport) -> str:
    """The report as an HTML document (UTF-8), with its figures in tables and its alerts in bar charts."""
    period = f"{report.period_from:%Y-%m-%d %H:%M} – {report.period_to:%Y-%m-%d %H:%M} UTC"
    totals = report.totals
    rows = [
        ("Devices", [(d.device_id + (f" ({d.unit_id})" if d.unit_id else ""), d.figures) for d in report.devices]),
        ("Deployments", [(d.name, d.figures) for d in report.deployments]),
        ("Watchlist versions", [(_version_label(v.version, v.watchlist_name), v.figures) for v in report.versions]),
    ]
    sections = [
        f"<section><h2>{escape(title)}</h2>"
        + stacked_bars(
            f"Alerts by outcome per {title.lower()}",
            [(label, (f.confirmed, f.dismissed, f.pending)) for label, f in table],
            OUTCOMES,
        )
        + _table(title, table)
        + "</section>"
        for title, table in rows
    ]
    sections.append(_thresholds(report.versions))
    body = (
        "<h1>Live facial recognition: deployment report</h1>"
        f"<p>Period: {escape(period)}. Generated {escape(moment(report.generated_at))}.</p>"
        f'<p class="headline">{totals.faces_processed:,} faces processed; {totals.alerts:,} alerts: '
        f"{totals.confirmed:,} confirmed ({totals.wrong_person:,} of them the wrong person when officers got there), "
        f"{totals.dismissed:,} dismissed, {totals.pending:,} "
        f"unreviewed. False-alert rate {_rate(totals)}; {_one_in(totals)}.</p>" + "".join(sections)
    )
    return document(title=f"Vigil report {period}", body=body)


def _table(title: str, rows: Sequence[tuple[str, Figures]]) -> str:
    head = (
        "<tr><th>{}</th><th>Faces processed</th><th>Alerts</th><th>Confirmed</th><th>Wrong person</th>"
        "<th>Dismissed</th><th>Unreviewed</th><th>False-alert rate</th><th>One false alert in</th></tr>"
    ).format(escape(title[:-1] if title.endswith("s") else title))
    body = "".join(
        f"<tr><td>{escape(label)}</td><td>{f.faces_processed:,}</td><td>{f.alerts:,}</td><td>{f.confirmed:,}</td>"
        f"<td>{f.wrong_person:,}</td><td>{f.dismissed:,}</td><td>{f.pending:,}</td><td>{_rate(f)}</td>"
        f"<td>{_faces(f)}</td></tr>"
        for label, f in rows
    )
    return f"<table><caption>{escape(title)}</caption>{head}{body}</table>"


def _thresholds(versions: Sequence[VersionRow]) -> str:
    """Each version's face model and threshold: by size or chosen (and why, if looser), and what it expected."""
    head = (
        "<tr><th>Watchlist version</th><th>Face model</th><th>People</th><th>Threshold</th><th>By size</th>"
        "<th>Chosen how</th><th>Expected</th></tr>"
    )
    body = "".join(
        f"<tr><td>{escape(_version_label(v.version, v.watchlist_name))}</td><td>{escape(v.model or '–')}</td>"
        f"<td>{count(v.subjects)}</td><td>{distance(v.threshold)}</td><td>{distance(v.size_threshold)}</td>"
        f"<td>{escape(_basis(v))}</td><td>{escape(v.expected or 'not recorded')}</td></tr>"
        for v in versions
        if v.watchlist_id is not None
    )
    return (
        "<section><h2>Thresholds</h2><p>Each watchlist version runs at the threshold measured for its face model and "
        "number of people, unless a supervisor chose a stricter one, or a looser one and said why.</p>"
        f"<table><caption>Thresholds by watchlist version</caption>{head}{body}</table></section>"
    )


def _basis(version: VersionRow) -> str:
    match version.threshold_basis:
        case ThresholdBasis.SIZE:
            return "by its size"
        case ThresholdBasis.STRICTER:
            return "chosen, stricter than by size"
        case ThresholdBasis.LOOSER:
            return f"chosen, LOOSER than by size: {version.looser_threshold_reason or 'no reason recorded'}"
        case None:
            return "not recorded"


def _rate(figures: Figures) -> str:
    return percent(figures.false_alert_rate)


def _faces(figures: Figures) -> str:
    return "–" if figures.faces_per_false_alert is None else f"{figures.faces_per_false_alert:,.0f} faces"


def _one_in(figures: Figures) -> str:
    if figures.faces_per_false_alert is None:
        return "no false alert"
    return f"one false alert in {figures.faces_per_false_alert:,.0f} faces"


def _version_label(version: int | None, watchlist: str | None) -> str:
    if version is None:
        return "no watchlist version reported"
    return f"v{version}" + (f" ({watchlist})" if watchlist else " (not made by this server)")
