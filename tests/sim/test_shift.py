"""A simulated shift end to end on the in-process bus: officers' devices, a body camera, the real command centre.

The test plays control (the operator's review and dispatch are built elsewhere): when the camera's alert is in
the database it sends dispatch orders down the bus, as the command centre will, and then checks from the database
that the officers answered through their devices: accepted, en route, on scene, cleared, in that order, with
every device's outbox drained (nothing lost between device and server).
"""

import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import TypeVar

import pytest
from sqlalchemy import func, select

from tests.command.events import send_watchlist
from tests.edge.conftest import active_watchlist
from tests.watchlist.conftest import make_subject
from vigil.bus.memory import MemoryBus
from vigil.command.alerts.models import Alert
from vigil.command.app import start_server, stop_server
from vigil.command.database import Database
from vigil.command.devices.service import register_device
from vigil.command.dispatches.models import DispatchStatusRecord
from vigil.command.settings import CommandSettings
from vigil.command.units.models import PositionRecord
from vigil.events import (
    DispatchOrder,
    DispatchState,
    Location,
    MatchEvidence,
    SubjectBrief,
    encode_event,
    topic_for,
    utc_now,
)
from vigil.sim.city import City
from vigil.sim.clock import ScaledClock
from vigil.sim.footage import Actor, Cast
from vigil.sim.ground_truth import AlertSeen, match_alerts
from vigil.sim.london import central_london
from vigil.sim.officer import OfficerBehaviour
from vigil.sim.photos import read_photo_folders
from vigil.sim.shift import CameraParts, Shift, ShiftSettings, roster
from vigil.sim.street_camera import StreetSceneSettings
from vigil.vision.blazeface import BlazeFaceDetector
from vigil.vision.engine import FaceEngine
from vigil.vision.image import load_image
from vigil.vision.landmarks import FivePointLandmarker
from vigil.vision.quality import QualityPolicy
from vigil.vision.settings import OnnxEmbedderSettings, build_embedder
from vigil.watchlist.enrolment import enrol_photo
from vigil.watchlist.store import WatchlistEntry

T = TypeVar("T")
AREA = {"type": "Polygon", "coordinates": [[[-0.13, 51.50], [-0.12, 51.50], [-0.12, 51.51], [-0.13, 51.50]]]}


def _wait_for(what: str, check: Callable[[], T | None], timeout_s: float = 60) -> T:
    deadline = time.monotonic() + timeout_s
    while (found := check()) is None or found is False:
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}")
        time.sleep(0.1)
    return found


