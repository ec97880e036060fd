"""The body camera under an authorised deployment: it searches only inside the deployment's area and window, says
why it does not elsewhere, stays silent to the officer in a silent trial, and stops (deleting what it found, when
told) on ``deployment.stopped``.

The agent is the real one (BlazeFace, the ONNX embedder, the real outbox's SQLite file, the handset's screen model,
the real watchlist updater opening a signed, encrypted package) fed synthetic street video in which a watchlist
subject (obama) walks up to the camera; control's messages go through the agent's downlink as they arrive off the bus.
"""

import hashlib
import io
import json
import logging
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from rich.console import Console

from tests.edge.conftest import active_watchlist
from vigil.bus.protocol import Message
from vigil.command.watchlists.service import DEPLOYMENT_AREA_LIMITS as SERVER_DEPLOYMENT_AREA_LIMITS
from vigil.edge.active_watchlist import ActiveWatchlist
from vigil.edge.agent import EdgeAgent, EdgeIdentity
from vigil.edge.deployment import (
    DEPLOYMENT_AREA_LIMITS,
    DeploymentAreaUnusable,
    HeldScope,
    PauseReason,
)
from vigil.edge.notifier import ConsoleNotifier
from vigil.edge.outbox import Outbox
from vigil.edge.position import PositionFix
from vigil.edge.recognition import RecognitionSettings
from vigil.edge.route import SimulatedRoute
from vigil.edge.runner import screen_state
from vigil.edge.screen_state import ScreenState
from vigil.edge.screen_view import ScreenView, StatusBarView
from vigil.edge.settings import ScreenSettings
from vigil.edge.video_spec import open_source
from vigil.edge.watchlist_update import WatchlistUpdater
from vigil.events import (
    AlertRaised,
    AlertReviewed,
    DeploymentMode,
    DeploymentScope,
    DeploymentStopped,
    DeploymentStopReason,
    Event,
    QualitySummary,
    WatchlistAvailable,
    encode_event,
    parse_event,
    topic_for,
    utc_now,
)
from vigil.sim.patrol_scene import standard_patrol_scene
from vigil.vision.blazeface import BlazeFaceDetector
from vigil.vision.face_model import DLIB_MODEL_ID
from vigil.vision.landmarks import FivePointLandmarker
from vigil.vision.quality import QualityPolicy
from vigil.vision.settings import OnnxEmbedderSettings, build_embedder
from vigil.watchlist.operating_point import threshold_for_size
from vigil.watchlist.package import export_package
from vigil.watchlist.store import WatchlistEntry

DEVICE, UNIT = "cam-7", "Bravo-2"
HERE = (51.50809, -0.12804)
"""Where the officer stands (the route's first waypoint; its clock never moves)."""
AROUND_HERE = {
    "type": "Polygon",
    "coordinates": [
        [[-0.1300, 51.5070], [-0.1260, 51.5070], [-0.1260, 51.5095], [-0.1300, 51.5095], [-0.1300, 51.5070]]
    ],
}
ELSEWHERE = {
    "type": "Polygon",
    "coordinates": [
        [[-0.1000, 51.5200], [-0.0950, 51.5200], [-0.0950, 51.5230], [-0.1000, 51.5230], [-0.1000, 51.5200]]
    ],
}
SIGNING_KEY = Ed25519PrivateKey.generate()
DEVICE_KEY = bytes(range(32))
NOW = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)


def _scope(
    *,
    area: dict[str, Any] = AROUND_HERE,
    starts_at: datetime | None = None,
    ends_at: datetime | None = None,
    mode: DeploymentMode = DeploymentMode.LIVE,
) -> DeploymentScope:
    now = utc_now()
    return DeploymentScope(
        deployment_id=uuid.uuid4(),
        area=area,
        starts_at=starts_at or now - timedelta(hours=1),
        ends_at=ends_at or now + timedelta(hours=1),
        mode=mode,
    )


def _fix(lat: float, lon: float) -> PositionFix:
    return PositionFix(lat, lon, accuracy_m=5.0, heading_deg=None, speed_mps=None, at=NOW, source="gps")


