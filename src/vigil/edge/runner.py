"""Starting a body camera's agent from its settings, in named steps, and running it over a video source.

A body camera must start wherever the officer is: with no signal (the broker down or unreachable, DNS failing)
it starts, records and keeps trying the broker in the background; with a data folder that is full or read-only
it starts with its outbox in memory and says so. Only a data folder that cannot be created at all stops it.
"""

import functools
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from vigil.bus.mqtt import MqttBus
from vigil.bus.protocol import Bus
from vigil.edge.active_watchlist import ActiveWatchlist, LoadedWatchlist
from vigil.edge.agent import EdgeAgent, EdgeIdentity, EdgeRunReport
from vigil.edge.battery import Battery, SimulatedBattery, SysfsBattery
from vigil.edge.errors import EdgeError
from vigil.edge.event_log import EventLog
from vigil.edge.gpsd import GpsdSource
from vigil.edge.nmea_replay import NmeaFileSource
from vigil.edge.notifier import Notifier
from vigil.edge.outbox import Outbox
from vigil.edge.position import PositionSource
from vigil.edge.route import SimulatedRoute
from vigil.edge.screen_server import ScreenServer
from vigil.edge.screen_state import ScreenState
from vigil.edge.screen_view import MapView
from vigil.edge.server_trust import server_tls_context
from vigil.edge.settings import (
    BatterySettings,
    EdgeSettings,
    GpsdSettings,
    NmeaFileSettings,
    PositionSettings,
    ScreenSettings,
    SimulatedBatterySettings,
    SimulatedRouteSettings,
    SysfsBatterySettings,
)
from vigil.edge.video_spec import open_source
from vigil.edge.watchlist_update import WatchlistUpdater, fetch_url, loaded_from_package
from vigil.events import utc_now
from vigil.vision.landmarks import FivePointLandmarker
from vigil.vision.settings import build_detector, build_embedder
from vigil.watchlist.errors import ModelMismatch
from vigil.watchlist.gallery import Gallery
from vigil.watchlist.keys import load_device_key, load_verify_key
from vigil.watchlist.operating_point import OperatingTable, table_for_embedder
from vigil.watchlist.package import MAGIC, open_package
from vigil.watchlist.store import WatchlistStore
from vigil.web.assets import page_dir


class WatchlistNotUsable(EdgeError):
    """The watchlist given to the agent cannot be loaded."""


class DataFolderUnusable(EdgeError):
    """The agent's data folder (its outbox) cannot be created.

    Attributes:
        path: the folder.
    """

    def __init__(self, message: str, *, path: Path) -> None:
        super().__init__(message)
        self.path = path


def prepare_data_folder(path: Path) -> None:
    """Create the data folder (and its parents) unless it exists.

    A folder that exists but is full or read-only is not refused here: the outbox then keeps events in memory
    and reports it.

    Raises:
        DataFolderUnusable: it cannot be created (no permission, a file in the way, no space for a folder).
    """
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise DataFolderUnusable(
            f"cannot create the data folder {path} ({exc.strerror or exc}): give --data-dir a folder this agent "
            "may create and write to, on a disk with free space",
            path=path,
        ) from exc


def load_watchlist(
    path: Path, *, device_key: Path | None, verify_key: Path | None, device_id: str, table: OperatingTable
) -> LoadedWatchlist:
    """Load the watchlist an agent starts with: a device package (verified and decrypted) or a local file.

    Args:
        path: the package or file.
        device_key: this device's key file, to open a package.
        verify_key: the command centre's public key, to verify a package.
        device_id: this device, whom a package must be made for.
        table: the operating table of this device's face network (its embedder's, see
            :func:`~vigil.watchlist.operating_point.table_for_embedder`): the watchlist must be made with that
            network, and a local file's threshold comes from it.

    Raises:
        WatchlistNotUsable: a package without the keys to open it, or a file that is neither.
        PackageError: the package is refused.
        ModelMismatch: the watchlist was made with another face network.
    """
    try:
        head = path.read_bytes()[: len(MAGIC)] if path.is_file() else b""
    except OSError as exc:
        raise WatchlistNotUsable(f"cannot read the watchlist {path} ({exc})") from exc
    model = table.model_id
    if head == MAGIC:
        if device_key is None or verify_key is None:
            raise WatchlistNotUsable(f"{path} is a device package: give --device-key and --verify-key to open it")
        package = open_package(
            path.read_bytes(),
            verify_key=load_verify_key(verify_key),
            device_key=load_device_key(device_key),
            now=utc_now(),
            device_id=device_id,
            model=model,
        )
        return loaded_from_package(package)
    if not path.is_file():
        raise WatchlistNotUsable(f"no watchlist at {path}")
    with WatchlistStore.open(path) as store:
        if store.model is not None and store.model != model:
            raise ModelMismatch(expected=store.model, got=model, what="this device")
        return LoadedWatchlist(
            gallery=Gallery(store.live_entries(), threshold=store.operating_threshold(table), model=model),
            version=store.version,
            valid_until=None,
            package=None,
        )


