"""The public report's figures against a hand-counted fixture.

Period [start, end). Watchlist "Op Falcon" is made here (its version is V); version 99 was not.

cam-1 (unit A-1), statuses: 100 before the period (the baseline), then 250, 400, 30 (restarted) in it, and 500
after it: 150 + 150 + 30 = 330 faces, all under V. Alerts under V: 3 confirmed (one at exactly ``start``; one
whose incident closed with the wrong person found), 2 dismissed, 1 pending; one dismissed before the period and one
at exactly ``end``, both left out.

cam-2 (unit B-2), statuses: 50 (no version reported, its first ever: counted in full), then 80 under 99:
50 + 30 = 80 faces. One dismissed alert under 99.

Totals: 410 faces, 7 alerts, 3 confirmed (1 of them the wrong person), 3 dismissed, 1 pending: 4 false alerts, a
false-alert rate of 4/7, one false alert in 410/4 = 102.5 faces.
"""

from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from tests.command.conftest import Register
from tests.command.events import alert, device_status
from tests.command.governance import OPERATOR, ingest_events, live_subject, make_keys, new_watchlist, review
from vigil.command.database import Database
from vigil.command.incidents.models import IncidentOutcome
from vigil.command.incidents.schemas import IncidentClose, IncidentOpen
from vigil.command.incidents.service import close_incident, open_incident
from vigil.command.report.errors import ReportPeriodInvalid
from vigil.command.report.html import render_html
from vigil.command.report.schemas import Figures, PublicReport
from vigil.command.report.service import build_report
from vigil.dispatch.settings import DispatchSettings
from vigil.events import utc_now


def figures(faces: int, confirmed: int, dismissed: int, pending: int, wrong_person: int = 0) -> dict[str, Any]:
    alerts = confirmed + dismissed + pending
    false_alerts = dismissed + wrong_person
    return {
        "faces_processed": faces,
        "alerts": alerts,
        "confirmed": confirmed,
        "dismissed": dismissed,
        "wrong_person": wrong_person,
        "pending": pending,
        "false_alerts": false_alerts,
        "false_alert_rate": false_alerts / alerts if alerts else None,
        "faces_per_false_alert": faces / false_alerts if false_alerts else None,
    }


@pytest.fixture
def counted(database: Database, tmp_path: Path, register: Register, probe_jpeg: bytes) -> tuple[PublicReport, int]:
    now = utc_now()
    start, end = now - timedelta(days=2), now - timedelta(days=1)
    register("cam-1", "A-1")
    register("cam-2", "B-2")
    keys = make_keys(tmp_path)
    falcon = live_subject(
        database,
        keys,
        new_watchlist(database, start - timedelta(days=1)),
        "obama",
        probe_jpeg,
        now=start - timedelta(days=1),
    )

    def at(hours: float) -> datetime:
        return start + timedelta(hours=hours)

    ingest_events(
        database,
        "cam-1",
        *(
            device_status(device_id="cam-1", at=when, faces_processed=faces, watchlist_version=falcon)
            for when, faces in ((start - timedelta(hours=1), 100), (at(1), 250), (at(2), 400), (at(3), 30), (end, 500))
        ),
    )
    ingest_events(
        database,
        "cam-2",
        device_status(device_id="cam-2", at=at(1), faces_processed=50, watchlist_version=None),
        device_status(device_id="cam-2", at=at(5), faces_processed=80, watchlist_version=99),
    )
    decisions = ["confirmed"] * 3 + ["dismissed"] * 2 + [None]
    cam1 = [
        alert(probe_jpeg, device_id="cam-1", unit_id="A-1", watchlist_version=falcon, at=start if i == 0 else at(i))
        for i in range(6)
    ]
    outside = [
        alert(probe_jpeg, device_id="cam-1", unit_id="A-1", watchlist_version=falcon, at=start - timedelta(seconds=1)),
        alert(probe_jpeg, device_id="cam-1", unit_id="A-1", watchlist_version=falcon, at=end),
    ]
    cam2 = alert(probe_jpeg, device_id="cam-2", unit_id="B-2", watchlist_version=99, at=at(6))
    ingest_events(database, "cam-1", *cam1, *outside)
    ingest_events(database, "cam-2", cam2)
    for raised, decision in zip(cam1, decisions, strict=True):
        if decision is not None:
            review(database, raised.alert_id, decision, at=now, reason="not the subject")
    for raised in (*outside, cam2):
        review(database, raised.alert_id, "dismissed", at=now, reason="not the subject")
    with database.session() as session:  # officers found someone else: a false alert the review missed
        incident = open_incident(
            session=session,
            request=IncidentOpen(alert_id=cam1[1].alert_id),
            actor=OPERATOR,
            now=now,
            settings=DispatchSettings(),
        )
        close_incident(
            session=session,
            incident_id=incident.incident_id,
            request=IncidentClose(outcome=IncidentOutcome.WRONG_PERSON, notes="a look-alike"),
            actor=OPERATOR,
            now=now,
            settings=DispatchSettings(),
        )
        session.commit()
    with database.session() as session:
        return build_report(session=session, period_from=start, period_to=end, now=now), falcon


