"""``vigil demo``: a simulated patrol shift from camera to dispatch, on one machine.

:class:`Demo` assembles the real parts, in this order:

1. the demo's people from their photos (:mod:`vigil.sim.photos`): the watchlist subjects and the public;
2. a fresh run folder under the data folder: the centre's package keys, the devices' outboxes and, unless a
   database is given, the embedded SQLite database;
3. the command centre (:func:`vigil.command.app.create_app`) served by uvicorn on a port, so a person can open
   the control-room page while it runs, on the in-process bus (or the MQTT broker given);
4. the demo's users, and every officer's device registered with its package key (:mod:`vigil.sim.demo_setup`);
5. the shift (:class:`~vigil.sim.shift.Shift`): officers on foot and in cars on central London's streets, each
   device a real edge agent on the bus, the first K wearing body cameras; the devices come on duty first;
6. the operator's live feed (:mod:`vigil.sim.operator_feed`) and, with the autopilot, the scripted operator;
7. the watchlist, over HTTP: proposed by the operator, approved by the supervisor, carried by the cameras;
   the cameras start once each holds the signed package made for it;
8. on :meth:`Demo.stop`: the cameras stop, the devices' outboxes drain, the operator finishes what reached the
   feed, the officers answer the last orders, everything stops, and :func:`~vigil.sim.demo_summary.summarise`
   reports.
"""

import json
import logging
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from pydantic import BaseModel, ConfigDict, Field, SecretStr
from sqlalchemy import func, select

from vigil.bus.memory import MemoryBus
from vigil.bus.mqtt import MqttBus
from vigil.bus.mqtt_settings import MqttSettings
from vigil.bus.protocol import Bus
from vigil.command.alerts.schemas import AlertSummary
from vigil.command.control_room.page import PAGE_PATH
from vigil.command.incidents.models import DispatchOrderRecord, OrderState
from vigil.command.runtime import ServerRuntime
from vigil.command.settings import CommandSettings, MemoryBusSettings, SchedulerSettings, WatchlistServerSettings
from vigil.dispatch.settings import DispatchSettings, RankingSettings
from vigil.edge.active_watchlist import ActiveWatchlist, LoadedWatchlist
from vigil.edge.watchlist_update import WatchlistUpdater, fetch_url
from vigil.sim.autopilot import Autopilot, AutopilotSettings
from vigil.sim.city import City
from vigil.sim.clock import ScaledClock
from vigil.sim.control_api import ControlRoomClient
from vigil.sim.demo_setup import (
    DemoDevice,
    DemoPeople,
    PackageKeyFiles,
    create_demo_users,
    enrol_demo_watchlist,
    make_package_keys,
    register_demo_devices,
)
from vigil.sim.demo_summary import DemoSummary, summarise
from vigil.sim.errors import DemoError
from vigil.sim.footage import Actor, Cast
from vigil.sim.ground_truth import AlertSeen, in_view_when_seen, match_alerts
from vigil.sim.handset_log import HandsetLog
from vigil.sim.london import central_london
from vigil.sim.operator_feed import OperatorFeed
from vigil.sim.photos import DEFAULT_DATA_DIR, DEFAULT_SUBJECTS, DemoPhotos, find_demo_photos
from vigil.sim.served_centre import DEFAULT_PORT, ServedCommandCentre, listen_on_default
from vigil.sim.shift import CameraParts, Shift, ShiftMember, ShiftSettings, UpdaterFactory, roster
from vigil.vision.blazeface import BlazeFaceDetector
from vigil.vision.landmarks import FivePointLandmarker
from vigil.vision.quality import QualityPolicy
from vigil.vision.settings import OnnxEmbedderSettings, build_embedder
from vigil.watchlist.gallery import Gallery
from vigil.watchlist.keys import load_device_key, load_verify_key

_log = logging.getLogger(__name__)

RUN_FOLDER = "run"
"""The demo's state for one run, under the data folder; emptied at each start (the photos are kept)."""
DEPLOYMENT_MARGIN_M = 300.0
"""How far the demo's deployment area reaches beyond its farthest street point (GPS noise, cars turning)."""