def open_position_source(settings: PositionSettings) -> PositionSource:
    """The position source the settings name."""
    match settings:
        case SimulatedRouteSettings():
            return SimulatedRoute(settings.waypoints, settings.speed_mps)
        case NmeaFileSettings():
            return NmeaFileSource(settings.path, loop=settings.loop)
        case GpsdSettings():
            return GpsdSource(settings.host, settings.port)


def open_battery(settings: BatterySettings) -> Battery:
    """The battery gauge the settings name."""
    match settings:
        case SysfsBatterySettings():
            return SysfsBattery(settings.root)
        case SimulatedBatterySettings():
            return SimulatedBattery(start_pct=settings.start_pct, drain_pct_per_h=settings.drain_pct_per_h)


def screen_state(settings: ScreenSettings, *, device_id: str, unit_id: str) -> ScreenState:
    """An empty handset screen for this device."""
    return ScreenState(
        device_id=device_id,
        unit_id=unit_id,
        map_view=MapView(
            tile_url=settings.tile_url, tile_attribution=settings.tile_attribution, max_zoom=settings.max_zoom
        ),
        max_alerts=settings.max_alerts,
    )


def connect_bus(settings: EdgeSettings) -> Bus | None:
    """The link to the command centre, or None offline.

    A broker that cannot be reached now (down, no route, DNS failing) is not an error: the bus starts
    disconnected and keeps trying in the background, while the outbox keeps every event.

    Raises:
        BusRefused: the broker refused the device (credentials).
        BusTlsFailed: the broker's certificate is not trusted, or the TLS handshake failed.
        BusTlsFilesUnusable: a CA file, certificate or key in the settings cannot be loaded.
    """
    return MqttBus(settings.bus, wait_for_broker=False) if settings.bus is not None else None


def build_agent(
    settings: EdgeSettings,
    *,
    bus: Bus | None,
    notifiers: Sequence[Notifier],
    event_log: EventLog | None = None,
) -> EdgeAgent:
    """Assemble an agent from settings (not yet started).

    Raises:
        DataFolderUnusable: the data folder cannot be created.
        VigilError: a model, the watchlist or a key cannot be loaded.
    """
    prepare_data_folder(settings.data_dir)
    embedder = build_embedder(settings.vision.embedder)
    model = embedder.model.model_id
    active = ActiveWatchlist(
        load_watchlist(
            settings.watchlist,
            device_key=settings.device_key,
            verify_key=settings.verify_key,
            device_id=settings.device_id,
            table=table_for_embedder(embedder),
        )
    )
    updater_factory = None
    if settings.device_key is not None and settings.verify_key is not None:
        device_key = load_device_key(settings.device_key)
        verify_key = load_verify_key(settings.verify_key)

        # The device's broker password is its command-centre token: it also authenticates the package download.
        password = settings.bus.password if settings.bus is not None else None
        token = password.get_secret_value() if password is not None else None
        fetch = functools.partial(
            fetch_url,
            token=token,
            context=server_tls_context(settings.server_ca_file),
            allow_plain_http=settings.allow_plain_http,
        )

        def updater_factory(active: ActiveWatchlist, on_error: Callable[[str], None]) -> WatchlistUpdater:
            return WatchlistUpdater(
                active=active,
                device_id=settings.device_id,
                device_key=device_key,
                verify_key=verify_key,
                model=model,
                on_error=on_error,
                fetch=fetch,
            )

    return EdgeAgent(
        identity=EdgeIdentity(device_id=settings.device_id, unit_id=settings.unit_id),
        detector=build_detector(settings.vision.detector),
        landmarker=FivePointLandmarker(),
        embedder=embedder,
        quality_policy=settings.vision.quality,
        watchlist=active,
        recognition=settings.recognition,
        outbox=Outbox(settings.data_dir / "outbox.sqlite"),
        bus=bus,
        position=open_position_source(settings.position),
        notifiers=notifiers,
        updater_factory=updater_factory,
        event_log=event_log,
        battery=open_battery(settings.battery),
        position_interval_s=settings.position_interval_s,
        status_interval_s=settings.status_interval_s,
    )


