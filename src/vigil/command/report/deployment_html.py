"""One deployment's report as a self-contained HTML page that prints as the published report.

Every string from the record is escaped; the page loads and runs nothing (:mod:`vigil.command.report.page`).
"""

from collections.abc import Sequence
from html import escape

from vigil.command.deployments.models import DeploymentPurpose
from vigil.command.report.chart import Segment, stacked_bars
from vigil.command.report.deployment_schemas import (
    DeploymentFigures,
    DeploymentReport,
    ReportedAuthorisation,
    TrialMatches,
    VersionBasis,
)
from vigil.command.report.page import count, distance, document, moment, percent
from vigil.command.verifications.models import VerifierKind
from vigil.events import DeploymentMode

STANDING = (Segment("held", "#1b7837"), Segment("false", "#c51b7d"), Segment("undecided", "#999999"))

_PURPOSES = {
    DeploymentPurpose.VICTIM_SEARCH: "search for a victim or missing person",
    DeploymentPurpose.THREAT_PREVENTION: "prevention of a threat to life or of a terrorist attack",
    DeploymentPurpose.SUSPECT_LOCALISATION: "locating a suspect of a serious offence",
}
_VERIFIERS = {VerifierKind.CONTROL_ROOM: "Control room (a second person)", VerifierKind.OFFICER: "Officer on scene"}
_BASES = {
    VersionBasis.MATCHED: "its alerts matched it",
    VersionBasis.IN_FORCE_AT_START: "in force when the window opened",
    VersionBasis.FIRST_IN_WINDOW: "the first made in the window",
}


def render_deployment_html(report: DeploymentReport) -> str:
    """The report as an HTML document (UTF-8): the authorisation, then the figures, each part a printed page."""
    record = report.deployment
    kind = "Silent trial" if report.silent_trial else "Deployment"
    title = f"{kind} report: {record.name}"
    sections = [_authorisation(record)]
    figures = report.figures
    if figures is None:
        sections.append(_deleted(report))
    else:
        sections += [
            _figures(report, figures),
            _verification(figures, silent=report.silent_trial),
            _outcomes(figures),
            _thresholds(report),
            _devices(report),
        ]
    sections.append(_notes(report.notes))
    links = "".join(
        f'<a href="#{anchor}">{label}</a>'
        for anchor, label in (
            ("authorisation", "Authorisation"),
            ("figures", "Figures"),
            ("verification", "Verification"),
            ("outcomes", "Outcomes"),
            ("thresholds", "Thresholds"),
            ("devices", "Devices"),
            ("notes", "Notes"),
        )
        if figures is not None or anchor in ("authorisation", "notes")
    )
    body = (
        f"<h1>Live facial recognition: {escape(title)}</h1>"
        f'<nav>{links}<a href="?format=json">JSON</a></nav>'
        f"<p>Counted from {escape(moment(report.counted_from))} to {escape(moment(report.counted_to))}. "
        f"Generated {escape(moment(report.generated_at))}.</p>" + _headline(report) + "".join(sections)
    )
    return document(title=title, body=body)


def _counted(number: int, noun: str) -> str:
    """``1 alert``, ``2 alerts``: the number as the page writes numbers, and the noun in the number's form."""
    return f"{count(number)} {noun}{'' if number == 1 else 's'}"


def _headline(report: DeploymentReport) -> str:
    figures = report.figures
    if figures is None:
        return '<p class="warning">No figures: this deployment\'s data was deleted.</p>'
    rates = (
        f"{_counted(figures.false_alerts, 'false alert')}: {_one_in(figures.faces_per_false_alert, 'alert')} "
        f"({_per_thousand(figures.false_alerts_per_1000_faces)} per 1,000 faces), "
        f"{percent(figures.false_alerts_per_alert)} of alerts"
    )
    if report.trial is None:
        return (
            f'<p class="headline">{_counted(figures.faces_processed, "face")} processed; '
            f"{_counted(figures.alerts, 'alert')}; {rates}.</p>"
        )
    trial = report.trial
    return (
        f'<p class="headline">Silent trial: {count(figures.faces_processed)} faces processed; '
        f"{count(figures.alerts)} matches: {count(trial.true_matches)} true matches, "
        f"{count(trial.false_matches)} false matches, {count(trial.unreviewed)} unreviewed; "
        f"{_one_in(trial.faces_per_false_match, 'match')}.</p>" + _reached(figures)
    )