class DemoSettings(BaseModel):
    """Everything ``vigil demo`` runs with."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    data_dir: Path = Field(DEFAULT_DATA_DIR, description="The demo's folder: fetched photos, and each run's state.")
    photos: Path | None = Field(None, description="A folder of per-person photo folders; None: the fetched ones.")
    subjects: tuple[str, ...] = Field(DEFAULT_SUBJECTS, min_length=1, description="Who is on the watchlist.")
    database_url: str | None = Field(None, description="The command centre's database; None: SQLite in the run.")
    bus: MqttSettings | None = Field(None, description="An MQTT broker; None: the in-process bus.")
    host: str = Field("127.0.0.1", description="Address the command centre listens on.")
    port: int | None = Field(
        None,
        ge=0,
        le=65535,
        description=f"Port the command centre listens on (0: any free one); None: {DEFAULT_PORT}, or a free one "
        f"when {DEFAULT_PORT} is taken.",
    )
    shift: ShiftSettings = Field(default_factory=ShiftSettings)
    speed: float = Field(10.0, ge=0.1, le=1000, description="Simulated seconds per real second (the officers).")
    autopilot: bool = Field(False, description="Run the scripted operator.")
    autopilot_settings: AutopilotSettings = Field(default_factory=AutopilotSettings)
    watchlist_timeout_s: float = Field(120.0, gt=0, le=3600, description="Longest wait for the cameras' watchlist.")
    drain_timeout_s: float = Field(30.0, gt=0, le=3600, description="Longest wait for the outboxes to drain.")


@dataclass(frozen=True)
class DemoStarted:
    """What a person needs to follow the demo.

    Attributes:
        page_url: the control-room page.
        people: the demo's users and their credentials.
        photos: who is on the watchlist, who walks past.
        members: everyone on duty.
        run_dir: this run's folder.
    """

    page_url: str
    people: DemoPeople
    photos: DemoPhotos
    members: list[ShiftMember]
    run_dir: Path


class DemoProgress(BaseModel):
    """Where the demo stands, for the live display."""

    elapsed_s: float
    frames_processed: int
    faces_seen: int
    alerts_raised: int
    alerts_on_feed: int
    outbox_backlog: int
    confirmed: int | None = Field(description="Confirmed by the autopilot; None without it.")
    dismissed: int | None
    units_dispatched: int | None
    incidents_closed: int | None


class Demo:
    """The demo; see the module's description. ``start()``, then ``stop()`` once (also after a failed start)."""

    def __init__(self, settings: DemoSettings, *, say: Callable[[str], None] = lambda line: None) -> None:
        """Prepare the demo; nothing runs until :meth:`start`.

        Args:
            settings: what to run.
            say: told each step as it starts (plain lines, for the person waiting).
        """
        self.settings = settings
        self._say = say
        self._server: ServedCommandCentre | None = None
        self._bus: Bus | None = None
        self._runtime: ServerRuntime | None = None
        self._shift: Shift | None = None
        self._feed: OperatorFeed | None = None
        self._autopilot: Autopilot | None = None
        self._console: ControlRoomClient | None = None
        self._handsets: dict[str, HandsetLog] = {}
        self._clock = ScaledClock(settings.speed)
        self._started: DemoStarted | None = None
        self._on_duty_at: float | None = None
        self._off_duty_at: float | None = None

    def start(self) -> DemoStarted:
        """Run the set-up steps and put the cameras on the street.

        Raises:
            DemoPhotosError: the photos cannot be found or used.
            DemoPortInUse: the port is taken.
            DemoDatabaseNotEmpty: the given database holds an earlier demo.
            DemoStepRefused: the server refused a step (a photo without a usable face, say).
            DemoError: the cameras did not receive the watchlist in time.
            DatabaseUnavailable, BusError, VisionError: the database or the broker cannot be reached, or a model
                cannot be loaded.
        """
        settings = self.settings
        photos = find_demo_photos(photos=settings.photos, data_dir=settings.data_dir, subjects=settings.subjects)
        run_dir = settings.data_dir / RUN_FOLDER
        shutil.rmtree(run_dir, ignore_errors=True)
        run_dir.mkdir(parents=True)
        keys = make_package_keys(run_dir / "keys")
        city = City(central_london())
        streets = run_dir / "streets.geojson"
        streets.write_text(json.dumps(city.street_geojson()), encoding="utf-8")

        self._say("starting the command centre")
        runtime, base_url, command = self._start_command_centre(run_dir, keys, streets)
        self._say("creating the demo's users and registering the officers' devices")
        people = create_demo_users(
            database=runtime.database, passwords=runtime.passwords, sealer=runtime.sealer, settings=command.accounts
        )
        devices = register_demo_devices(
            database=runtime.database, members=roster(settings.shift), wrap_key=load_device_key(keys.wrap_key)
        )
        self._say(f"cutting out {len(photos.people)} people for the street cameras")
        cast = Cast([Actor(person.person_id, person.scene_photo) for person in photos.people])
        self._say("putting the officers on duty")
        # The watchlist the cameras start with (empty until the first package) and every package they take must be
        # of their embedder's face network.
        model = build_embedder(_CAMERA_EMBEDDER).model.model_id
        self._shift = Shift(
            settings=settings.shift,
            city=city,
            clock=self._clock,
            data_dir=run_dir,
            bus_for=lambda member: self._device_bus(devices[member.device_id]),
            watchlist=ActiveWatchlist(
                LoadedWatchlist(
                    gallery=Gallery([], threshold=0.6, model=model), version=0, valid_until=None, package=None
                )
            ),
            camera_parts=_camera_parts,
            cast=cast,
            notifiers_for=lambda member: [self._handsets.setdefault(member.device_id, HandsetLog(member.device_id))],
            updaters_for=_updaters(devices, load_verify_key(keys.verify_key), model=model),
        )
        self._shift.start(cameras=False)

        self._console = ControlRoomClient(base_url, people.autopilot)
        if settings.autopilot:
            self._autopilot = Autopilot(client=self._console, judge=self._judge, settings=settings.autopilot_settings)
            self._autopilot.start()
        self._feed = OperatorFeed(
            base_url=base_url,
            token=self._console.token,
            listeners=[self._autopilot.listen] if self._autopilot is not None else [],
        )
        self._feed.start()

        self._say("enrolling the watchlist: proposed by the operator, approved by the supervisor")
        cameras = [m.device_id for m in self._shift.members if m.camera]
        self._say("recording the deployment's authorisation: the cameras search only inside the city and its window")
        enrol_demo_watchlist(
            base_url=base_url,
            people=people,
            subjects=photos.subjects,
            cameras=cameras,
            area=city.covering_circle(margin_m=DEPLOYMENT_MARGIN_M),
        )
        self._say("waiting for each body camera to load its signed watchlist package")
        self._wait_for_watchlists()
        self._shift.start_cameras()
        self._on_duty_at = time.monotonic()
        self._started = DemoStarted(
            page_url=f"{base_url}{PAGE_PATH}/",
            people=people,
            photos=photos,
            members=self._shift.members,
            run_dir=run_dir,
        )
        return self._started

    def _start_command_centre(
        self, run_dir: Path, keys: PackageKeyFiles, streets: Path
    ) -> tuple[ServerRuntime, str, CommandSettings]:
        """Serve the command centre; returns its runtime, its base URL and its settings."""
        settings = self.settings
        listener = listen_on_default(settings.host, settings.port, say=self._say)
        port = listener.getsockname()[1]
        command = CommandSettings(
            data_dir=run_dir / "command",
            database_url=settings.database_url,
            bus=settings.bus if settings.bus is not None else MemoryBusSettings(),
            host=settings.host,
            port=port,
            watchlists=WatchlistServerSettings(signing_key_file=keys.signing_key, key_wrap_file=keys.wrap_key),
            scheduler=SchedulerSettings(downlink_every_s=1.0),
            dispatch=DispatchSettings(ranking=RankingSettings(road_network_path=streets)),
        )
        if settings.bus is None:
            self._bus = MemoryBus()
        self._server = ServedCommandCentre(command, bus=self._bus, listener=listener)
        self._runtime = self._server.start()
        return self._runtime, self._server.url, command

    def progress(self) -> DemoProgress:
        """Where the demo stands now."""
        reports = self._shift.reports() if self._shift is not None else {}
        counts = self._autopilot.counts() if self._autopilot is not None else None
        return DemoProgress(
            elapsed_s=time.monotonic() - self._on_duty_at if self._on_duty_at is not None else 0.0,
            frames_processed=sum(r.frames_processed for r in reports.values()),
            faces_seen=sum(r.faces_seen for r in reports.values()),
            alerts_raised=sum(r.alerts for r in reports.values()),
            alerts_on_feed=len(self._feed.alerts()) if self._feed is not None else 0,
            outbox_backlog=sum(r.outbox_backlog for r in reports.values()),
            confirmed=counts.confirmed if counts is not None else None,
            dismissed=counts.dismissed if counts is not None else None,
            units_dispatched=counts.units_dispatched if counts is not None else None,
            incidents_closed=counts.incidents_closed if counts is not None else None,
        )

    def stop(self) -> DemoSummary | None:
        """Stop everything in order and summarise; None when the demo never got its cameras on the street."""
        summary = None
        try:
            if self._shift is not None:
                self._shift.stop_cameras()
                self._off_duty_at = time.monotonic()
                self._drain()
            if self._autopilot is not None:
                self._autopilot.stop()
                self._await_answers()
                self._drain()
            if self._feed is not None:
                self._feed.stop()
            if self._shift is not None:
                self._shift.stop()
            if self._started is not None and self._shift is not None and self._server is not None:
                summary = self._summarise()
        finally:
            if self._console is not None:
                self._console.close()
            if self._server is not None:
                self._server.stop()
            if self._bus is not None:
                self._bus.stop()
        return summary

    def _summarise(self) -> DemoSummary:
        if self._started is None or self._shift is None or self._server is None:
            raise RuntimeError("the demo was not started")
        if self._runtime is None:
            raise RuntimeError("the command centre is not running")
        runtime = self._runtime
        settings = self.settings
        return summarise(
            page_url=self._started.page_url,
            on_duty_s=(self._off_duty_at or time.monotonic()) - (self._on_duty_at or time.monotonic()),
            speed=settings.speed,
            officers=(settings.shift.officers_on_foot, settings.shift.officers_in_cars, settings.shift.cameras),
            watchlist=[p.person_id for p in self._started.photos.subjects],
            public=[p.person_id for p in self._started.photos.public],
            database=runtime.database,
            appearances=self._shift.appearances(),
            reports=self._shift.reports(),
            handsets=self._handsets.values(),
            on_screen=self._feed.alerts() if self._feed is not None else [],
            sim_time_of=self._clock.sim_time_of,
            autopilot=self._autopilot.counts() if self._autopilot is not None else None,
        )

    def _device_bus(self, device: DemoDevice) -> Bus:
        if self._bus is not None:
            return self._bus
        if self.settings.bus is None:
            raise RuntimeError("no bus: neither the in-process one nor a broker")
        # Each device its own connection, as itself: the broker's ACL lets it use only its own topics.
        return MqttBus(
            self.settings.bus.model_copy(
                update={
                    "client_id": device.member.device_id,
                    "username": device.member.device_id,
                    "password": SecretStr(device.token),
                }
            )
        )

    def _judge(self, alert: AlertSummary) -> bool:
        """Whether the camera had shown the person the alert names (the ground truth a person's eyes stand in for)."""
        if self._shift is None:
            return False
        (verdict,) = match_alerts(
            self._shift.appearances(), [AlertSeen(alert.device_id, alert.subject_id, alert.received_at)]
        )
        return in_view_when_seen(verdict, alert.first_seen_at)

    def _wait_for_watchlists(self) -> None:
        if self._shift is None:
            raise RuntimeError("the shift is not on duty")
        cameras = [d for d in self._shift.on_duty if d.member.camera]
        deadline = time.monotonic() + self.settings.watchlist_timeout_s
        while not all(d.agent.watchlist.current.version > 0 for d in cameras):
            if time.monotonic() > deadline:
                missing = [d.member.device_id for d in cameras if d.agent.watchlist.current.version == 0]
                raise DemoError(
                    f"{', '.join(missing)} did not receive the watchlist within "
                    f"{self.settings.watchlist_timeout_s:g} s; the server's log says why"
                )
            time.sleep(0.1)

    def _await_answers(self) -> None:
        """Wait (a while) until every order sent has an answer from its officer (the last may be seconds old)."""
        if self._runtime is None:
            return
        deadline = time.monotonic() + self.settings.drain_timeout_s
        while time.monotonic() < deadline:
            with self._runtime.database.session() as session:
                waiting = session.scalar(
                    select(func.count())
                    .select_from(DispatchOrderRecord)
                    .where(DispatchOrderRecord.state == OrderState.SENT)
                )
            if not waiting:
                return
            time.sleep(0.2)
        _log.warning("demo.answers_timed_out", extra={"timeout_s": self.settings.drain_timeout_s})

    def _drain(self) -> None:
        """Wait (a while) until every device's outbox is empty and the feed has every stored alert."""
        if self._shift is None:
            return
        deadline = time.monotonic() + self.settings.drain_timeout_s
        while time.monotonic() < deadline:
            reports = self._shift.reports()
            raised = sum(r.alerts for r in reports.values())
            on_feed = len(self._feed.alerts()) if self._feed is not None else raised
            if all(r.outbox_backlog == 0 for r in reports.values()) and on_feed >= raised:
                return
            time.sleep(0.2)
        _log.warning("demo.drain_timed_out", extra={"timeout_s": self.settings.drain_timeout_s})


def _updaters(
    devices: dict[str, DemoDevice], verify_key: Ed25519PublicKey, *, model: str
) -> Callable[[ShiftMember], UpdaterFactory | None]:
    """Each body camera's watchlist updater: packages fetched with the device's own token, checked with its key.

    ``model`` is the id of the cameras' face network; packages made with another are refused.
    """

    def updater_for(member: ShiftMember) -> UpdaterFactory | None:
        if not member.camera:
            return None
        device = devices[member.device_id]

        def build(active: ActiveWatchlist, on_error: Callable[[str], None]) -> WatchlistUpdater:
            return WatchlistUpdater(
                active=active,
                device_id=member.device_id,
                device_key=device.package_key,
                verify_key=verify_key,
                model=model,
                on_error=on_error,
                fetch=lambda url: fetch_url(url, token=device.token),
            )

        return build

    return updater_for


_CAMERA_EMBEDDER = OnnxEmbedderSettings(threads=1)


def _camera_parts() -> CameraParts:
    return CameraParts(
        detector=BlazeFaceDetector(),
        landmarker=FivePointLandmarker(),
        embedder=build_embedder(_CAMERA_EMBEDDER),
        quality_policy=QualityPolicy(),
    )