@dataclass(frozen=True)
class _Handset:
    settings: ScreenSettings
    state: ScreenState
    page: Path

    @classmethod
    def prepare(cls, settings: EdgeSettings) -> "_Handset | None":
        """The screen's parts, or None without a screen; finds the page first, before anything starts."""
        if settings.screen is None:
            return None
        page = page_dir("handset")
        state = screen_state(settings.screen, device_id=settings.device_id, unit_id=settings.unit_id)
        return cls(settings=settings.screen, state=state, page=page)


def run_edge(
    settings: EdgeSettings,
    *,
    notifiers: Sequence[Notifier],
    on_screen: Callable[[str], None] | None = None,
    on_warning: Callable[[str], None] | None = None,
) -> EdgeRunReport:
    """Run the agent over its video source until the source ends; the command ``vigil edge run``.

    Args:
        settings: the agent's settings; with ``screen``, the handset screen is served while the agent runs.
        notifiers: what else shows the officer alerts and orders (the console).
        on_screen: told the screen's URL once it is up.
        on_warning: told, at start, what a person must know: the outbox cannot write to its storage (events kept
            in memory), or the broker cannot be reached yet (events wait in the outbox).

    Raises:
        DataFolderUnusable: the data folder cannot be created.
        BusRefused: the broker refused the device, or its certificate is not trusted.
        PageNotBuilt: a screen was asked for, but its page was never built (``./scripts/setup``).
        ScreenUnavailable: the screen cannot listen on its port.
        VigilError: a model, the watchlist, a key or the video source cannot be loaded.
    """
    handset = _Handset.prepare(settings)
    bus = connect_bus(settings)
    event_log = EventLog(settings.events_out) if settings.events_out is not None else None
    try:
        shown = [*notifiers, handset.state] if handset is not None else list(notifiers)
        agent = build_agent(settings, bus=bus, notifiers=shown, event_log=event_log)
        if on_warning is not None:
            for warning in _start_warnings(agent, bus, settings):
                on_warning(warning)
        source = open_source(settings.source, realtime=settings.realtime)
        screen = None
        if handset is not None:
            screen = ScreenServer(handset.settings, state=handset.state, device=agent, page=handset.page)
        agent.start()
        try:
            if screen is not None:
                screen.start()
                if on_screen is not None:
                    on_screen(screen.url)
            agent.run(source, realtime=settings.realtime)
        finally:
            source.close()
            if screen is not None:
                screen.stop()
            agent.stop()
        report = agent.report()
        return report.model_copy(update={"outbox_lost_at_exit": agent.outbox.close()})
    finally:
        if event_log is not None:
            event_log.close()
        if bus is not None:
            bus.stop()


def _start_warnings(agent: EdgeAgent, bus: Bus | None, settings: EdgeSettings) -> list[str]:
    """What a person must know as the agent starts."""
    warnings = []
    outbox = agent.outbox.state()
    if outbox.fault is not None:
        warnings.append(
            f"the outbox cannot write to its storage: {outbox.describe()}. The agent runs, keeping new events in "
            f"memory (lost if it stops before they are delivered or written): {outbox.fault.remedy}"
        )
    if isinstance(bus, MqttBus) and not bus.connected and settings.bus is not None:
        warnings.append(
            f"the broker at {settings.bus.address} cannot be reached yet: the agent runs and keeps trying; "
            "events wait in the outbox"
        )
    return warnings
