import contextlib
import io
import logging
import sqlite3
import threading
import time
import uuid
from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np
import pytest
from rich.console import Console

from tests.edge.conftest import active_watchlist
from tests.support.command_centre import CopyCounter, command_centre
from tests.support.face_networks import (
    ARCFACE_LIKE_THRESHOLD,
    arcface_like_manifest,
    arcface_like_network,
    link_demo_photos,
)
from tests.support.mosquitto import start_mosquitto
from tests.support.small_disk import SmallDisk, cannot_mount, small_disk, truncate_wal
from tests.watchlist.conftest import make_subject
from vigil.bus.memory import MemoryBus
from vigil.bus.mqtt import MqttBus
from vigil.bus.mqtt_settings import MqttSettings
from vigil.bus.protocol import Message
from vigil.command.ingestion.group import server_session
from vigil.edge.active_watchlist import ActiveWatchlist
from vigil.edge.agent import EdgeAgent, EdgeIdentity
from vigil.edge.device_health import LinkState
from vigil.edge.event_log import EventLog
from vigil.edge.notifier import AlertCard, ConsoleNotifier
from vigil.edge.outbox import Outbox
from vigil.edge.outbox_state import OutboxStorage, StorageFault
from vigil.edge.recognition import RecognitionSettings
from vigil.edge.route import SimulatedRoute
from vigil.edge.runner import load_watchlist
from vigil.edge.video_spec import open_source
from vigil.events import (
    Ack,
    AlertRaised,
    AlertReviewed,
    DispatchCancelled,
    DispatchOrder,
    DispatchState,
    DispatchStatus,
    Event,
    Location,
    MatchEvidence,
    SubjectBrief,
    encode_event,
    parse_event,
)
from vigil.sim.patrol_scene import standard_patrol_scene
from vigil.vision.blazeface import BlazeFaceDetector
from vigil.vision.embedding import face_distance
from vigil.vision.engine import FaceEngine
from vigil.vision.face_model import DLIB_MODEL_ID, ModelIdentity, cosine_to_distance
from vigil.vision.image import RgbImage, load_image
from vigil.vision.landmarks import FivePointLandmarker
from vigil.vision.model_cache import OnnxModelBuild
from vigil.vision.model_slot import load_face_model
from vigil.vision.quality import QualityPolicy
from vigil.vision.settings import OnnxEmbedderSettings, build_embedder
from vigil.watchlist.enrolment import enrol_photo
from vigil.watchlist.errors import ModelMismatch
from vigil.watchlist.keys import create_signing_key, load_signing_key
from vigil.watchlist.operating_point import DLIB_TABLE, table_for_embedder
from vigil.watchlist.package import export_package
from vigil.watchlist.store import WatchlistEntry, WatchlistStore
from vigil.watchlist.subject import utc_now

ROUTE = [(51.50809, -0.12804), (51.50927, -0.12493)]


class RecordingEmbedder:
    """The real ONNX embedder, remembering what it computed so the test can look for it on disk."""

    def __init__(self) -> None:
        self._inner = build_embedder(OnnxEmbedderSettings())
        self.computed: list[np.ndarray] = []

    @property
    def name(self) -> str:
        return self._inner.name

    @property
    def model(self) -> ModelIdentity:
        return self._inner.model

    def embed(self, chips: Sequence[RgbImage]) -> np.ndarray:
        result = self._inner.embed(chips)
        self.computed.extend(result)
        return result


class Screen:
    """A notifier that keeps what it was shown."""

    def __init__(self) -> None:
        self.cards: list[AlertCard] = []
        self.reviews: list[AlertReviewed] = []
        self.orders: list[DispatchOrder] = []
        self.statuses: list[tuple[uuid.UUID, DispatchState, bool]] = []

    def alert(self, card: AlertCard) -> None:
        self.cards.append(card)

    def reviewed(self, review: AlertReviewed) -> None:
        self.reviews.append(review)

    def order(self, order: DispatchOrder) -> None:
        self.orders.append(order)

    def order_cancelled(self, cancellation: DispatchCancelled) -> None:
        raise AssertionError("no stand-downs expected")

    def order_status(self, dispatch_id: uuid.UUID, status: DispatchState, delivered: bool) -> None:
        self.statuses.append((dispatch_id, status, delivered))


