"""The command-centre server: :func:`create_app` builds the FastAPI app; its lifespan runs the startup steps.

Startup, in named steps (each logged as ``command.startup_step`` with its duration):

1. ``init_database``: open the database and migrate it to the newest schema; then ``seal_second_factors``: seal
   again under the current key any second-factor secret sealed under an earlier one;
2. ``load_eta_model``: how arrival times are estimated (the street network, when one is configured), before
   ingestion: an officer's emergency is planned with it from the first event;
3. ``connect_bus``: the bus passed in, or the one the settings name (none: events arrive over HTTP only);
4. ``start_ingestion``: subscribe to every device's events on the bus;
5. ``start_feed``: the live feed's horizon, woken by this process's commits (it polls only while followed);
6. ``start_unit_index``: the live unit index, loaded from the database and kept in step with the feed.
7. ``load_package_keys``: the keys that sign and encrypt watchlist packages, when configured;
8. ``start_downlink``: with a bus, the thread that publishes review decisions and watchlist announcements;
9. ``start_scheduler``: the governance jobs (escalation, subject expiry and package renewal, retention).

Shutdown stops the scheduler and the downlink, stops taking bus messages, stops a bus the server connected
itself, and closes the database. Nothing
happens at import time, and nothing is shared between two apps.
"""

import logging
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import TypeVar

from fastapi import FastAPI
from starlette.concurrency import run_in_threadpool

import vigil
from vigil.bus.memory import MemoryBus
from vigil.bus.mqtt import MqttBus
from vigil.bus.mqtt_settings import MqttSettings
from vigil.bus.protocol import Bus
from vigil.command.accounts.passwords import Passwords
from vigil.command.accounts.router import auth_router, users_router
from vigil.command.accounts.sealing import SecretSealer, reseal_second_factors
from vigil.command.alerts.router import router as alerts_router
from vigil.command.api.body_limit import BodyLimit, route_body_limits
from vigil.command.api.problems import install_error_handlers
from vigil.command.api.transport import TransportSecurity
from vigil.command.audit.router import router as audit_router
from vigil.command.control_room.page import mount_page
from vigil.command.control_room.router import router as control_room_router
from vigil.command.database import Database
from vigil.command.deployments.router import router as deployments_router
from vigil.command.devices.router import router as devices_router
from vigil.command.downlink.sender import DownlinkSender
from vigil.command.emergencies.router import router as emergencies_router
from vigil.command.feed.follower import FeedFollower
from vigil.command.feed.router import router as feed_router
from vigil.command.incidents.router import router as incidents_router
from vigil.command.ingestion.group import server_session
from vigil.command.ingestion.metrics import IngestionMetrics
from vigil.command.ingestion.router import osmand_router
from vigil.command.ingestion.router import router as ingestion_router
from vigil.command.ingestion.subscriber import start_ingestion
from vigil.command.jobs import dispatch_jobs, governance_jobs
from vigil.command.report.router import router as report_router
from vigil.command.retention.router import router as retention_router
from vigil.command.reviews.router import router as reviews_router
from vigil.command.runtime import ServerRuntime
from vigil.command.scheduler import Scheduler
from vigil.command.settings import CommandSettings, MemoryBusSettings
from vigil.command.units.live_index import UnitIndexFollower
from vigil.command.units.router import router as units_router
from vigil.command.verifications.router import router as verifications_router
from vigil.command.watchlists.enrolment import Enroller
from vigil.command.watchlists.keys import load_package_keys
from vigil.command.watchlists.router import device_router as device_package_router
from vigil.command.watchlists.router import router as watchlists_router
from vigil.dispatch.ranking import build_eta_model
from vigil.events import utc_now

_log = logging.getLogger(__name__)

T = TypeVar("T")

OPENAPI_URL = "/api/v1/openapi.json"


def create_app(
    settings: CommandSettings, *, bus: Bus | None = None, after_startup: Callable[[], None] | None = None
) -> FastAPI:
    """Build the server; it starts (database, bus, ingestion) when the ASGI server runs its lifespan.

    Args:
        settings: the server's settings.
        bus: a bus to use instead of the one the settings name; it stays the caller's to stop.
        after_startup: called once every startup step has run, before the server takes requests (the process's
            own settling, such as ``vigil serve`` freezing what startup made out of the garbage collector's way).

    Returns:
        The app, with its OpenAPI document at ``/api/v1/openapi.json`` and docs at ``/api/docs``.
    """

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        runtime = await run_in_threadpool(start_server, settings, bus)
        app.state.runtime = runtime
        try:
            runtime.units = await start_unit_index(runtime)
            if after_startup is not None:
                after_startup()
            yield
        finally:
            if runtime.units is not None:
                await runtime.units.stop()
            await run_in_threadpool(stop_server, runtime)

    app = FastAPI(
        title="Vigil command centre",
        version=vigil.__version__,
        summary="Ingests body cameras' events; serves units, devices and alerts to signed-in operators' map.",
        lifespan=lifespan,
        openapi_url=OPENAPI_URL,
        docs_url="/api/docs",
        redoc_url=None,
    )
    install_error_handlers(app)
    routers = (auth_router, users_router, ingestion_router, units_router, devices_router, alerts_router, feed_router)
    for router in (*routers, audit_router):
        app.include_router(router)
    for router in (
        reviews_router,
        verifications_router,
        watchlists_router,
        deployments_router,
        device_package_router,
        retention_router,
        report_router,
        incidents_router,
        emergencies_router,
        control_room_router,
    ):
        app.include_router(router)
    if settings.osmand_enabled:
        app.include_router(osmand_router)
    mount_page(app, tile_url=settings.map.tile_url)
    app.add_middleware(BodyLimit, limits=route_body_limits(settings))
    app.add_middleware(
        TransportSecurity,
        behind_tls_proxy=settings.https.behind_tls_proxy,
        hsts_max_age_s=settings.https.hsts_max_age_s,
    )
    return app


