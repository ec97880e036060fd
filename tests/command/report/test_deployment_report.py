"""A deployment's report through the API, against a hand-counted deployment.

"Op <Falcon>" runs from two hours ago for eight hours, on a watchlist holding one person (version V). Its faces:
cam-1 reported 100 before the window (the baseline), then 300 and 50 (restarted) in it: 200 + 50; cam-2's first
status in it, 40, counts in full, and its next (140) is under another watchlist's version: left out; cam-3 searched
only another watchlist. 290 faces.

Its nine alerts (all from cam-1) and what became of them:

===== ============ ================================================ ================== ==========
alert first        second (verifier: verdict)                         incident           false?
===== ============ ================================================ ================== ==========
a0    confirmed    control room: same person                          arrest
a1    confirmed    officer: same person; control room: not the person -                  yes
a2    confirmed    officer: not the person                            wrong person       yes (once)
a3    confirmed    control room: cannot tell                          open
a4    confirmed    -                                                  not found
a5    confirmed    officer: same person                               wrong person       yes
a6    dismissed                                                                          yes
a7    dismissed                                                                          yes
a8    pending
===== ============ ================================================ ================== ==========

Second verification: same person 2 (a0, a5), not the person 2 (a1, a2), cannot tell only 1, awaiting 1. False
alerts: 5, one in 58 faces (17.241 per 1,000), 5/9 of the alerts. An alert on another watchlist is not counted.
"""

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from tests.command.conftest import CreateAccount, Register, RunningServer
from tests.command.events import alert, device_status
from tests.command.governance import OPERATOR, Keys, ingest_events, live_subject, make_keys, new_watchlist, review
from vigil.command.accounts.models import Role
from vigil.command.app import create_app
from vigil.command.database import Database
from vigil.command.incidents.models import IncidentOutcome
from vigil.command.incidents.schemas import IncidentClose, IncidentOpen
from vigil.command.incidents.service import close_incident, open_incident
from vigil.command.settings import CommandSettings, SchedulerSettings
from vigil.command.verifications.models import AlertVerification, VerifierKind
from vigil.command.watchlists.models import WatchlistVersion
from vigil.dispatch.settings import DispatchSettings
from vigil.events import AlertRaised, IdentityVerdict, utc_now

CIRCLE = {
    "type": "Feature",
    "geometry": {"type": "Point", "coordinates": [-0.1281, 51.5081]},
    "properties": {"radius_m": 500},
}
"""500 m around Trafalgar Square, where ``tests.command.events.alert`` raises its alerts."""
NAME = 'Op <Falcon> & "Co"'
OTHER_VERSION = 900
"""A watchlist no deployment names (``send_watchlist`` makes it)."""


@dataclass
class Centre:
    """The server, its package keys, and a supervisor, an auditor and an operator signed in."""

    server: RunningServer
    keys: Keys
    tokens: dict[Role, str]

    def client(self, role: Role | None) -> httpx.Client:
        return self.server.client(None if role is None else self.tokens[role])


# The database comes first, so that it is torn down after the server stops.
@pytest.fixture
def centre(
    database: Database,
    settings: CommandSettings,
    serve: Callable[[FastAPI], RunningServer],
    accounts: CreateAccount,
    tmp_path: Path,
    register: Register,
) -> Centre:
    keys = make_keys(tmp_path)
    configured = settings.model_copy(
        update={"watchlists": keys.settings, "scheduler": SchedulerSettings(enabled=False)}
    )
    server = serve(create_app(configured))
    register("cam-1", "A-12")
    register("cam-2", "B-7")
    register("cam-3", "C-1")
    roles = (Role.SUPERVISOR, Role.AUDITOR, Role.OPERATOR)
    return Centre(server, keys, {role: server.sign_in(accounts(f"{role.value}-1", role)) for role in roles})


