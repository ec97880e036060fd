"""``vigil demo`` end to end, as a new user runs it: a process of its own, then its summary and its database.

One run of ``vigil demo --autopilot --duration 60 --headless --json`` on the shared test photos (Obama on the
watchlist; Biden and three others walk past as the public), then checks from the summary and from the command
centre's database and the devices' outboxes that alerts were raised for the watchlist subject only, each was
reviewed by a person's account, incidents were opened and units dispatched, the officers' devices acknowledged
their orders, and nothing was lost between device and server. A shorter run then does the same over a real
MQTT broker, each device connected as itself.
"""

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, select
from sqlalchemy.orm import Session

from vigil.bench.mosquitto import start_broker
from vigil.command.alerts.models import Alert
from vigil.command.dispatches.models import DispatchStatusRecord
from vigil.command.incidents.models import DispatchOrderRecord, Incident
from vigil.command.watchlists.models import WatchlistSubject
from vigil.edge.outbox import Outbox
from vigil.events import DispatchState, ReviewDecision
from vigil.sim.demo import RUN_FOLDER

DURATION_S = 60


@pytest.fixture(scope="module")
def demo_run(testdata: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, Any], Path, str]:
    """One demo run: its summary, its data folder and what it wrote to stderr."""
    data_dir = tmp_path_factory.mktemp("demo")
    command = [sys.executable, "-c", "from vigil.cli.app import main; main()", "demo", "--autopilot"]
    command += ["--duration", str(DURATION_S), "--headless", "--json", "--port", "0"]
    command += ["--photos", str(testdata / "identities" / "train"), "--data-dir", str(data_dir)]
    done = subprocess.run(command, capture_output=True, text=True, timeout=DURATION_S + 120, check=False)
    assert done.returncode == 0, done.stderr[-5000:]
    return json.loads(done.stdout), data_dir, done.stderr


def test_the_summary_counts_a_whole_loop_from_camera_to_officer_on_scene(
    demo_run: tuple[dict[str, Any], Path, str],
) -> None:
    summary, _, stderr = demo_run
    assert summary["watchlist"] == ["obama"]
    assert sorted(summary["public"]) == ["alex_lacamoire", "biden", "kit_harington", "rose_leslie"]
    assert summary["walks_past"]["obama"] >= 2
    assert summary["walks_past"]["biden"] >= 1
    assert summary["faces_seen"] > 100
    assert summary["alerts"] >= 1
    assert summary["alerts_by_subject"] == {"obama": summary["alerts"]}
    assert (summary["true_alerts"], summary["false_alerts"]) == (summary["alerts"], 0)
    assert summary["alerts_raised_on_devices"] == summary["alerts"]
    assert summary["alerts_lost"] == []
    assert summary["outbox_backlog"] == 0
    assert (summary["confirmed"], summary["dismissed"], summary["unreviewed"]) == (summary["alerts"], 0, 0)
    assert summary["incidents"] >= 1
    assert summary["dispatches"] >= 2
    assert summary["acknowledged"] == summary["dispatches"]
    assert summary["orders_not_on_handset"] == 0
    assert summary["on_scene"] >= 1
    # Under an authorised deployment, and two people verified each match acted on: the operator, then the officer.
    assert "DEMO-LFR-0001" in summary["deployment"]
    assert summary["verified_by_officer"] >= 1
    assert summary["refuted"] == 0
    # Face to screen: a real WebSocket, a real pipeline; a few seconds at most on a busy machine.
    face_to_feed = summary["face_to_feed"]
    assert face_to_feed["count"] == summary["alerts"]
    assert 0 < face_to_feed["median_s"] < 15
    assert summary["confirmation_to_on_scene_sim"]["count"] >= 1
    assert summary["confirmation_to_on_scene_sim"]["median_s"] > 0
    # A replacement unit may be refused when it became busy meanwhile; reviews and incidents never are.
    refused = summary["autopilot"]["refused"]
    assert not [r for r in refused if r.startswith(("opening", "confirming", "dismissing", "closing"))], refused
    # The person trying it was told where to look and how to sign in.
    assert summary["page_url"] in stderr
    assert "demo-operator" in stderr
    assert "demo-supervisor" in stderr