@pytest.mark.parametrize(
    ("fix", "now", "expected"),
    [
        (_fix(*HERE), NOW, None),
        (_fix(*HERE), NOW - timedelta(hours=1), None),  # the window's first instant is in it
        (_fix(51.5070, -0.1280), NOW, None),  # on the area's edge: inside
        (_fix(51.5215, -0.0975), NOW, PauseReason.OUTSIDE_AREA),
        (_fix(*HERE), NOW - timedelta(hours=1, seconds=1), PauseReason.BEFORE_WINDOW),
        (_fix(*HERE), NOW + timedelta(hours=1), PauseReason.AFTER_WINDOW),  # the window ends before ends_at
        (None, NOW, PauseReason.NO_FIX),
        (None, NOW + timedelta(hours=2), PauseReason.AFTER_WINDOW),
    ],
)
def test_a_scope_lets_the_device_search_only_inside_its_area_and_window(
    fix: PositionFix | None, now: datetime, expected: PauseReason | None
) -> None:
    held = HeldScope.of(_scope(starts_at=NOW - timedelta(hours=1), ends_at=NOW + timedelta(hours=1)))
    pause = held.pause(fix=fix, now=now)
    assert (None if pause is None else pause.reason) == expected


def test_the_device_reads_deployment_areas_with_the_servers_limits() -> None:
    assert DEPLOYMENT_AREA_LIMITS == SERVER_DEPLOYMENT_AREA_LIMITS


def test_an_area_the_device_cannot_read_refuses_the_scope() -> None:
    open_ring = {"type": "Polygon", "coordinates": [[[-0.13, 51.50], [-0.12, 51.50], [-0.12, 51.51], [-0.13, 51.51]]]}
    scope = _scope(area=open_ring)
    with pytest.raises(DeploymentAreaUnusable, match=str(scope.deployment_id)):
        HeldScope.of(scope)


@pytest.fixture(scope="module")
def street(tmp_path_factory: pytest.TempPathFactory, testdata: Path) -> Path:
    """A street where one watchlist subject (obama) walks up to the camera."""
    footage = standard_patrol_scene(testdata, fps=15, seconds=8, watchlist_people=("obama",), passers_by=())
    return footage.write_mp4(tmp_path_factory.mktemp("video") / "street.mp4")


@dataclass
class Device:
    """A body camera waiting for its first watchlist, its handset screen and its console."""

    agent: EdgeAgent
    screen: ScreenState
    console: io.StringIO
    errors: list[str]
    folder: Path
    entries: list[WatchlistEntry]

    def receive(self, event: Event) -> None:
        """Control's message arrives off the bus."""
        self.agent.downlink(Message(topic=topic_for(event), payload=encode_event(event)))

    def install(self, scope: DeploymentScope | None, *, version: int = 1) -> None:
        """Control announces the watchlist package (under ``scope``); the device fetches and installs it."""
        package = export_package(
            self.entries,
            watchlist_id="wl-1",
            name="Op",
            version=version,
            threshold=threshold_for_size(len(self.entries)),
            model=DLIB_MODEL_ID,
            device_id=DEVICE,
            device_key=DEVICE_KEY,
            signing_key=SIGNING_KEY,
            now=utc_now() - timedelta(seconds=1),
        )
        path = self.folder / f"v{version}.vwl"
        path.write_bytes(package)
        digest = hashlib.sha256(package).hexdigest()
        self.receive(
            WatchlistAvailable(device_id=DEVICE, version=version, sha256=digest, url=path.as_uri(), scope=scope)
        )
        assert self.agent.updater is not None
        self.agent.updater.wait()

    def walk(self, street: Path) -> None:
        with open_source(str(street), realtime=False) as source:
            self.agent.run(source, realtime=False)

    def alerts(self) -> list[AlertRaised]:
        """The alerts waiting in the outbox, read back from its file."""
        return [e for item in self.agent.outbox.oldest(1000) if isinstance(e := parse_event(item.payload), AlertRaised)]

    def stored(self) -> bytes:
        """The bytes of the outbox's files (the database and its write-ahead log)."""
        return b"".join(p.read_bytes() for p in sorted(self.folder.iterdir()) if p.name.startswith("outbox.sqlite"))

    def view(self) -> ScreenView:
        return self.screen.view(health=self.agent.health(), now=utc_now())

    def status(self) -> StatusBarView:
        return self.view().status

    def cards(self) -> list[uuid.UUID]:
        """The alert cards on the handset."""
        return [card.alert_id for card in self.view().alerts]


@pytest.fixture
def has_fix() -> bool:
    """Whether the device has a GPS fix (a test parametrizes it to False)."""
    return True


