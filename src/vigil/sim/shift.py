"""A simulated patrol shift: officers on the streets, each with an edge agent on the bus, some with body cameras.

:class:`Shift` puts the pieces together as a force would deploy them. Each officer
(:class:`~vigil.sim.officer.SimulatedOfficer`) carries a device running a real
:class:`~vigil.edge.agent.EdgeAgent`: positions from the officer's movement, orders shown to the officer (its
notifier), answers through the agent's order flow, everything through its outbox to the bus. The first
``cameras`` officers also wear a body camera: their agent watches a :class:`~vigil.sim.street_camera.StreetCamera`
where the cast walks past, each camera on a thread of its own with its own detector. An officer without a camera
runs the same agent and never feeds it video: its recognition worker idles, and its vision parts (shared by all
such officers) are never called. One :class:`~vigil.sim.ticker.Ticker` moves every officer along in simulated time.

Registering the devices with the command centre, and the command centre itself, are the caller's:
:func:`roster` says who will be on duty (register them first when their links need their tokens), and
:attr:`Shift.members` who is.
"""

import random
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Self

from pydantic import BaseModel, ConfigDict, Field, model_validator

from vigil.bus.protocol import Bus
from vigil.dispatch.unit import UnitKind
from vigil.edge.active_watchlist import ActiveWatchlist
from vigil.edge.agent import EdgeAgent, EdgeIdentity, EdgeRunReport
from vigil.edge.battery import SimulatedBattery
from vigil.edge.notifier import Notifier
from vigil.edge.outbox import Outbox
from vigil.edge.recognition import RecognitionSettings
from vigil.edge.watchlist_update import WatchlistUpdater
from vigil.sim.city import City
from vigil.sim.clock import Clock
from vigil.sim.footage import Cast
from vigil.sim.officer import OfficerBehaviour, SimulatedOfficer
from vigil.sim.street_camera import Appearance, StreetCamera, StreetSceneSettings
from vigil.sim.ticker import Ticker
from vigil.vision.detection import Detector
from vigil.vision.embedding import Embedder
from vigil.vision.landmarks import FivePointLandmarker
from vigil.vision.quality import QualityPolicy

UpdaterFactory = Callable[[ActiveWatchlist, Callable[[str], None]], WatchlistUpdater]
"""Builds a device's watchlist updater for its watchlist holder (as :class:`~vigil.edge.agent.EdgeAgent` takes it)."""


class ShiftSettings(BaseModel):
    """Who is on duty and how the devices report."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    officers_on_foot: int = Field(4, ge=0, le=1_000, description="Officers patrolling on foot.")
    officers_in_cars: int = Field(2, ge=0, le=1_000, description="Officers patrolling in cars.")
    cameras: int = Field(2, ge=0, le=100, description="Body cameras, worn by the first officers on foot, then cars.")
    seed: int = Field(0, description="Every random choice of the shift: starts, patrols, answers, scenes.")
    behaviour: OfficerBehaviour = Field(default_factory=OfficerBehaviour)
    scene: StreetSceneSettings = Field(default_factory=StreetSceneSettings)
    recognition: RecognitionSettings = Field(default_factory=RecognitionSettings)
    position_interval_s: float = Field(1.0, ge=0.1, le=600, description="Real seconds between positions.")
    status_interval_s: float = Field(30.0, ge=1, le=3_600, description="Real seconds between device statuses.")
    tick_s: float = Field(0.1, ge=0.01, le=10, description="Real seconds between the officers' turns to act.")

    @model_validator(mode="after")
    def _cameras_on_officers(self) -> Self:
        officers = self.officers_on_foot + self.officers_in_cars
        if officers < 1:
            raise ValueError("a shift needs at least one officer")
        if self.cameras > officers:
            raise ValueError(f"{self.cameras} body cameras need as many officers; the shift has {officers}")
        return self


@dataclass(frozen=True)
class ShiftMember:
    """An officer on duty and their device, as the command centre registers them.

    Attributes:
        device_id: the officer's device (``bodycam-01`` with a camera, ``handset-03`` without).
        unit_id: the officer's unit.
        call_sign: what control calls them on the radio.
        radio_id: their radio.
        kind: on foot or in a car.
        camera: whether they wear a body camera.
    """

    device_id: str
    unit_id: str
    call_sign: str
    radio_id: str
    kind: UnitKind
    camera: bool


@dataclass(frozen=True)
class CameraParts:
    """What a body camera's recognition needs; one set per camera (a detector is not shared between threads)."""

    detector: Detector
    landmarker: FivePointLandmarker
    embedder: Embedder
    quality_policy: QualityPolicy