def deployment(centre: Centre, watchlist_id: uuid.UUID, now: datetime, **changes: Any) -> str:
    """Record a deployment through the API: authorised three hours ago, from two hours ago for eight hours."""
    body: dict[str, Any] = {
        "name": NAME,
        "purpose": "suspect_localisation",
        "purpose_detail": "Suspect in the Strand robbery <armed>",
        "mode": "live",
        "area": CIRCLE,
        "starts_at": (now - timedelta(hours=2)).isoformat(),
        "ends_at": (now + timedelta(hours=6)).isoformat(),
        "watchlist_ids": [str(watchlist_id)],
        "authorisation": {
            "authority": "Westminster Magistrates' Court",
            "reference": "WMC 2026/881",
            "authorised_by_name": "DJ Harris",
            "decided_at": (now - timedelta(hours=3)).isoformat(),
        },
    }
    with centre.client(Role.SUPERVISOR) as sam:
        created = sam.post("/api/v1/deployments", json=body | changes)
    assert created.status_code == 201, created.text
    deployment_id: str = created.json()["deployment_id"]
    return deployment_id


def watchlist(database: Database, centre: Centre, probe_jpeg: bytes, now: datetime) -> tuple[uuid.UUID, int]:
    """A watchlist holding one person, made before the window; its id and version."""
    made = now - timedelta(hours=3)
    watchlist_id = new_watchlist(database, made)
    return watchlist_id, live_subject(database, centre.keys, watchlist_id, "obama", probe_jpeg, now=made)


def raise_alerts(database: Database, probe_jpeg: bytes, version: int, first: datetime, n: int) -> list[AlertRaised]:
    """``n`` alerts from cam-1, a second apart from ``first``."""
    raised = [
        alert(probe_jpeg, watchlist_version=version, at=at, first_seen_at=at)
        for at in (first + timedelta(seconds=i) for i in range(n))
    ]
    ingest_events(database, "cam-1", *raised)
    return raised


def verify(database: Database, alert_id: uuid.UUID, kind: VerifierKind, verdict: IdentityVerdict) -> None:
    now = utc_now()
    with database.session() as session:
        session.add(
            AlertVerification(
                verification_id=uuid.uuid4(),
                alert_id=alert_id,
                verdict=verdict,
                verifier_kind=kind,
                verified_by="u-vic" if kind is VerifierKind.CONTROL_ROOM else "A-1",
                verifier_name="Vic Verifier",
                verified_at=now,
                recorded_at=now,
                device_id=None,
                dispatch_id=None,
                event_id=None,
            )
        )
        session.commit()


def open_on(database: Database, alert_id: uuid.UUID) -> uuid.UUID:
    """Open an incident on the confirmed alert; its id."""
    with database.session() as session:
        incident = open_incident(
            session=session,
            request=IncidentOpen(alert_id=alert_id),
            actor=OPERATOR,
            now=utc_now(),
            settings=DispatchSettings(),
        )
        session.commit()
        return incident.incident_id


def close(database: Database, incident_id: uuid.UUID, outcome: IncidentOutcome) -> None:
    """Close the incident with ``outcome``."""
    with database.session() as session:
        close_incident(
            session=session,
            incident_id=incident_id,
            request=IncidentClose(outcome=outcome, notes="as found"),
            actor=OPERATOR,
            now=utc_now(),
            settings=DispatchSettings(),
        )
        session.commit()