def _reached(figures: DeploymentFigures) -> str:
    """What a silent trial did with its matches: nothing, or (never by design) how many were acted on."""
    if figures.alerts_acted_on == 0:
        return (
            "<p>No alert reached an officer: the trial's matches were recorded for later review only (no handset "
            "alert, no live queue, no dispatch).</p>"
        )
    return (
        f'<p class="warning">{count(figures.alerts_acted_on)} of the trial\'s alerts were acted on: an incident was '
        "opened on them.</p>"
    )


def _authorisation(record: ReportedAuthorisation) -> str:
    urgent = (
        f"yes: started before the authority decided; authorisation due by {moment(record.authorisation_due_at)}"
        if record.urgent
        else "no"
    )
    stopped = (
        f"{moment(record.ended_at)}: {record.end_reason or 'no reason recorded'}" if record.ended_at else "not stopped"
    )
    rows = [
        ("Name", record.name),
        ("Purpose", f"{_PURPOSES[record.purpose]} ({record.purpose.value})"),
        ("Purpose in detail", record.purpose_detail),
        ("Mode", "silent trial (matches recorded for review only)" if record.mode is DeploymentMode.SILENT else "live"),
        ("State", record.state.value),
        ("Authority", record.authority or "no decision recorded"),
        ("Authority's reference", record.authority_reference or "–"),
        ("Authorised by", record.authorised_by_name or "–"),
        ("Decided", moment(record.decided_at)),
        ("Urgent", urgent),
        ("Recorded by", f"{record.requested_by_name}, {moment(record.requested_at)}"),
        ("Area", record.area_description),
        ("Window", f"{moment(record.starts_at)} – {moment(record.ends_at)}"),
        ("Stopped early", stopped),
        ("Watchlists used", ", ".join(w.name for w in record.watchlists) or "none"),
    ]
    if record.refusal_reason is not None:
        rows.insert(9, ("Refused because", record.refusal_reason))
    return _section("authorisation", "Authorisation", _pairs("The deployment's authorisation", rows))


def _deleted(report: DeploymentReport) -> str:
    deleted = report.deleted
    when = "not yet" if deleted is None or deleted.deleted_at is None else moment(deleted.deleted_at)
    alerts = "–" if deleted is None else count(deleted.alerts_deleted)
    return _section(
        "deleted",
        "Data deleted",
        f'<p class="warning">This deployment was {escape(report.deployment.state.value)}: everything it found was '
        "deleted (EU AI Act Art 5(3)), so this report gives no figures.</p>"
        + _pairs("What was deleted", [("Deleted", when), ("Alerts deleted", alerts)]),
    )


def _figures(report: DeploymentReport, figures: DeploymentFigures) -> str:
    first, second, outcomes = figures.first_verification, figures.second_verification, figures.outcomes
    chart = stacked_bars(
        "Alerts at each step: held, false, undecided",
        [
            ("First verification", (first.confirmed, first.dismissed, first.pending)),
            (
                "Second verification",
                (second.same_person, second.not_the_person, second.cannot_tell_only + second.awaiting),
            ),
            (
                "Incident outcome",
                (outcomes.arrest, outcomes.wrong_person, outcomes.not_found + outcomes.other + outcomes.open),
            ),
        ],
        STANDING,
    )
    rows = [
        ("Faces processed", count(figures.faces_processed)),
        ("Alerts" if report.trial is None else "Matches (alerts)", count(figures.alerts)),
        ("Alerts acted on (incident opened)", count(figures.alerts_acted_on)),
        ("False alerts, all steps (each alert once)", count(figures.false_alerts)),
        ("False alerts per 1,000 faces processed", _per_thousand(figures.false_alerts_per_1000_faces)),
        ("One false alert in", _faces(figures.faces_per_false_alert)),
        ("False alerts per alert", percent(figures.false_alerts_per_alert)),
    ]
    trial = "" if report.trial is None else _trial(report.trial)
    return _section("figures", "Figures", trial + _pairs("The deployment's figures", rows) + chart)


def _trial(trial: TrialMatches) -> str:
    rows = [
        ("True matches (confirmed, found false by no later step)", count(trial.true_matches)),
        ("False matches (dismissed, or found false later)", count(trial.false_matches)),
        ("Unreviewed", count(trial.unreviewed)),
        ("False matches per match", percent(trial.false_match_rate)),
        ("One false match in", _faces(trial.faces_per_false_match)),
    ]
    return _pairs("The trial's true and false match figures", rows)


