"""A silent trial's alerts: kept from the live queue, escalation, the feed and the officer; reviewed later, by
deployment; never acted on (SQLite and PostgreSQL, through the services and over HTTP)."""

import uuid
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from tests.command.conftest import Register, RunningServer
from tests.command.events import alert, send_watchlist
from tests.command.governance import OPERATOR, ingest_events, review
from tests.command.incidents.test_service import SETTINGS
from tests.command.ingestion.deployments import deploy
from vigil.command.alerts.models import Alert
from vigil.command.audit.models import AuditEntry
from vigil.command.database import Database
from vigil.command.downlink.models import DownlinkMessage
from vigil.command.feed.service import read_entries
from vigil.command.incidents.models import Incident
from vigil.command.incidents.schemas import IncidentOpen
from vigil.command.incidents.service import open_incident
from vigil.command.reviews.errors import AlertInSilentTrial
from vigil.command.reviews.service import confirmed_alert, escalate_unreviewed, review_detail, review_queue
from vigil.command.reviews.trial import trial_alerts
from vigil.events import AlertRaised, DeploymentMode, encode_event, utc_now

GOVERNED, UNGOVERNED = 3, 4


@pytest.fixture
def trial(register: Register, database: Database) -> uuid.UUID:
    """cam-1 (unit A-12) carries version 3, used under a silent trial deployment around Trafalgar Square, and
    version 4, of a watchlist no deployment governs (its alerts are live). Returns the trial's id."""
    register("cam-1", "A-12")
    send_watchlist(database, "cam-1", version=GOVERNED)
    send_watchlist(database, "cam-1", version=UNGOVERNED)
    return deploy(database, mode=DeploymentMode.SILENT, name="Op Wren trial")


def _both(probe_jpeg: bytes, trial: uuid.UUID, *, age_s: float) -> tuple[AlertRaised, AlertRaised]:
    """A silent trial's alert and a live one, both raised ``age_s`` ago."""
    at = utc_now() - timedelta(seconds=age_s)
    first_seen = at - timedelta(seconds=3)
    silent = alert(probe_jpeg, deployment_id=trial, at=at, first_seen_at=first_seen)
    live = alert(probe_jpeg, watchlist_version=UNGOVERNED, at=at, first_seen_at=first_seen)
    return silent, live


def test_a_silent_alert_is_kept_from_the_live_queue_escalation_and_the_feed(
    database: Database, probe_jpeg: bytes, trial: uuid.UUID
) -> None:
    silent, live = _both(probe_jpeg, trial, age_s=300)
    ingest_events(database, "cam-1", silent, live)
    now = utc_now()
    with database.session() as session:
        queue = review_queue(session=session, now=now, limit=10)
        escalated = escalate_unreviewed(session=session, escalation_s=120, now=now)
        session.commit()
        entries = read_entries(session=session, after=0, upto=10**9, limit=99)
    kinds = [(e.kind, getattr(e.payload, "alert_id", None)) for e in entries]
    assert ([a.alert_id for a in queue.alerts], queue.pending) == ([live.alert_id], 1)
    assert [e.alert_id for e in escalated] == [live.alert_id]
    assert [k for k in kinds if k[0] != "unit.changed"] == [
        ("alert.raised", live.alert_id),
        ("alert.escalated", live.alert_id),
    ]