def _agent(
    tmp_path: Path,
    watchlist,
    *,
    bus=None,
    embedder=None,
    notifiers=(),
    event_log=None,  # type: ignore[no-untyped-def]
) -> EdgeAgent:
    data = tmp_path / "device"
    data.mkdir(exist_ok=True)
    return EdgeAgent(
        identity=EdgeIdentity(device_id="cam-7", unit_id="Bravo-2"),
        detector=BlazeFaceDetector(),
        landmarker=FivePointLandmarker(),
        embedder=embedder or build_embedder(OnnxEmbedderSettings()),
        quality_policy=QualityPolicy(),
        watchlist=watchlist,
        recognition=RecognitionSettings(),
        outbox=Outbox(data / "outbox.sqlite"),
        bus=bus,
        position=SimulatedRoute(ROUTE, 1.4),
        notifiers=list(notifiers),
        event_log=event_log,
        position_interval_s=0.5,
        status_interval_s=1.0,
    )


def _video(testdata: Path, tmp_path: Path, watchlist_people: tuple[str, ...], passers_by: tuple[str, ...]) -> Path:
    footage = standard_patrol_scene(
        testdata, fps=15, seconds=16, watchlist_people=watchlist_people, passers_by=passers_by
    )
    return footage.write_mp4(tmp_path / "street.mp4")