@pytest.fixture
def falcon(database: Database, centre: Centre, probe_jpeg: bytes) -> tuple[str, int]:
    """The hand-counted deployment (the module's docstring); its id and watchlist version."""
    now = utc_now()
    watchlist_id, version = watchlist(database, centre, probe_jpeg, now)
    deployment_id = deployment(centre, watchlist_id, now)
    ingest_events(
        database,
        "cam-1",
        device_status(
            device_id="cam-1", at=now - timedelta(hours=2, minutes=10), faces_processed=100, watchlist_version=version
        ),
        device_status(
            device_id="cam-1", at=now - timedelta(minutes=90), faces_processed=300, watchlist_version=version
        ),
        device_status(device_id="cam-1", at=now - timedelta(minutes=60), faces_processed=50, watchlist_version=version),
    )
    ingest_events(
        database,
        "cam-2",
        device_status(device_id="cam-2", at=now - timedelta(minutes=80), faces_processed=40, watchlist_version=version),
        device_status(
            device_id="cam-2", at=now - timedelta(minutes=30), faces_processed=140, watchlist_version=OTHER_VERSION
        ),
    )
    ingest_events(
        database,
        "cam-3",
        device_status(device_id="cam-3", at=now - timedelta(minutes=30), faces_processed=999, watchlist_version=None),
    )
    a = [raised.alert_id for raised in raise_alerts(database, probe_jpeg, version, now - timedelta(minutes=50), 9)]
    elsewhere = alert(probe_jpeg, device_id="cam-3", unit_id="C-1", watchlist_version=OTHER_VERSION)
    ingest_events(database, "cam-3", elsewhere)
    for alert_id in (*a[:6], elsewhere.alert_id):
        review(database, alert_id, "confirmed", at=now)
    for alert_id in a[6:8]:
        review(database, alert_id, "dismissed", at=now, reason="not the subject")
    room, officer = VerifierKind.CONTROL_ROOM, VerifierKind.OFFICER
    same, other, unsure = IdentityVerdict.SAME_PERSON, IdentityVerdict.NOT_THE_PERSON, IdentityVerdict.CANNOT_TELL
    verify(database, a[1], officer, same)  # no incident: a sighting of a subject already pursued, say
    verify(database, a[1], room, other)
    # One incident per subject at a time, each opened on the first verification: the second person's look comes
    # while it is open (an officer sent, or the control room), then it is closed (a[3]'s is left open).
    for alert_id, looks, outcome in (
        (a[0], [(room, same)], IncidentOutcome.ARREST),
        (a[2], [(officer, other)], IncidentOutcome.WRONG_PERSON),
        (a[4], [], IncidentOutcome.NOT_FOUND),
        (a[5], [(officer, same)], IncidentOutcome.WRONG_PERSON),
        (elsewhere.alert_id, [(officer, other)], IncidentOutcome.WRONG_PERSON),
        (a[3], [(room, unsure)], None),
    ):
        incident_id = open_on(database, alert_id)
        for kind, verdict in looks:
            verify(database, alert_id, kind, verdict)
        if outcome is not None:
            close(database, incident_id, outcome)
    return deployment_id, version


def test_the_reports_figures_match_the_hand_count(database: Database, centre: Centre, falcon: tuple[str, int]) -> None:
    deployment_id, version = falcon
    with centre.client(Role.AUDITOR) as ada:
        answer = ada.get(f"/api/v1/deployments/{deployment_id}/report")
    assert answer.status_code == 200, answer.text
    report = answer.json()
    figures = report["figures"]
    assert figures == {
        "faces_processed": 290,
        "alerts": 9,
        "first_verification": {"confirmed": 6, "dismissed": 2, "pending": 1},
        "second_verification": {
            "same_person": 2,
            "not_the_person": 2,
            "cannot_tell_only": 1,
            "awaiting": 1,
            "by_verifier": [
                {"verifier_kind": "control_room", "same_person": 1, "not_the_person": 1, "cannot_tell": 1},
                {"verifier_kind": "officer", "same_person": 2, "not_the_person": 1, "cannot_tell": 0},
            ],
        },
        "outcomes": {"arrest": 1, "not_found": 1, "wrong_person": 2, "other": 0, "open": 1},
        "alerts_acted_on": 5,
        "false_alerts": 5,
        "false_alerts_per_1000_faces": pytest.approx(5000 / 290),
        "faces_per_false_alert": 58.0,
        "false_alerts_per_alert": pytest.approx(5 / 9),
    }
    assert [(d["device_id"], d["unit_id"], d["faces_processed"]) for d in report["devices"]] == [
        ("cam-1", "A-12", 250),
        ("cam-2", "B-7", 40),
    ]
    with database.session() as session:
        threshold = session.get_one(WatchlistVersion, version).threshold
    assert report["versions"] == [
        {
            "version": version,
            "watchlist_id": report["deployment"]["watchlists"][0]["watchlist_id"],
            "watchlist_name": "Op Falcon",
            "threshold": threshold,
            "subjects": 1,
            "alerts": 9,
            "basis": "matched",
        }
    ]
    record = report["deployment"]
    assert {key: record[key] for key in ("name", "purpose", "mode", "state", "urgent", "authority")} == {
        "name": NAME,
        "purpose": "suspect_localisation",
        "mode": "live",
        "state": "authorised",
        "urgent": False,
        "authority": "Westminster Magistrates' Court",
    }
    assert (record["authority_reference"], record["authorised_by_name"]) == ("WMC 2026/881", "DJ Harris")
    assert record["area"] == CIRCLE
    assert record["area_description"] == "a circle of radius 500 m around 51.50810° N, 0.12810° W"
    assert [w["name"] for w in record["watchlists"]] == ["Op Falcon"]
    assert (report["silent_trial"], report["trial"], report["deleted"]) == (False, None, None)
    assert report["counted_from"] == record["starts_at"]
    assert report["counted_to"] == record["ends_at"]


