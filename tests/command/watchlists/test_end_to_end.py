"""The whole path over HTTP: a photo proposed, approved by a second person, packaged for a device, announced on
the bus, downloaded with the device's own token and swapped in by the real edge updater; then an alert reviewed
and the decision delivered to the device."""

import base64
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from fastapi import FastAPI

from tests.command.conftest import CreateAccount, Register, RunningServer
from tests.command.events import alert
from tests.command.governance import make_keys
from vigil.bus.memory import MemoryBus
from vigil.bus.protocol import Message
from vigil.command.accounts.models import Role
from vigil.command.app import create_app
from vigil.command.database import Database
from vigil.command.settings import CommandSettings, SchedulerSettings
from vigil.command.watchlists.keys import issue_package_key
from vigil.edge.active_watchlist import ActiveWatchlist, LoadedWatchlist
from vigil.edge.watchlist_update import WatchlistUpdater, fetch_url
from vigil.events import AlertReviewed, WatchlistAvailable, encode_event, parse_event, utc_now
from vigil.vision.face_model import DLIB_MODEL_ID
from vigil.vision.settings import DlibEmbedderSettings, HogDetectorSettings, VisionSettings
from vigil.watchlist.gallery import Gallery
from vigil.watchlist.keys import load_verify_key

ROLES = {"olivia": Role.OPERATOR, "sam": Role.SUPERVISOR, "sue": Role.SUPERVISOR}


def people(server: RunningServer, accounts: CreateAccount) -> dict[str, str]:
    """The test's people, signed in: their bearer tokens by name."""
    return {name: server.sign_in(accounts(name, role)) for name, role in ROLES.items()}


class DeviceInbox:
    """What the command centre sends cam-7 over the bus."""

    def __init__(self, bus: MemoryBus) -> None:
        self.events: list[object] = []
        self._arrived = threading.Condition()
        bus.subscribe("vigil/v1/devices/cam-7/down/#", self._receive)

    def _receive(self, message: Message) -> None:
        with self._arrived:
            self.events.append(parse_event(message.payload))
            self._arrived.notify_all()

    def wait_for(self, kind: type, timeout_s: float = 15) -> object:
        with self._arrived:
            found = self._arrived.wait_for(lambda: any(isinstance(e, kind) for e in self.events), timeout_s)
        assert found, f"no {kind.__name__} arrived; got {self.events}"
        return next(e for e in reversed(self.events) if isinstance(e, kind))


@pytest.fixture
def bus() -> Iterator[MemoryBus]:
    memory = MemoryBus()
    yield memory
    memory.stop()