@pytest.fixture
def device(tmp_path: Path, watchlist_entries: dict[str, WatchlistEntry], has_fix: bool) -> Iterator[Device]:
    """A device standing at HERE, with a GPS fix or without."""
    folder = tmp_path / "device"
    folder.mkdir()
    route = SimulatedRoute([HERE, (51.50927, -0.12493)], 1.4, clock=lambda: NOW.timestamp())
    if has_fix:
        route.start()
    screen = screen_state(ScreenSettings(), device_id=DEVICE, unit_id=UNIT)
    console = io.StringIO()
    errors: list[str] = []

    def updater(active: ActiveWatchlist, on_error: Callable[[str], None]) -> WatchlistUpdater:
        def refused(reason: str) -> None:
            errors.append(reason)
            on_error(reason)

        return WatchlistUpdater(
            active=active,
            device_id=DEVICE,
            device_key=DEVICE_KEY,
            verify_key=SIGNING_KEY.public_key(),
            model=DLIB_MODEL_ID,
            on_error=refused,
        )

    agent = EdgeAgent(
        identity=EdgeIdentity(device_id=DEVICE, unit_id=UNIT),
        detector=BlazeFaceDetector(),
        landmarker=FivePointLandmarker(),
        embedder=build_embedder(OnnxEmbedderSettings()),
        quality_policy=QualityPolicy(),
        watchlist=active_watchlist({}, [], version=0),
        recognition=RecognitionSettings(),
        outbox=Outbox(folder / "outbox.sqlite"),
        bus=None,
        position=route,
        notifiers=[screen, ConsoleNotifier(Console(file=console))],
        updater_factory=updater,
    )
    yield Device(agent, screen, console, errors, folder, [watchlist_entries["obama"]])
    agent.stop()
    agent.outbox.close()


def test_inside_the_deployment_an_alert_carries_its_id(device: Device, street: Path) -> None:
    scope = _scope()
    device.install(scope)
    assert device.agent.watchlist.current.scope is not None
    device.walk(street)
    alerts = device.alerts()
    assert [(a.subject_id, a.deployment_id) for a in alerts] == [("obama", scope.deployment_id)]
    assert device.cards() == [alerts[0].alert_id]
    assert "WATCHLIST ALERT" in device.console.getvalue()
    status = device.status()
    assert (status.search_paused, status.silent_trial) == (None, False)


@pytest.mark.parametrize(
    ("scope", "has_fix", "shown"),
    [
        (_scope(area=ELSEWHERE), True, "Searching paused: outside the deployment's area"),
        (
            _scope(starts_at=utc_now() + timedelta(hours=1), ends_at=utc_now() + timedelta(hours=3)),
            True,
            "Searching paused: before the deployment's window",
        ),
        (
            _scope(starts_at=utc_now() - timedelta(hours=3), ends_at=utc_now() - timedelta(hours=1)),
            True,
            "Searching paused: after the deployment's window",
        ),
        (_scope(), False, "Searching paused: no GPS fix: the deployment is bounded to an area"),
    ],
    ids=["outside-area", "before-window", "after-window", "no-fix"],
)
def test_outside_the_deployment_the_camera_does_not_search_and_says_why(
    device: Device, street: Path, scope: DeploymentScope, shown: str
) -> None:
    device.install(scope)
    device.walk(street)
    stats = device.agent.pipeline.stats
    assert (stats.faces_seen, stats.embeddings, stats.alerts) == (0, 0, 0)  # not even looked at
    assert stats.paused_frames > 0
    assert device.alerts() == []
    assert device.cards() == []
    assert device.console.getvalue() == ""
    status = device.status()
    assert status.search_paused is not None
    assert status.search_paused.startswith(shown)