def test_the_printable_page_shows_the_figures_escaped_and_fetches_nothing(
    centre: Centre, falcon: tuple[str, int]
) -> None:
    with centre.client(Role.SUPERVISOR) as sam:
        answer = sam.get(f"/api/v1/deployments/{falcon[0]}/report", params={"format": "html"})
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"] == "text/html; charset=utf-8"
    assert answer.headers["content-security-policy"] == "default-src 'none'; style-src 'unsafe-inline'; img-src data:"
    page = answer.text
    assert (
        "290 faces processed; 9 alerts; 5 false alerts: one false alert in 58 faces (17.241 per 1,000 faces), "
        "55.6% of alerts." in page
    )
    assert "Op &lt;Falcon&gt; &amp; &quot;Co&quot;" in page
    assert "<Falcon>" not in page
    assert "Suspect in the Strand robbery &lt;armed&gt;" in page
    assert "<th>Not the person (false alert)</th><td>2</td>" in page
    assert "<td>Officer on scene</td><td>2</td><td>1</td><td>0</td>" in page
    assert "<th>Wrong person (false alert)</th><td>2</td>" in page
    assert "a circle of radius 500 m around 51.50810° N, 0.12810° W" in page
    assert "@media print" in page
    assert "nav { display: none; }" in page
    assert "section { break-before: page; }" in page
    assert "<script" not in page
    assert "http" not in page.replace('xmlns="http://www.w3.org/2000/svg"', "").replace("http-equiv", "")


@pytest.mark.parametrize(
    ("role", "status"), [(None, 401), (Role.OPERATOR, 403), (Role.AUDITOR, 404), (Role.SUPERVISOR, 404)]
)
def test_only_auditors_and_supervisors_read_reports_and_an_unknown_deployment_is_not_found(
    centre: Centre, role: Role | None, status: int
) -> None:
    with centre.client(role) as client:
        answer = client.get(f"/api/v1/deployments/{uuid.uuid4()}/report")
    assert answer.status_code == status, answer.text