# The database and the bus come first, so that they are torn down after the server (and its threads) stop.
def test_a_subject_goes_from_photo_to_the_device_and_an_alert_back_to_a_decision(
    database: Database,
    database_url: str,
    bus: MemoryBus,
    serve: Callable[[FastAPI], RunningServer],
    tmp_path: Path,
    register: Register,
    accounts: CreateAccount,
    testdata: Path,
    probe_jpeg: bytes,
) -> None:
    keys = make_keys(tmp_path)
    token = register("cam-7", "A-12")
    other_token = register("cam-8", "B-3")
    with database.session() as session:
        device_key = issue_package_key(
            session=session, device_id="cam-7", wrap_key=keys.package_keys.wrap_key, replace=False, now=utc_now()
        )
        session.commit()
    vision = VisionSettings(detector=HogDetectorSettings(upsample=1), embedder=DlibEmbedderSettings(), max_side_px=1024)
    settings = CommandSettings(
        data_dir=tmp_path,
        database_url=database_url,
        watchlists=keys.settings.model_copy(update={"vision": vision}),
        scheduler=SchedulerSettings(downlink_every_s=0.2),
    )
    server = serve(create_app(settings, bus=bus))
    inbox = DeviceInbox(bus)
    tokens = people(server, accounts)
    photo = base64.b64encode((testdata / "faces" / "obama.jpg").read_bytes()).decode()
    with (
        server.client(tokens["sam"]) as sam,
        server.client(tokens["olivia"]) as olivia,
        server.client(tokens["sue"]) as sue,
    ):
        created = sam.post("/api/v1/watchlists", json={"name": "Op Falcon"})
        assert created.status_code == 201, created.text
        watchlist_id = created.json()["watchlist_id"]
        base = f"/api/v1/watchlists/{watchlist_id}"
        subject = {
            "subject_id": "obama",
            "display_name": "Barack Obama",
            "category": "wanted_on_warrant",
            "legal_basis": "Warrant 2024/117",
            "expires_at": "2999-01-01T00:00:00Z",
            "notes": "calm",
        }
        blurred = olivia.post(
            f"{base}/subjects",
            json={
                "subject": subject,
                "photos": [{"name": "x.jpg", "image_base64": base64.b64encode(b"not an image").decode()}],
            },
        )
        proposed = olivia.post(
            f"{base}/subjects", json={"subject": subject, "photos": [{"name": "obama.jpg", "image_base64": photo}]}
        )
        assert proposed.status_code == 201, proposed.text
        own = olivia.post(f"{base}/subjects/obama/approve")
        approved = sue.post(f"{base}/subjects/obama/approve")
        assigned = sam.put(f"{base}/devices/cam-7")
    assert blurred.status_code == 422
    assert "x.jpg: " in blurred.json()["error"]["message"]
    verdict = proposed.json()["templates"][0]
    assert (verdict["source"], verdict["quality"]["passed"]) == ("obama.jpg", True)
    assert {p["name"] for p in verdict["quality"]["parts"]} >= {"face_size", "sharpness", "yaw"}
    assert own.status_code == 403
    assert (approved.status_code, approved.json()["state"]) == (200, "live"), approved.text
    assert (assigned.status_code, assigned.json()["devices"]) == (200, ["cam-7"]), assigned.text

    announced = inbox.wait_for(WatchlistAvailable)
    assert isinstance(announced, WatchlistAvailable)
    # The announced URL names the configured public address; this test's server listens elsewhere.
    assert announced.url == f"{keys.settings.public_url}/api/v1/device/watchlist/{announced.version}"
    url = f"{server.url}/api/v1/device/watchlist/{announced.version}"
    with server.client() as anonymous, server.client(other_token) as other_device:
        assert anonymous.get(url).status_code == 401
        assert other_device.get(url).status_code == 404
    errors: list[str] = []
    active = ActiveWatchlist(
        LoadedWatchlist(
            gallery=Gallery([], threshold=0.5, model=DLIB_MODEL_ID), version=0, valid_until=None, package=None
        )
    )
    updater = WatchlistUpdater(
        active=active,
        device_id="cam-7",
        device_key=device_key,
        verify_key=load_verify_key(keys.verify_key_file),
        model=DLIB_MODEL_ID,
        on_error=errors.append,
        fetch=lambda _: fetch_url(url, token=token),
    )
    updater.announce(announced)
    updater.wait()
    assert errors == []
    assert active.current.version == announced.version
    assert [s.subject_id for s in active.current.gallery.subjects] == ["obama"]

    raised = alert(probe_jpeg, device_id="cam-7", unit_id="A-12", watchlist_version=announced.version)
    with server.client(token) as device, server.client(tokens["olivia"]) as olivia:
        assert device.post("/api/v1/events", content=encode_event(raised)).status_code == 200
        queue = olivia.get("/api/v1/reviews").json()
        detail = olivia.get(f"/api/v1/reviews/{raised.alert_id}").json()
        enrolled = olivia.get(detail["enrolled_url"])
        decided = olivia.post(f"/api/v1/reviews/{raised.alert_id}/decision", json={"decision": "confirmed"})
        again = olivia.post(
            f"/api/v1/reviews/{raised.alert_id}/decision", json={"decision": "dismissed", "reason": "x"}
        )
    assert [a["alert_id"] for a in queue["alerts"]] == [str(raised.alert_id)]
    assert (detail["subject"]["legal_basis"], detail["officer"]) == ("Warrant 2024/117", "A-12")
    assert (enrolled.headers["content-type"], enrolled.content[:2]) == ("image/jpeg", b"\xff\xd8")
    assert (decided.status_code, decided.json()["reviewer_name"]) == (200, "OLIVIA")
    assert (again.status_code, again.json()["error"]["code"]) == (409, "alert_already_reviewed")
    reviewed = inbox.wait_for(AlertReviewed)
    assert isinstance(reviewed, AlertReviewed)
    assert (reviewed.alert_id, reviewed.decision, reviewed.reviewer) == (raised.alert_id, "confirmed", "OLIVIA")