@pytest.mark.parametrize(("decision", "figures"), [("confirmed", (0, 1, 0)), ("dismissed", (0, 0, 1))])
def test_reviewers_list_a_trials_alerts_and_decide_them_for_its_figures_only(
    database: Database, probe_jpeg: bytes, trial: uuid.UUID, decision: str, figures: tuple[int, int, int]
) -> None:
    silent, live = _both(probe_jpeg, trial, age_s=30)
    other = alert(probe_jpeg, deployment_id=trial)
    ingest_events(database, "cam-1", silent, live, other)
    now = utc_now()
    with database.session() as session:
        listed = trial_alerts(session=session, deployment_id=trial, pending=True, limit=1, actor=OPERATOR, now=now)
        detail = review_detail(session=session, alert_id=silent.alert_id, actor=OPERATOR, now=now)
        session.commit()
    assert (listed.deployment_name, [a.alert_id for a in listed.alerts]) == ("Op Wren trial", [silent.alert_id])
    assert (listed.pending, listed.confirmed, listed.dismissed) == (2, 0, 0)  # the figures count them all
    assert (detail.deployment_id, detail.silent, detail.inside_deployment) == (trial, True, True)

    review(database, silent.alert_id, decision, at=now, reason="a different person")
    with database.session() as session:
        decided = trial_alerts(session=session, deployment_id=trial, pending=False, limit=10, actor=OPERATOR, now=now)
        waiting = trial_alerts(session=session, deployment_id=trial, pending=True, limit=10, actor=OPERATOR, now=now)
        stored = session.get_one(Alert, silent.alert_id)
        kinds = [e.kind for e in read_entries(session=session, after=0, upto=10**9, limit=99)]
        told = session.scalar(
            select(func.count()).select_from(DownlinkMessage).where(DownlinkMessage.type == "alert.reviewed")
        )
        viewed = session.scalars(
            select(AuditEntry.action).where(AuditEntry.record_id == str(trial)).order_by(AuditEntry.seq)
        ).all()
        decided_audit = session.scalar(
            select(AuditEntry.details).where(
                AuditEntry.record_id == str(silent.alert_id), AuditEntry.action == f"alert.{decision}"
            )
        )
    assert (stored.review_decision, stored.reviewed_by) == (decision, "u-olivia")
    assert [(a.alert_id, a.decision) for a in decided.alerts] == [(silent.alert_id, decision)]
    assert [a.alert_id for a in waiting.alerts] == [other.alert_id]
    assert (decided.pending + 1, decided.confirmed, decided.dismissed) == (2, *figures[1:])
    # Nobody live hears of it: no review on the feed, nothing sent to the officer's device.
    assert (told, "alert.reviewed" in kinds) == (0, False)
    # Every look at the trial's list is audited, as is the decision (with the silent flag).
    assert viewed == ["deployment.trial_alerts_viewed"] * 3
    assert decided_audit is not None
    assert '"silent":true' in decided_audit


def test_nothing_may_be_done_on_a_confirmed_silent_alert(
    database: Database, probe_jpeg: bytes, trial: uuid.UUID
) -> None:
    silent, _ = _both(probe_jpeg, trial, age_s=30)
    ingest_events(database, "cam-1", silent)
    review(database, silent.alert_id, "confirmed", at=utc_now())
    words = f"alert {silent.alert_id} was made in silent trial deployment {trial}: .* for review only"
    with database.session() as session, pytest.raises(AlertInSilentTrial, match=words):
        confirmed_alert(session=session, alert_id=silent.alert_id)
    with database.session() as session, pytest.raises(AlertInSilentTrial, match=words):
        open_incident(
            session=session,
            request=IncidentOpen(alert_id=silent.alert_id),
            actor=OPERATOR,
            now=utc_now(),
            settings=SETTINGS,
        )
    with database.session() as session:
        assert session.scalar(select(func.count()).select_from(Incident)) == 0


def test_over_http_the_trial_is_listed_decided_and_refused_action(
    server: RunningServer, database: Database, register: Register, operator_token: str, probe_jpeg: bytes
) -> None:
    token = register("cam-1", "A-12")
    send_watchlist(database, "cam-1", version=GOVERNED)
    trial = deploy(database, mode=DeploymentMode.SILENT)
    silent = alert(probe_jpeg, deployment_id=trial)
    with server.client(token) as device, server.client(operator_token) as operator:
        (sent,) = device.post("/api/v1/events", content=encode_event(silent)).json()["results"]
        queue = operator.get("/api/v1/reviews").json()
        listed = operator.get("/api/v1/reviews/trial", params={"deployment_id": str(trial)}).json()
        unknown = operator.get("/api/v1/reviews/trial", params={"deployment_id": str(uuid.uuid4())})
        decided = operator.post(f"/api/v1/reviews/{silent.alert_id}/decision", json={"decision": "confirmed"})
        acted = operator.post("/api/v1/incidents", json={"alert_id": str(silent.alert_id)})
        alerts = operator.get("/api/v1/alerts").json()["alerts"]
    assert sent["outcome"] == "accepted"
    assert (queue["alerts"], queue["pending"]) == ([], 0)
    assert [a["alert_id"] for a in listed["alerts"]] == [str(silent.alert_id)]
    assert unknown.status_code == 404
    assert (decided.status_code, decided.json()["decision"], decided.json()["silent"]) == (200, "confirmed", True)
    assert [(a["deployment_id"], a["silent"], a["review_decision"]) for a in alerts] == [
        (str(trial), True, "confirmed")
    ]
    assert (acted.status_code, acted.json()["error"]["code"]) == (409, "alert_in_silent_trial")
    assert acted.json()["error"]["details"]["deployment_id"] == str(trial)