def start_server(settings: CommandSettings, bus: Bus | None) -> ServerRuntime:
    """Run the startup steps; on a failure, undo the steps that ran and raise.

    Raises:
        DatabaseUnavailable, MigrationFailed: the database step failed.
        BusError: the bus could not be connected or subscribed to.
        KeyFileError: a configured package key file is missing or malformed.
        SecondFactorUnreadable: a second-factor secret is sealed under a key this server does not have.
    """
    database = _step("init_database", lambda: init_database(settings))
    runtime = ServerRuntime(
        settings=settings,
        database=database,
        metrics=IngestionMetrics(),
        started_at=utc_now(),
        passwords=Passwords(
            min_length=settings.accounts.min_password_length, min_score=settings.accounts.min_password_score
        ),
        sealer=SecretSealer.for_settings(settings),
        enroller=Enroller(settings.watchlists.vision),
    )
    try:
        _step("seal_second_factors", lambda: reseal_second_factors(database=database, sealer=runtime.sealer))
        runtime.eta = _step("load_eta_model", lambda: build_eta_model(settings.dispatch.ranking))
        runtime.bus, runtime.owns_bus = _step("connect_bus", lambda: connect_bus(settings, bus))
        if runtime.bus is not None:
            connected = runtime.bus
            runtime.subscriber = _step(
                "start_ingestion",
                lambda: start_ingestion(
                    bus=connected,
                    database=database,
                    limits=settings.limits,
                    metrics=runtime.metrics,
                    group=settings.bus_group,
                    planning=runtime.dispatch_planning(),
                ),
            )
        runtime.feed = _step("start_feed", lambda: FeedFollower(database=database, settings=settings.feed))
        runtime.package_keys = _step("load_package_keys", lambda: load_package_keys(settings.watchlists))
        if runtime.bus is not None:
            publisher = runtime.bus
            runtime.downlink = _step(
                "start_downlink",
                lambda: DownlinkSender(database=database, bus=publisher, every_s=settings.scheduler.downlink_every_s),
            )
        if settings.scheduler.enabled:
            runtime.scheduler = _step("start_scheduler", lambda: start_scheduler(runtime))
    except BaseException:
        stop_server(runtime)
        raise
    return runtime


async def start_unit_index(runtime: ServerRuntime) -> UnitIndexFollower:
    """Load the live unit index and keep it in step with the feed (on the server's event loop).

    Raises:
        DatabaseUnavailable: the database cannot be reached.
    """
    if runtime.feed is None:
        raise RuntimeError("the feed starts before the unit index")
    started = time.perf_counter()
    units = UnitIndexFollower(
        database=runtime.database, follower=runtime.feed, ages=runtime.settings.dispatch.positions
    )
    await units.start()
    _log.info(
        "command.startup_step",
        extra={"step": "start_unit_index", "ms": round((time.perf_counter() - started) * 1000, 1)},
    )
    return units


def stop_server(runtime: ServerRuntime) -> None:
    """Stop the jobs and the downlink, stop taking bus messages, stop the bus if the server connected it.

    The database is closed last.
    """
    if runtime.scheduler is not None:
        runtime.scheduler.stop()
    if runtime.downlink is not None:
        runtime.downlink.close()
    if runtime.subscriber is not None:
        runtime.subscriber.close()
    if runtime.bus is not None and runtime.owns_bus:
        runtime.bus.stop()
    runtime.database.dispose()
    _log.info("command.stopped")


def init_database(settings: CommandSettings) -> Database:
    """Open the database and migrate it to the newest schema.

    Raises:
        DatabaseUnavailable: it cannot be reached.
        MigrationFailed: a migration failed.
    """
    database = Database(settings.sqlalchemy_url())
    try:
        database.migrate(sealer=SecretSealer.for_settings(settings))
    except BaseException:
        database.dispose()
        raise
    return database


def start_scheduler(runtime: ServerRuntime) -> Scheduler:
    """Start the governance and dispatch jobs on their thread."""
    scheduler = Scheduler(
        database=runtime.database,
        jobs=governance_jobs(
            database=runtime.database,
            settings=runtime.settings,
            keys=runtime.package_keys,
            hold=runtime.retention_hold,
        )
        + dispatch_jobs(
            database=runtime.database,
            settings=runtime.settings,
            units=lambda: (runtime.units.index if runtime.units is not None else None, runtime.eta),
        ),
        tick_s=runtime.settings.scheduler.tick_s,
        clock=utc_now,
    )
    scheduler.start()
    return scheduler


def connect_bus(settings: CommandSettings, given: Bus | None) -> tuple[Bus | None, bool]:
    """The bus to ingest from, and whether the server connected it (and so must stop it).

    Raises:
        BusUnavailable, BusRefused: the MQTT broker cannot be reached or refused the connection.
    """
    if given is not None:
        return given, False
    match settings.bus:
        case None:
            return None, False
        case MemoryBusSettings():
            return MemoryBus(), True
        case MqttSettings():
            return MqttBus(server_session(settings.bus)), True


def _step(name: str, run: Callable[[], T]) -> T:
    started = time.perf_counter()
    result = run()
    _log.info("command.startup_step", extra={"step": name, "ms": round((time.perf_counter() - started) * 1000, 1)})
    return result