@dataclass(frozen=True)
class OnDuty:
    """An officer on duty with their device's agent, and their camera if they wear one."""

    member: ShiftMember
    officer: SimulatedOfficer
    agent: EdgeAgent
    camera: StreetCamera | None


class Shift:
    """A patrol shift; see the module's description. ``start()``, then ``stop()`` once."""

    def __init__(
        self,
        *,
        settings: ShiftSettings,
        city: City,
        clock: Clock,
        data_dir: Path,
        bus_for: Callable[[ShiftMember], Bus | None],
        watchlist: ActiveWatchlist,
        camera_parts: Callable[[], CameraParts],
        cast: Cast | None,
        notifiers_for: Callable[[ShiftMember], Sequence[Notifier]] = lambda member: (),
        updaters_for: Callable[[ShiftMember], UpdaterFactory | None] = lambda member: None,
    ) -> None:
        """Put the officers on the streets and build their devices; nothing runs until :meth:`start`.

        Args:
            settings: who is on duty and how the devices report.
            city: the streets.
            clock: simulated time.
            data_dir: each device's outbox goes in ``devices/<device_id>/`` here.
            bus_for: each device's link to the command centre (None: offline).
            watchlist: the watchlist every body camera searches.
            camera_parts: makes one set of vision parts (called once per camera, and once for the officers
                without one).
            cast: the people who walk past the cameras; None when the shift has no cameras.
            notifiers_for: what else shows each officer's device (a handset screen).
            updaters_for: each device's watchlist updater (None: none). A device with one holds a watchlist of its
                own, starting from ``watchlist``, and swaps in the signed packages the command centre announces.

        Raises:
            ValueError: cameras without a cast.
        """
        if settings.cameras and cast is None:
            raise ValueError("body cameras need a cast of people to walk past them")
        self.settings = settings
        self.clock = clock
        rng = random.Random(settings.seed)
        members = roster(settings)
        idle: list[CameraParts] = []  # the one set the officers without a camera share, made when first needed

        def parts_for(member: ShiftMember) -> CameraParts:
            if member.camera:
                return camera_parts()
            if not idle:
                idle.append(camera_parts())
            return idle[0]

        self.on_duty: list[OnDuty] = []
        for member in members:
            officer = SimulatedOfficer(
                unit_id=member.unit_id,
                kind=member.kind,
                city=city,
                clock=clock,
                behaviour=settings.behaviour,
                rng=random.Random(rng.getrandbits(64)),
            )
            parts = parts_for(member)
            directory = data_dir / "devices" / member.device_id
            directory.mkdir(parents=True, exist_ok=True)
            updater = updaters_for(member)
            agent = EdgeAgent(
                identity=EdgeIdentity(device_id=member.device_id, unit_id=member.unit_id),
                detector=parts.detector,
                landmarker=parts.landmarker,
                embedder=parts.embedder,
                quality_policy=parts.quality_policy,
                watchlist=watchlist if updater is None else ActiveWatchlist(watchlist.current),
                recognition=settings.recognition,
                outbox=Outbox(directory / "outbox.sqlite"),
                bus=bus_for(member),
                position=officer.movement,
                notifiers=[officer, *notifiers_for(member)],
                updater_factory=updater,
                battery=SimulatedBattery(start_pct=rng.uniform(60, 100), drain_pct_per_h=8.0),
                position_interval_s=settings.position_interval_s,
                status_interval_s=settings.status_interval_s,
            )
            officer.attach(agent)
            camera = None
            if member.camera and cast is not None:
                camera = StreetCamera(cast, settings.scene, seed=rng.getrandbits(32), realtime=True)
            self.on_duty.append(OnDuty(member=member, officer=officer, agent=agent, camera=camera))
        self._ticker = Ticker([d.officer for d in self.on_duty], interval_s=settings.tick_s)
        self._video: list[threading.Thread] = []
        self._final: dict[str, EdgeRunReport] | None = None

    @property
    def members(self) -> list[ShiftMember]:
        """Everyone on duty."""
        return [d.member for d in self.on_duty]

    def start(self, *, cameras: bool = True) -> None:
        """Start every device and the officers' ticker, and the cameras unless told not to yet.

        Args:
            cameras: start the body cameras' video too; False leaves them for :meth:`start_cameras` (once the
                devices hold their watchlist, say).
        """
        for duty in self.on_duty:
            duty.agent.start()
        self._ticker.start()
        if cameras:
            self.start_cameras()

    def start_cameras(self) -> None:
        """Start the body cameras' video, once, after :meth:`start`."""
        if self._video:
            raise RuntimeError("the cameras are already running")
        for duty in self.on_duty:
            if duty.camera is not None:
                thread = threading.Thread(
                    target=duty.agent.run,
                    args=(duty.camera,),
                    kwargs={"realtime": True},
                    name=f"video-{duty.member.device_id}",
                    daemon=True,
                )
                thread.start()
                self._video.append(thread)

    def stop_cameras(self) -> None:
        """Stop the body cameras' video (the officers and their devices carry on); safe to call again."""
        for duty in self.on_duty:
            if duty.camera is not None:
                duty.camera.close()
        for thread in self._video:
            thread.join(30)

    def stop(self) -> None:
        """Stop the cameras, the officers and the devices; unsent events stay in the outboxes."""
        self.stop_cameras()
        self._ticker.stop()
        for duty in self.on_duty:
            duty.agent.stop()
        self._final = self.reports()
        for duty in self.on_duty:
            duty.agent.outbox.close()

    def appearances(self) -> dict[str, list[Appearance]]:
        """Who walked past each camera so far, by device id."""
        return {d.member.device_id: d.camera.appearances() for d in self.on_duty if d.camera is not None}

    def reports(self) -> dict[str, EdgeRunReport]:
        """Each device's counts (frames, faces, alerts, outbox backlog) so far, or at the end, by device id."""
        if self._final is not None:
            return dict(self._final)
        return {d.member.device_id: d.agent.report() for d in self.on_duty}


def roster(settings: ShiftSettings) -> list[ShiftMember]:
    """Who is on duty in a shift of these settings, in order: officers on foot, then in cars; cameras first.

    Device ids are ``bodycam-NN`` for officers with a body camera and ``handset-NN`` for the others; units are
    ``Foot-NN`` and ``Car-NN`` (also their call signs); radios ``RNNN``.
    """
    kinds = [UnitKind.FOOT] * settings.officers_on_foot + [UnitKind.CAR] * settings.officers_in_cars
    members = []
    for number, kind in enumerate(kinds, start=1):
        camera = number <= settings.cameras
        unit = f"{'Foot' if kind is UnitKind.FOOT else 'Car'}-{number:02d}"
        members.append(
            ShiftMember(
                device_id=f"{'bodycam' if camera else 'handset'}-{number:02d}",
                unit_id=unit,
                call_sign=unit,
                radio_id=f"R{number:03d}",
                kind=kind,
                camera=camera,
            )
        )
    return members