def test_faces_that_match_nobody_leave_no_trace(
    tmp_path: Path, testdata: Path, watchlist_entries: dict[str, WatchlistEntry], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    video = _video(testdata, tmp_path, (), ("alex_lacamoire", "biden", "rose_leslie", "kit_harington"))
    embedder = RecordingEmbedder()
    console = io.StringIO()
    (tmp_path / "device").mkdir()
    event_log = EventLog(tmp_path / "device" / "events.jsonl")
    agent = _agent(
        tmp_path,
        active_watchlist(watchlist_entries, ["obama"]),
        embedder=embedder,
        notifiers=[ConsoleNotifier(Console(file=console))],
        event_log=event_log,
    )
    agent.start()
    with open_source(str(video), realtime=False) as source:
        agent.run(source, realtime=False)
    time.sleep(1.2)  # let a position and a device status go out
    agent.stop()
    report = agent.report()
    agent.outbox.close()
    event_log.close()

    assert report.alerts == 0
    assert report.tracks >= 4
    assert len(embedder.computed) == report.embeddings > 0  # their faces were searched, in memory

    stored = sqlite3.connect(tmp_path / "device" / "outbox.sqlite")
    kinds = {kind for (kind,) in stored.execute("SELECT type FROM outbox")}
    stored.close()
    logged = [parse_event(line) for line in (tmp_path / "device" / "events.jsonl").read_bytes().splitlines()]
    assert kinds == {e.type for e in logged} == {"position", "device.status"}

    everything = b"".join(p.read_bytes() for p in (tmp_path / "device").rglob("*") if p.is_file())
    everything += caplog.text.encode() + console.getvalue().encode()
    everything += b"".join(repr(vars(record)).encode() for record in caplog.records)
    for marker in (b"\xff\xd8\xff", b"\x89PNG"):
        assert marker not in everything, "an image reached the device's storage or logs"
    for embedding in embedder.computed:
        assert embedding.astype(np.float32).tobytes()[:16] not in everything
        assert f"{embedding[0]:.5f}".encode() not in everything


class ControlRoom:
    """Stands in for the command centre on the in-process bus: stores up events once, acks, replies."""

    def __init__(self, bus: MemoryBus) -> None:
        self.bus = bus
        self.events: dict[uuid.UUID, Event] = {}
        self.order: list[Event] = []
        self._changed = threading.Condition()
        bus.subscribe("vigil/v1/devices/+/up/#", self)

    def __call__(self, message: Message) -> None:
        event = parse_event(message.payload)
        with self._changed:
            if event.id not in self.events:
                self.events[event.id] = event
                self.order.append(event)
            self._changed.notify_all()
        self.send(Ack(device_id=event.device_id, ids=[event.id]))

    def send(self, event: Event) -> None:
        kind = event.type
        self.bus.publish(f"vigil/v1/devices/{event.device_id}/down/{kind}", encode_event(event))

    def wait_for(self, predicate, timeout_s: float = 20) -> bool:  # type: ignore[no-untyped-def]
        with self._changed:
            return self._changed.wait_for(lambda: predicate(self.order), timeout_s)


def test_alert_review_dispatch_and_answers_over_the_bus(
    tmp_path: Path, testdata: Path, watchlist_entries: dict[str, WatchlistEntry], hog_engine: FaceEngine
) -> None:
    video = _video(testdata, tmp_path, ("obama",), ("biden",))
    bus = MemoryBus()
    room = ControlRoom(bus)
    screen = Screen()
    agent = _agent(tmp_path, active_watchlist(watchlist_entries, ["obama"]), bus=bus, notifiers=[screen])
    agent.start()
    with open_source(str(video), realtime=False) as source:
        agent.run(source, realtime=False)

    assert room.wait_for(lambda events: any(isinstance(e, AlertRaised) for e in events))
    alert = next(e for e in room.order if isinstance(e, AlertRaised))
    assert (alert.subject_id, alert.unit_id, alert.device_id) == ("obama", "Bravo-2", "cam-7")
    assert alert.model == DLIB_MODEL_ID  # the network whose embeddings matched, for the centre to check
    assert alert.location is not None
    assert abs(alert.location.lat - 51.508) < 0.01
    assert alert.distance <= alert.threshold
    # The one image that leaves is the matched face: it is obama's, not the passer-by's.
    probe_faces = hog_engine.analyse(load_image(alert.probe_jpeg))
    assert len(probe_faces) == 1
    obama = watchlist_entries["obama"].templates[0].embedding
    assert probe_faces[0].embedding is not None
    assert face_distance(probe_faces[0].embedding, obama) <= 0.6
    assert [c.subject_id for c in screen.cards] == ["obama"]
    assert screen.cards[0].watchlist_jpeg.startswith(b"\xff\xd8")

    room.send(AlertReviewed(device_id="cam-7", alert_id=alert.alert_id, decision="confirmed", reviewer="op.a"))
    order = DispatchOrder(
        device_id="cam-7",
        dispatch_id=uuid.uuid4(),
        incident_id=uuid.uuid4(),
        unit_id="Bravo-2",
        target=alert.location or Location(lat=0, lon=0),
        area={"type": "Polygon", "coordinates": [[[-0.13, 51.5], [-0.12, 51.5], [-0.12, 51.51], [-0.13, 51.5]]]},
        subject=SubjectBrief(subject_id="obama", name="Obama", category="wanted_on_warrant"),
        evidence=MatchEvidence(
            alert_id=alert.alert_id,
            seen_at=alert.first_seen_at,
            distance=alert.distance,
            threshold=alert.threshold,
            probe_jpeg=alert.probe_jpeg,
        ),
    )
    room.send(order)
    deadline = time.monotonic() + 10
    while (not screen.orders or not screen.reviews) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert [r.decision for r in screen.reviews] == ["confirmed"]
    assert [o.dispatch_id for o in screen.orders] == [order.dispatch_id]

    steps = [DispatchState.ACCEPTED, DispatchState.EN_ROUTE, DispatchState.ON_SCENE, DispatchState.CLEARED]
    for step in steps:
        agent.answer(order.dispatch_id, step)
    assert room.wait_for(lambda events: sum(isinstance(e, DispatchStatus) for e in events) == 4)
    assert [e.status for e in room.order if isinstance(e, DispatchStatus)] == steps
    deadline = time.monotonic() + 10
    while len([d for *_, d in screen.statuses if d]) < 4 and time.monotonic() < deadline:
        time.sleep(0.05)
    # Acknowledged answers left the outbox and show as delivered; only the latest positions may still wait.
    assert [(s, d) for _, s, d in screen.statuses if d] == [(step, True) for step in steps]
    assert {item.type for item in agent.outbox.oldest()} <= {"position", "device.status"}
    agent.stop()
    agent.outbox.close()
    bus.stop()


@pytest.mark.parametrize(("version", "reported"), [(0, None), (3, 3)])
def test_a_device_waiting_for_its_first_watchlist_reports_none_in_its_status(
    tmp_path: Path, version: int, reported: int | None
) -> None:
    bus = MemoryBus()
    statuses: list[Event] = []
    bus.subscribe("vigil/v1/devices/cam-7/up/device.status", lambda m: statuses.append(parse_event(m.payload)))
    agent = _agent(tmp_path, active_watchlist({}, [], version=version), bus=bus)
    agent.start()
    try:
        deadline = time.monotonic() + 10
        while not statuses and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        agent.stop()
        agent.outbox.close()
        bus.stop()
    assert statuses, "no device status was sent"
    assert [getattr(s, "watchlist_version", "missing") for s in statuses[:1]] == [reported]


def test_a_network_of_another_shape_runs_from_enrolment_to_the_alert(
    tmp_path: Path, testdata: Path, onnx_model: OnnxModelBuild, hog_engine: FaceEngine
) -> None:
    """A force's 112 px cosine network (64 numbers) enrols, is packaged, loads on the device and alerts by name."""
    (tmp_path / "network").mkdir()
    network = arcface_like_network(onnx_model.path, tmp_path / "network" / "arcface_like.onnx")
    slot = load_face_model(
        arcface_like_manifest(network), check_photos=link_demo_photos(testdata, tmp_path / "check_photos")
    )
    engine = FaceEngine(
        detector=hog_engine.detector, landmarker=FivePointLandmarker(), embedder=slot, quality_policy=QualityPolicy()
    )
    table = table_for_embedder(slot)
    with WatchlistStore.create(tmp_path / "watchlist.sqlite", name="Op") as store:
        photos = sorted((testdata / "identities" / "train" / "obama").iterdir())
        store.add(
            make_subject("obama"),
            [enrol_photo(engine, load_image(photo), subject_id="obama", source=photo.name) for photo in photos],
        )
        store.approve("obama", approver="sgt.jones")
        create_signing_key(tmp_path / "sign.pem", tmp_path / "verify.pem")
        package = export_package(
            store.live_entries(),
            watchlist_id=store.watchlist_id,
            name=store.name,
            version=store.version,
            threshold=store.operating_threshold(table),
            model=slot.model.model_id,
            device_id="cam-7",
            device_key=bytes(range(32)),
            signing_key=load_signing_key(tmp_path / "sign.pem"),
            now=utc_now(),
        )
    (tmp_path / "list.vwl").write_bytes(package)
    (tmp_path / "cam.key").write_text(bytes(range(32)).hex())
    keys = {"device_key": tmp_path / "cam.key", "verify_key": tmp_path / "verify.pem", "device_id": "cam-7"}
    with pytest.raises(ModelMismatch, match=f"this device uses face model {DLIB_MODEL_ID}"):
        load_watchlist(tmp_path / "list.vwl", table=DLIB_TABLE, **keys)  # type: ignore[arg-type]
    loaded = load_watchlist(tmp_path / "list.vwl", table=table, **keys)  # type: ignore[arg-type]
    assert loaded.gallery.threshold == pytest.approx(cosine_to_distance(ARCFACE_LIKE_THRESHOLD))

    video = _video(testdata, tmp_path, ("obama",), ("biden",))
    bus = MemoryBus()
    room = ControlRoom(bus)
    agent = _agent(tmp_path, ActiveWatchlist(loaded), bus=bus, embedder=slot)
    agent.start()
    with open_source(str(video), realtime=False) as source:
        agent.run(source, realtime=False)
    assert room.wait_for(lambda events: any(isinstance(e, AlertRaised) for e in events))
    agent.stop()
    agent.outbox.close()
    alerts = [e for e in room.order if isinstance(e, AlertRaised)]
    assert [(a.subject_id, a.model) for a in alerts] == [("obama", slot.model.model_id)]
    assert alerts[0].distance <= alerts[0].threshold == loaded.gallery.threshold


@pytest.fixture
def device_disk(tmp_path: Path) -> Iterator[SmallDisk]:
    """The device's data folder on a real 8 MiB file system of its own, to fill."""
    reason = cannot_mount()
    if reason is not None:
        pytest.skip(reason)
    with contextlib.ExitStack() as stack:
        try:
            mounted = stack.enter_context(small_disk(tmp_path / "device", size_kib=8192))
        except RuntimeError as exc:
            pytest.skip(f"cannot mount a tmpfs here: {exc}")
        yield mounted


@pytest.mark.parametrize("link_while_full", ["down", "up"])
def test_the_disk_full_mid_shift_loses_no_alert_the_officer_saw(
    tmp_path: Path,
    testdata: Path,
    watchlist_entries: dict[str, WatchlistEntry],
    device_disk: SmallDisk,
    link_while_full: str,
) -> None:
    """Positions go to disk; the disk fills; alerts are raised and shown; the disk is freed: every alert arrives once.

    The receiving end is the real command centre (SQLite), which acknowledges an event only once it is stored.
    With the link down while the disk is full, the alerts wait in memory and are written to disk, in order, when
    it is freed; with the link up, they are sent from memory and the server's ack removes them there.
    """
    people = ("obama", "biden", "rose_leslie")
    video = _video(testdata, tmp_path, people, ("alex_lacamoire",))
    bus = MemoryBus()
    sent = CopyCounter(bus)
    screen = Screen()
    agent = _agent(tmp_path, active_watchlist(watchlist_entries, list(people)), bus=bus, notifiers=[screen])
    outbox_file = device_disk.path / "outbox.sqlite"
    try:
        with command_centre(
            tmp_path / "command", bus, device_id="cam-7", unit_id="Bravo-2", watchlist_version=1, subjects=people
        ) as centre:
            agent.start()
            try:
                assert centre.wait_for(lambda c: len(c.positions()) >= 2)
                if link_while_full == "down":
                    bus.set_link(up=False)
                truncate_wal(outbox_file)  # the next write must grow the file: the full disk refuses it
                device_disk.fill()
                with open_source(str(video), realtime=False) as source:
                    agent.run(source, realtime=False)
                assert screen.cards, "the video raised no alert"
                during = agent.outbox.state()
                health = agent.health()
                assert during.fault is StorageFault.FULL
                assert health.storage_warning is not None
                assert health.storage_warning.startswith("Storage full — ")
                if link_while_full == "down":
                    assert during.in_memory >= len(screen.cards)
                    assert f"{during.in_memory} events only in memory, not yet sent" in health.storage_warning
                    assert agent.report().outbox_storage.startswith("memory: storage full")

                device_disk.free()
                deadline = time.monotonic() + 20
                while agent.outbox.state().storage is not OutboxStorage.DISK and time.monotonic() < deadline:
                    time.sleep(0.05)
                assert agent.outbox.state().storage is OutboxStorage.DISK, "the freed disk was not used again"
                bus.set_link(up=True)
                shown = [card.alert_id for card in screen.cards]
                assert centre.wait_for(lambda c: set(c.alerts()) >= set(shown)), (
                    f"stored {centre.alerts()} of shown {shown}; rejected: {centre.metrics().rejected_by_reason}"
                )
                deadline = time.monotonic() + 20
                while agent.outbox.state().in_memory and time.monotonic() < deadline:
                    time.sleep(0.05)
            finally:
                agent.stop()
            final = agent.outbox.state()
            # Stopped, the device sends nothing more: the server takes every copy sent before it stops too.
            assert centre.wait_for(lambda c: c.handled() >= sent.copies()[0], timeout_s=10)
            stored = centre.alerts()
            positions = centre.positions()
            errors = centre.reported_errors()
            ingested = centre.metrics()
    finally:
        bus.stop()
        agent.outbox.close()  # once no ack can reach it

    copies, alert_events = sent.copies(alerts_only=True)
    event_copies, events_sent = sent.copies()
    counts = {
        "shown": len(shown),
        "sent": copies,
        "stored": len(stored),
        "lost": len(set(shown) - set(stored)),
        "duplicated": len(stored) - len(set(stored)),
        "resent_copies": copies - alert_events,
        "events_sent": events_sent,
        "event_copies_sent": event_copies,
        "events_stored": ingested.accepted,
        "server_duplicates": ingested.duplicate,  # copies of stored events (any type), acknowledged and dropped
        "server_rejected": ingested.rejected,
        "positions_stored": len(positions),
        "spilled_to_memory": final.spilled,
        "dropped": final.dropped,
    }
    print(f"full-disk fault test (link {link_while_full} while full): {counts}")
    assert stored == shown  # every alert the officer saw, stored once, in the order shown
    assert ingested.rejected == 0, ingested.rejected_by_reason
    assert ingested.accepted == events_sent  # every event the device sent was stored
    # The command centre was told, in the statuses the device sent while its disk was full.
    warned = [error for error in errors if error is not None and error.startswith("Storage full")]
    assert warned, f"no device status stored with the storage warning: {errors}"
    assert final.spilled >= len(shown)
    assert (final.in_memory, final.dropped) == (0, 0)
    assert positions == sorted(positions)  # oldest first overall


def test_a_camera_started_with_the_broker_down_records_and_delivers_in_order_when_it_comes(
    tmp_path: Path, testdata: Path, watchlist_entries: dict[str, WatchlistEntry]
) -> None:
    """The camera starts with no broker, raises alerts, and they all arrive in order once the broker starts.

    The receiving end is the real command centre (SQLite) on its own MQTT session, made before the broker went
    down; it acknowledges an event only once it is stored.
    """
    people = ("obama", "biden")
    video = _video(testdata, tmp_path, people, ("alex_lacamoire",))
    (tmp_path / "broker").mkdir()
    broker = start_mosquitto(tmp_path / "broker", persistence=True)
    # The server's session (its share of the devices' events) and an observer's exist on the broker; then the
    # broker goes down.
    server_bus = MqttBus(server_session(MqttSettings(host=broker.host, port=broker.port, client_id="command-1")))
    observer = MqttBus(MqttSettings(host=broker.host, port=broker.port, client_id="observer"))
    device: MqttBus | None = None
    agent: EdgeAgent | None = None
    try:
        sent = CopyCounter(observer)
        with command_centre(
            tmp_path / "command", server_bus, device_id="cam-7", unit_id="Bravo-2", watchlist_version=1, subjects=people
        ) as centre:
            broker.stop()
            device = MqttBus(
                MqttSettings(host=broker.host, port=broker.port, client_id="edge-cam-7", publish_timeout_s=2),
                wait_for_broker=False,
            )
            screen = Screen()
            agent = _agent(tmp_path, active_watchlist(watchlist_entries, list(people)), bus=device, notifiers=[screen])
            try:
                assert not device.connected
                agent.start()
                with open_source(str(video), realtime=False) as source:
                    agent.run(source, realtime=False)
                shown = [card.alert_id for card in screen.cards]
                assert shown, "the video raised no alert"
                assert agent.health().link is LinkState.DOWN
                waiting = agent.outbox.backlog()
                assert waiting >= len(shown)
                assert (centre.positions(), centre.alerts()) == ([], [])

                broker.restart()
                assert centre.wait_for(lambda c: set(c.alerts()) >= set(shown), timeout_s=90), (
                    f"stored {centre.alerts()} of shown {shown}; rejected: {centre.metrics().rejected_by_reason}"
                )
                deadline = time.monotonic() + 30
                while agent.outbox.backlog() > 1 and time.monotonic() < deadline:  # the latest may be in flight
                    time.sleep(0.05)
            finally:
                agent.stop()
            # Stopped, the device sends nothing more: the server takes every copy sent before it stops too.
            assert centre.wait_for(lambda c: c.handled() >= sent.copies()[0], timeout_s=10)
            stored = centre.alerts()
            positions = centre.positions()
            ingested = centre.metrics()
    finally:
        if device is not None:
            device.stop()
        if agent is not None:
            agent.outbox.close()  # once no ack can reach it
        server_bus.stop()
        observer.stop()
        if broker.process.poll() is None:
            broker.stop()
    copies, alert_events = sent.copies(alerts_only=True)
    event_copies, events_sent = sent.copies()
    print(
        "broker-down start fault test:",
        {
            "shown": len(shown),
            "waiting_before_broker": waiting,
            "sent": copies,
            "stored": len(stored),
            "lost": len(set(shown) - set(stored)),
            "duplicated": len(stored) - len(set(stored)),
            "resent_copies": copies - alert_events,
            "events_sent": events_sent,
            "event_copies_sent": event_copies,
            "events_stored": ingested.accepted,
            "server_duplicates": ingested.duplicate,  # copies of stored events (any type), acknowledged and dropped
            "server_rejected": ingested.rejected,
            "positions_stored": len(positions),
        },
    )
    assert stored == shown  # all, once each, in the order the officer saw them
    assert ingested.rejected == 0, ingested.rejected_by_reason
    assert ingested.accepted == events_sent  # every event the device sent was stored
    # Every event arrived oldest first: the positions' times never go back.
    assert positions == sorted(positions)