def test_the_reports_figures_match_the_hand_count(counted: tuple[PublicReport, int]) -> None:
    report, falcon = counted
    assert report.totals.model_dump() == figures(410, 3, 3, 1, wrong_person=1)
    assert report.totals.faces_per_false_alert == pytest.approx(102.5)
    assert [(d.device_id, d.unit_id, d.figures.model_dump()) for d in report.devices] == [
        ("cam-1", "A-1", figures(330, 3, 2, 1, wrong_person=1)),
        ("cam-2", "B-2", figures(80, 0, 1, 0)),
    ]
    # cam-2's alert names version 99, so ingest_events sent it to cam-2 (a watchlist "Test", holding 1 subject):
    # an alert must name a version its device was sent, never one this server did not make.
    assert [(d.name, d.figures.model_dump()) for d in report.deployments] == [
        ("Op Falcon", figures(330, 3, 2, 1, wrong_person=1)),
        ("Test", figures(30, 0, 1, 0)),
        ("(watchlists not made by this server)", figures(50, 0, 0, 0)),
    ]
    assert [(v.version, v.watchlist_name, v.subjects, v.figures.model_dump()) for v in report.versions] == [
        (falcon, "Op Falcon", 1, figures(330, 3, 2, 1, wrong_person=1)),
        (99, "Test", 1, figures(30, 0, 1, 0)),
        (None, None, None, figures(50, 0, 0, 0)),
    ]


def test_the_html_report_draws_its_figures_without_fetching_anything(counted: tuple[PublicReport, int]) -> None:
    page = render_html(counted[0])
    assert "410 faces processed; 7 alerts: 3 confirmed (1 of them the wrong person when officers got there), " in page
    assert "3 dismissed, 1 unreviewed. False-alert rate 57.1%; one false alert in 102 faces" in page
    assert page.count("<svg") == 3
    assert "<title>confirmed: 3</title>" in page
    assert "http" not in page.replace('xmlns="http://www.w3.org/2000/svg"', "").replace("http-equiv", "")
    assert "<script" not in page


def test_a_period_that_ends_before_it_starts_is_refused(database: Database) -> None:
    now = utc_now()
    with database.session() as session, pytest.raises(ReportPeriodInvalid, match="before it starts"):
        build_report(session=session, period_from=now, period_to=now, now=now)


def test_rates_are_null_without_alerts_or_false_alerts() -> None:
    assert Figures.of(faces=10, confirmed=0, dismissed=0, pending=0).model_dump() == figures(10, 0, 0, 0)
    assert Figures.of(faces=10, confirmed=0, dismissed=0, pending=0).false_alert_rate is None