def test_a_shift_raises_the_subject_s_alert_and_officers_answer_their_orders_through_their_devices(
    testdata: Path, hog_engine: FaceEngine, tmp_path: Path
) -> None:
    photos = read_photo_folders(testdata / "identities" / "train", subjects=["obama"])
    (subject,) = photos.subjects
    entry = WatchlistEntry(
        subject=make_subject("obama").model_copy(update={"approved_by": "sgt.jones", "approved_at": datetime.now(UTC)}),
        templates=tuple(
            enrol_photo(hog_engine, load_image(p), subject_id="obama", source=p.name) for p in subject.enrolment_photos
        ),
    )
    passer_by = next(p for p in photos.public if p.person_id == "biden")
    cast = Cast([Actor("obama", subject.scene_photo), Actor("biden", passer_by.scene_photo)])

    bus = MemoryBus()
    settings = CommandSettings(data_dir=tmp_path / "command", database_url=f"sqlite:///{tmp_path / 'cc.sqlite'}")
    runtime = start_server(settings, bus)
    database: Database = runtime.database
    shift_settings = ShiftSettings(
        officers_on_foot=2,
        officers_in_cars=1,
        cameras=1,
        seed=4,
        behaviour=OfficerBehaviour(decline_probability=0, on_scene_min_s=20, on_scene_max_s=20),
        scene=StreetSceneSettings(width_px=480, height_px=270, fps=10, walk_s=3, gap_s=1),
        position_interval_s=0.5,
    )
    members = roster(shift_settings)
    assert [(m.device_id, m.unit_id, m.kind.value, m.camera) for m in members] == [
        ("bodycam-01", "Foot-01", "foot", True),
        ("handset-02", "Foot-02", "foot", False),
        ("handset-03", "Car-03", "car", False),
    ]
    for member in members:
        with database.session() as session:
            register_device(
                session=session,
                device_id=member.device_id,
                unit_id=member.unit_id,
                call_sign=member.call_sign,
                radio_id=member.radio_id,
                kind=member.kind,
                actor="system",
                address=None,
                now=utc_now(),
            )
    send_watchlist(database, "bodycam-01", version=1, subjects=("obama",))  # what the camera's watchlist carries
    shift = Shift(
        settings=shift_settings,
        city=City(central_london()),
        clock=ScaledClock(20.0),
        data_dir=tmp_path,
        bus_for=lambda member: bus,
        watchlist=active_watchlist({"obama": entry}, ["obama"]),
        camera_parts=lambda: CameraParts(
            detector=BlazeFaceDetector(),
            landmarker=FivePointLandmarker(),
            embedder=build_embedder(OnnxEmbedderSettings(threads=1)),
            quality_policy=QualityPolicy(),
        ),
        cast=cast,
    )
    assert shift.members == members
    shift.start()
    try:
        alert = _wait_for("the subject's alert", lambda: _first_alert(database))
        dispatched = [m for m in shift.members if m.device_id != "bodycam-01"]
        orders = {}
        for member in dispatched:
            order = DispatchOrder(
                device_id=member.device_id,
                dispatch_id=uuid.uuid4(),
                incident_id=uuid.uuid4(),
                unit_id=member.unit_id,
                target=Location(lat=alert.lat, lon=alert.lon),
                area=AREA,
                subject=SubjectBrief(subject_id="obama", name="Obama", category="wanted_on_warrant"),
                evidence=MatchEvidence(
                    alert_id=alert.alert_id,
                    seen_at=alert.first_seen_at,
                    distance=alert.distance,
                    threshold=alert.threshold,
                    probe_jpeg=alert.probe_jpeg,
                ),
            )
            orders[member.device_id] = order
            bus.publish(topic_for(order), encode_event(order))
        expected = [DispatchState.ACCEPTED, DispatchState.EN_ROUTE, DispatchState.ON_SCENE, DispatchState.CLEARED]
        for device_id, order in orders.items():
            answers = _wait_for(
                f"{device_id} to clear",
                lambda order=order: (
                    (found := _answers(database, order.dispatch_id))[-1:] == [DispatchState.CLEARED] and found
                ),
                timeout_s=90,
            )
            assert answers == expected, device_id
        _wait_for("every outbox to drain", lambda: all(r.outbox_backlog == 0 for r in shift.reports().values()))
    finally:
        shift.stop()
        stop_server(runtime)
    appearances = shift.appearances()["bodycam-01"]
    with database.session() as session:
        alerts = session.scalars(select(Alert)).all()
        units_reporting = session.scalars(select(PositionRecord.unit_id).distinct()).all()
        positions = session.scalar(select(func.count()).select_from(PositionRecord))
    database.dispose()
    assert {a.subject_id for a in alerts} == {"obama"}  # the member of the public never raised one
    assert {a.person_id for a in appearances} == {"obama", "biden"}
    seen = [AlertSeen(a.device_id, a.subject_id, a.received_at) for a in alerts]
    (verdict,) = match_alerts(shift.appearances(), seen)
    assert verdict.correct
    assert verdict.appearance is not None
    assert verdict.appearance.person_id == "obama"
    assert verdict.from_in_view_s is not None
    assert 0 < verdict.from_in_view_s < 10  # face to command centre, in real time
    assert sorted(units_reporting) == ["Car-03", "Foot-01", "Foot-02"]
    assert positions >= 3 * 4
    bodycam = shift.reports()["bodycam-01"]
    assert bodycam.frames_processed > 10
    assert bodycam.faces_seen > 0
    assert shift.reports()["handset-02"].frames_read == 0  # a device without a camera never sees video


def _first_alert(database: Database) -> Alert | None:
    with database.session() as session:
        alert = session.scalars(select(Alert).order_by(Alert.received_at)).first()
        if alert is not None:
            session.expunge(alert)
        return alert


def _answers(database: Database, dispatch_id: uuid.UUID) -> list[DispatchState]:
    with database.session() as session:
        return list(
            session.scalars(
                select(DispatchStatusRecord.status)
                .where(DispatchStatusRecord.dispatch_id == dispatch_id)
                .order_by(DispatchStatusRecord.at)
            )
        )


@pytest.mark.parametrize(
    ("update", "message"),
    [
        ({"officers_on_foot": 0, "officers_in_cars": 0, "cameras": 0}, "at least one officer"),
        ({"officers_on_foot": 1, "officers_in_cars": 1, "cameras": 3}, "3 body cameras need as many officers"),
    ],
)
def test_a_shift_needs_officers_for_its_cameras(update: dict[str, int], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        ShiftSettings(**update)


def test_cameras_need_people_to_walk_past_them(tmp_path: Path) -> None:
    def never() -> CameraParts:
        raise AssertionError("no parts are made for a shift that cannot start")

    with pytest.raises(ValueError, match="need a cast"):
        Shift(
            settings=ShiftSettings(officers_on_foot=1, officers_in_cars=0, cameras=1),
            city=City(central_london()),
            clock=ScaledClock(),
            data_dir=tmp_path,
            bus_for=lambda member: None,
            watchlist=active_watchlist({}, []),
            camera_parts=never,
            cast=None,
        )