def test_a_refused_deployments_report_says_its_data_was_deleted_and_shows_no_figures(
    database: Database, centre: Centre, probe_jpeg: bytes
) -> None:
    now = utc_now()
    watchlist_id, version = watchlist(database, centre, probe_jpeg, now)
    body = {"urgent": True, "starts_at": None, "authorisation": None}
    deployment_id = deployment(centre, watchlist_id, now, **body)
    raise_alerts(database, probe_jpeg, version, utc_now(), 2)
    refusal = {
        "granted": False,
        "authority": "Westminster Magistrates' Court",
        "reference": "WMC 2026/902",
        "authorised_by_name": "DJ Harris",
        "decided_at": utc_now().isoformat(),
        "reason": "Not necessary: the suspect was located by other means",
    }
    with centre.client(Role.SUPERVISOR) as sam:
        assert sam.post(f"/api/v1/deployments/{deployment_id}/decision", json=refusal).status_code == 200
        report = sam.get(f"/api/v1/deployments/{deployment_id}/report").json()
        page = sam.get(f"/api/v1/deployments/{deployment_id}/report", params={"format": "html"}).text
    assert report["deployment"]["state"] == "refused"
    assert report["deleted"]["alerts_deleted"] == 2
    assert report["deleted"]["deleted_at"] is not None
    assert (report["figures"], report["trial"], report["versions"], report["devices"]) == (None, None, [], [])
    assert report["notes"][0].startswith("The deployment is refused (its authorisation was refused): its 2 alerts")
    assert "This deployment was refused: everything it found was deleted" in page
    assert "<th>Alerts deleted</th><td>2</td>" in page
    assert "faces processed" not in page
    assert 'id="figures"' not in page


def test_a_silent_trials_report_gives_its_true_and_false_matches_and_no_alert_reached_an_officer(
    database: Database, centre: Centre, probe_jpeg: bytes
) -> None:
    now = utc_now()
    watchlist_id, version = watchlist(database, centre, probe_jpeg, now)
    deployment_id = deployment(centre, watchlist_id, now, mode="silent")
    ingest_events(
        database,
        "cam-1",
        device_status(
            device_id="cam-1", at=now - timedelta(minutes=90), faces_processed=400, watchlist_version=version
        ),
    )
    a = [raised.alert_id for raised in raise_alerts(database, probe_jpeg, version, now - timedelta(minutes=50), 4)]
    review(database, a[0], "confirmed", at=now)
    review(database, a[1], "confirmed", at=now)
    review(database, a[2], "dismissed", at=now, reason="not the subject")
    verify(database, a[1], VerifierKind.CONTROL_ROOM, IdentityVerdict.NOT_THE_PERSON)
    with centre.client(Role.AUDITOR) as ada:
        report = ada.get(f"/api/v1/deployments/{deployment_id}/report").json()
        page = ada.get(f"/api/v1/deployments/{deployment_id}/report", params={"format": "html"}).text
    assert report["silent_trial"] is True
    assert report["trial"] == {
        "true_matches": 1,
        "false_matches": 2,
        "unreviewed": 1,
        "false_match_rate": 0.5,
        "faces_per_false_match": 200.0,
    }
    assert report["figures"]["first_verification"] == {"confirmed": 2, "dismissed": 1, "pending": 1}
    assert report["figures"]["alerts_acted_on"] == 0
    assert (
        "Silent trial: 400 faces processed; 4 matches: 1 true matches, 2 false matches, 1 unreviewed; one false match "
        "in 200 faces." in page
    )
    assert "No alert reached an officer" in page
    assert "<th>Dismissed (false match)</th><td>1</td>" in page
    assert "Silent trial report: Op &lt;Falcon&gt;" in page


def test_without_alerts_the_version_in_force_at_the_start_is_reported(
    database: Database, centre: Centre, probe_jpeg: bytes
) -> None:
    now = utc_now()
    watchlist_id, version = watchlist(database, centre, probe_jpeg, now)
    deployment_id = deployment(centre, watchlist_id, now)
    with centre.client(Role.AUDITOR) as ada:
        report = ada.get(f"/api/v1/deployments/{deployment_id}/report").json()
    assert [(v["version"], v["subjects"], v["alerts"], v["basis"]) for v in report["versions"]] == [
        (version, 1, 0, "in_force_at_start")
    ]
    figures = report["figures"]
    assert (figures["faces_processed"], figures["alerts"], figures["false_alerts"]) == (0, 0, 0)
    assert (figures["false_alerts_per_1000_faces"], figures["faces_per_false_alert"]) == (None, None)
    assert figures["false_alerts_per_alert"] is None