def test_a_silent_trial_sends_the_alert_to_control_and_shows_the_officer_nothing(
    device: Device, street: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    scope = _scope(mode=DeploymentMode.SILENT)
    device.install(scope)
    revision = device.screen.revision
    device.walk(street)
    alerts = device.alerts()
    assert [(a.subject_id, a.deployment_id) for a in alerts] == [("obama", scope.deployment_id)]
    # Control's review of it (which it should not send) is not shown either.
    device.receive(AlertReviewed(device_id=DEVICE, alert_id=alerts[0].alert_id, decision="confirmed", reviewer="op"))
    assert device.screen.revision == revision
    assert device.cards() == []
    assert device.console.getvalue() == ""
    status = device.status()
    assert (status.silent_trial, status.search_paused) == (True, None)
    assert "obama" not in caplog.text + "".join(repr(vars(r)) for r in caplog.records)


def _other_alert(deployment_id: uuid.UUID | None, probe_jpeg: bytes) -> AlertRaised:
    """An alert of another deployment (or of none), already waiting in the outbox."""
    return AlertRaised(
        device_id=DEVICE,
        alert_id=uuid.uuid4(),
        unit_id=UNIT,
        subject_id="biden",
        watchlist_version=1,
        distance=0.3,
        threshold=0.5,
        quality=QualitySummary(score=0.9),
        frames=2,
        first_seen_at=utc_now(),
        probe_jpeg=probe_jpeg,
        deployment_id=deployment_id,
    )


def test_a_refused_deployment_stops_the_search_and_deletes_its_waiting_alerts(
    device: Device, street: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    scope = _scope()
    device.install(scope)
    device.walk(street)
    (found,) = device.alerts()
    others = [_other_alert(uuid.uuid4(), found.probe_jpeg[:3] + b"other"), _other_alert(None, b"\xff\xd8\xffnone")]
    for other in others:
        device.agent.outbox.put(other)
    crop = json.loads(encode_event(found))["probe_jpeg"][100:164]  # 64 characters of the crop's base64
    assert crop.encode() in device.stored(), "the test looks for the crop where it is not"

    device.receive(
        DeploymentStopped(
            device_id=DEVICE,
            deployment_id=scope.deployment_id,
            reason=DeploymentStopReason.REFUSED,
            delete_results=True,
        )
    )

    assert [a.alert_id for a in device.alerts()] == [o.alert_id for o in others]
    assert crop.encode() not in device.stored(), "the deleted alert's face crop is still in the outbox's files"
    assert device.cards() == []
    current = device.agent.watchlist.current
    assert (current.scope, current.gallery.subjects, current.version) == (None, [], 1)
    status = device.status()
    assert status.search_paused is not None
    assert status.search_paused.startswith("Searching stopped")
    record = next(r for r in caplog.records if r.getMessage() == "deployment.stopped")
    assert (record.deployment_id, record.alerts_deleted, record.subjects_dropped) == (str(scope.deployment_id), 1, 1)

    searched = device.agent.pipeline.stats.embeddings
    device.walk(street)
    assert device.agent.pipeline.stats.embeddings == searched  # no more searching under it
    assert len(device.alerts()) == 2
    # Its package, announced again (even as a newer version), is not installed.
    device.install(scope, version=2)
    assert device.agent.watchlist.current.version == 1
    assert any(str(scope.deployment_id) in error for error in device.errors)


def test_an_ended_deployment_stops_the_search_and_keeps_what_it_found(device: Device, street: Path) -> None:
    scope = _scope()
    device.install(scope)
    device.walk(street)
    found = device.alerts()
    assert len(found) == 1
    device.receive(
        DeploymentStopped(
            device_id=DEVICE, deployment_id=scope.deployment_id, reason=DeploymentStopReason.ENDED, delete_results=False
        )
    )
    assert device.alerts() == found
    assert device.cards() == [found[0].alert_id]
    assert device.agent.watchlist.current.gallery.subjects == []
    assert device.agent.search_pause() is not None


def test_a_stop_for_a_deployment_the_device_does_not_hold_changes_nothing(
    device: Device, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    scope = _scope()
    device.install(scope)
    other = uuid.uuid4()
    device.receive(
        DeploymentStopped(
            device_id=DEVICE, deployment_id=other, reason=DeploymentStopReason.LAPSED, delete_results=True
        )
    )
    assert device.agent.watchlist.current.scope is not None
    assert device.agent.watchlist.current.gallery.subjects != []
    assert [r.deployment_id for r in caplog.records if r.getMessage() == "deployment.stop_unknown"] == [str(other)]


@pytest.mark.parametrize("has_fix", [False])
def test_a_watchlist_no_deployment_governs_is_searched_as_before(device: Device, street: Path) -> None:
    """As before deployments: searched everywhere, even with no fix, the alert shown and sent with no deployment."""
    device.install(None)
    device.walk(street)
    alerts = device.alerts()
    assert [(a.subject_id, a.deployment_id, a.location) for a in alerts] == [("obama", None, None)]
    assert device.cards() == [alerts[0].alert_id]
    status = device.status()
    assert (status.search_paused, status.silent_trial) == (None, False)