def test_the_database_holds_reviewed_alerts_of_the_subject_only_and_the_officers_answers(
    demo_run: tuple[dict[str, Any], Path, str],
) -> None:
    summary, data_dir, _ = demo_run
    engine = create_engine(f"sqlite:///{data_dir / RUN_FOLDER / 'command' / 'command.sqlite'}")
    try:
        with Session(engine) as session:
            subjects = session.scalars(select(WatchlistSubject)).all()
            alerts = session.scalars(select(Alert)).all()
            incidents = session.scalars(select(Incident)).all()
            orders = session.scalars(select(DispatchOrderRecord)).all()
            answers = session.scalars(select(DispatchStatusRecord)).all()
    finally:
        engine.dispose()
    # Two people: the operator proposed the subject, the supervisor approved it.
    assert [(s.subject_id, s.proposed_by, s.approved_by) for s in subjects] == [
        ("obama", "demo-operator", "demo-supervisor")
    ]
    assert len(alerts) == summary["alerts"]
    assert {a.subject_id for a in alerts} == {"obama"}
    assert {a.device_id for a in alerts} <= {"bodycam-01", "bodycam-02"}
    assert all(a.review_decision is ReviewDecision.CONFIRMED for a in alerts)
    assert len({a.deployment_id for a in alerts}) == 1
    assert None not in {a.deployment_id for a in alerts}
    assert {a.reviewer_name for a in alerts} == {"Autopilot (the demo's scripted operator)"}
    assert {i.alert_id for i in incidents} <= {a.alert_id for a in alerts}
    assert len(orders) == summary["dispatches"]
    assert {o.incident_id for o in orders} <= {i.incident_id for i in incidents}
    answered: dict[Any, set[DispatchState]] = {}
    for answer in answers:
        answered.setdefault(answer.dispatch_id, set()).add(answer.status)
    for order in orders:
        assert answered.get(order.dispatch_id, set()) & {DispatchState.ACCEPTED, DispatchState.DECLINED}, order.unit_id
    assert any(DispatchState.ON_SCENE in states for states in answered.values())


def test_every_device_outbox_is_empty_at_the_end(demo_run: tuple[dict[str, Any], Path, str]) -> None:
    _, data_dir, _ = demo_run
    outboxes = sorted((data_dir / RUN_FOLDER / "devices").glob("*/outbox.sqlite"))
    assert [p.parent.name for p in outboxes] == [
        "bodycam-01",
        "bodycam-02",
        "handset-03",
        "handset-04",
        "handset-05",
        "handset-06",
    ]
    for path in outboxes:
        outbox = Outbox(path)
        try:
            assert outbox.backlog() == 0, path.parent.name
        finally:
            outbox.close()


def test_the_demo_runs_over_a_real_broker(testdata: Path, tmp_path: Path) -> None:
    broker = start_broker(tmp_path)
    photos = tmp_path / "photos"  # two of the shared people, linked (never copied): each walks past every 12 s
    photos.mkdir()
    for person in ("obama", "biden"):
        (photos / person).symlink_to(testdata / "identities" / "train" / person)
    command = [sys.executable, "-c", "from vigil.cli.app import main; main()", "demo", "--autopilot", "--headless"]
    command += ["--duration", "20", "--json", "--port", "0", "--bus", broker.url, "--photos", str(photos)]
    command += ["--data-dir", str(tmp_path / "demo"), "--cameras", "1", "--officers-on-foot", "2"]
    command += ["--officers-in-cars", "1"]
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=150, check=False)
    finally:
        broker.stop()
    assert done.returncode == 0, done.stderr[-5000:]
    summary = json.loads(done.stdout)
    assert summary["alerts"] >= 1
    assert summary["alerts_by_subject"] == {"obama": summary["alerts"]}
    assert summary["false_alerts"] == 0
    assert (summary["alerts_raised_on_devices"], summary["alerts_lost"]) == (summary["alerts"], [])
    assert summary["outbox_backlog"] == 0
    assert summary["confirmed"] == summary["alerts"]
    assert summary["acknowledged"] == summary["dispatches"] >= 2
    assert summary["face_to_feed"]["count"] == summary["alerts"]