def _verification(figures: DeploymentFigures, *, silent: bool) -> str:
    first, second = figures.first_verification, figures.second_verification
    first_rows = [
        ("Confirmed" + (" (true match)" if silent else ""), count(first.confirmed)),
        ("Dismissed" + (" (false match)" if silent else " (false alert)"), count(first.dismissed)),
        ("Pending", count(first.pending)),
    ]
    second_rows = [
        ("Verified: the same person", count(second.same_person)),
        ("Not the person (false alert)", count(second.not_the_person)),
        ("Cannot tell, only", count(second.cannot_tell_only)),
        ("Awaiting a second look", count(second.awaiting)),
    ]
    head = "<tr><th>Who looked</th><th>Same person</th><th>Not the person</th><th>Cannot tell</th></tr>"
    looks = "".join(
        f"<tr><td>{escape(_VERIFIERS[row.verifier_kind])}</td><td>{count(row.same_person)}</td>"
        f"<td>{count(row.not_the_person)}</td><td>{count(row.cannot_tell)}</td></tr>"
        for row in second.by_verifier
    )
    return _section(
        "verification",
        "Verification",
        _pairs("First verification: the operator's review", first_rows)
        + _pairs("Second verification of the confirmed alerts (each alert once)", second_rows)
        + f"<table><caption>Second looks, by who took them</caption>{head}{looks}</table>",
    )


def _outcomes(figures: DeploymentFigures) -> str:
    outcomes = figures.outcomes
    rows = [
        ("Arrest", count(outcomes.arrest)),
        ("Not found", count(outcomes.not_found)),
        ("Wrong person (false alert)", count(outcomes.wrong_person)),
        ("Other", count(outcomes.other)),
        ("Still open", count(outcomes.open)),
    ]
    return _section("outcomes", "Outcomes", _pairs("Incidents opened on its alerts, by outcome", rows))


def _thresholds(report: DeploymentReport) -> str:
    head = (
        "<tr><th>Watchlist version</th><th>Watchlist</th><th>Threshold</th><th>People on it</th><th>Alerts</th>"
        "<th>Why listed</th></tr>"
    )
    body = "".join(
        f"<tr><td>v{v.version}</td><td>{escape(v.watchlist_name or 'not made by this server')}</td>"
        f"<td>{distance(v.threshold)}</td><td>{count(v.subjects)}</td><td>{count(v.alerts)}</td>"
        f"<td>{escape(_BASES[v.basis])}</td></tr>"
        for v in report.versions
    )
    return _section(
        "thresholds",
        "Thresholds and watchlist sizes",
        f"<table><caption>The watchlist versions it ran with</caption>{head}{body}</table>",
    )


def _devices(report: DeploymentReport) -> str:
    head = "<tr><th>Device</th><th>Unit</th><th>Faces processed</th></tr>"
    body = "".join(
        f"<tr><td>{escape(d.device_id)}</td><td>{escape(d.unit_id or '–')}</td><td>{count(d.faces_processed)}</td></tr>"
        for d in report.devices
    )
    return _section("devices", "Devices", f"<table><caption>Faces processed by device</caption>{head}{body}</table>")


def _notes(notes: Sequence[str]) -> str:
    items = "".join(f"<li>{escape(note)}</li>" for note in notes)
    return _section("notes", "How the figures were counted", f'<ul class="note">{items}</ul>')


def _section(anchor: str, title: str, content: str) -> str:
    return f'<section id="{anchor}"><h2>{escape(title)}</h2>{content}</section>'


def _pairs(caption: str, rows: Sequence[tuple[str, str]]) -> str:
    """A two-column table of labelled values; every label and value is escaped here."""
    body = "".join(f"<tr><th>{escape(label)}</th><td>{escape(value)}</td></tr>" for label, value in rows)
    return f"<table><caption>{escape(caption)}</caption>{body}</table>"


def _one_in(faces: float | None, what: str) -> str:
    return f"no false {what}" if faces is None else f"one false {what} in {faces:,.0f} faces"


def _faces(faces: float | None) -> str:
    return "–" if faces is None else f"{faces:,.0f} faces"


def _per_thousand(value: float | None) -> str:
    return "–" if value is None else f"{value:,.3f}"
