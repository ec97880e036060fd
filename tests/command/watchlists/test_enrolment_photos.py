"""What a proposal's photos may cost, over HTTP: a photo that declares more than it holds is refused before it is
decoded; a real phone-sized photo still enrols, and the memory its decode took is handed back."""

import base64
import threading
from collections.abc import Callable
from pathlib import Path

import pytest
from fastapi import FastAPI
from PIL import Image, ImageFile, ImageFilter

from tests.command.conftest import CreateAccount, RunningServer
from tests.support.jpegs import encode_jpeg, hollow_jpeg, with_scans
from vigil.command.accounts.models import Role
from vigil.command.app import create_app
from vigil.command.database import Database
from vigil.command.settings import CommandSettings, WatchlistServerSettings
from vigil.vision.settings import DlibEmbedderSettings, HogDetectorSettings, VisionSettings

MAX_GROWTH_BYTES = 64 * 1024 * 1024
"""What two enrolments of a 24-megapixel photo may leave the server holding (their decodes alone take 145 MB)."""


def _rss_bytes() -> int:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * 4096


@pytest.fixture(scope="module")
def phone_photo(testdata: Path) -> bytes:
    """A 6,000×4,000 px photo of a person (24 Mpx, as a phone takes), made from a test photo, as JPEG."""
    with Image.open(testdata / "faces" / "obama.jpg") as original:
        picture = original.convert("RGB")
    canvas = picture.resize((600, 400)).filter(ImageFilter.GaussianBlur(8)).resize((6000, 4000))
    person = picture.resize((round(picture.width * 4000 / picture.height), 4000), Image.Resampling.LANCZOS)
    canvas.paste(person, ((6000 - person.width) // 2, 0))
    return encode_jpeg(canvas, quality=90)


class Proposer:
    """A signed-in operator proposing subjects to one watchlist."""

    def __init__(self, server: RunningServer, operator: str, watchlist_id: str) -> None:
        self._server = server
        self._operator = operator
        self._base = f"/api/v1/watchlists/{watchlist_id}/subjects"

    def propose(self, subject_id: str, photo: bytes) -> tuple[int, dict[str, object]]:
        subject = {
            "subject_id": subject_id,
            "display_name": subject_id.upper(),
            "category": "wanted_on_warrant",
            "legal_basis": "Warrant 2024/117",
            "expires_at": "2999-01-01T00:00:00Z",
        }
        photos = [{"name": f"{subject_id}.jpg", "image_base64": base64.b64encode(photo).decode()}]
        with self._server.client(self._operator) as client:
            client.timeout = 60
            response = client.post(self._base, json={"subject": subject, "photos": photos})
        return response.status_code, response.json()


@pytest.fixture
def database_url(tmp_path: Path) -> str:
    """Enrolment's cost does not depend on the database: SQLite alone."""
    return f"sqlite:///{tmp_path / 'command.sqlite'}"


@pytest.fixture
def proposer(
    serve: Callable[[FastAPI], RunningServer], database: Database, settings: CommandSettings, accounts: CreateAccount
) -> Proposer:
    people = {"olivia": accounts("olivia", Role.OPERATOR), "sam": accounts("sam", Role.SUPERVISOR)}
    vision = VisionSettings(detector=HogDetectorSettings(upsample=1), embedder=DlibEmbedderSettings(), max_side_px=1024)
    server = serve(create_app(settings.model_copy(update={"watchlists": WatchlistServerSettings(vision=vision)})))
    tokens = {name: server.sign_in(account) for name, account in people.items()}
    with server.client(tokens["sam"]) as sam:
        created = sam.post("/api/v1/watchlists", json={"name": "Op Falcon"})
    assert created.status_code == 201, created.text
    return Proposer(server, tokens["olivia"], created.json()["watchlist_id"])


@pytest.fixture
def decoded_sizes(monkeypatch: pytest.MonkeyPatch) -> list[tuple[int, int]]:
    """The size of every image Pillow decodes in this process (the server runs on one of its threads)."""
    sizes: list[tuple[int, int]] = []
    load = ImageFile.ImageFile.load

    def recording(image: ImageFile.ImageFile) -> object:
        sizes.append(image.size)
        return load(image)

    monkeypatch.setattr(ImageFile.ImageFile, "load", recording)
    return sizes


# name, the photo, words of the refusal
COSTLY: list[tuple[str, bytes, str]] = [
    # The finding: 692 bytes declaring 7,999×7,999 px took 15.9 s and about 1 GB to enrol.
    ("7,999×7,999 px in a few hundred bytes", hollow_jpeg(7999, 7999), "the limit is 50,000,000 px"),
    ("7,000×7,000 px in a few hundred bytes", hollow_jpeg(7000, 7000), "7,000×7,000 px in only"),
    ("300 scans", with_scans(encode_jpeg(Image.new("RGB", (640, 480), (90, 120, 150))), 300), "300 scans"),
]


@pytest.mark.parametrize(("photo", "words"), [c[1:] for c in COSTLY], ids=[c[0] for c in COSTLY])
def test_a_photo_that_would_cost_far_more_than_it_holds_is_refused_before_decoding(
    proposer: Proposer, decoded_sizes: list[tuple[int, int]], photo: bytes, words: str
) -> None:
    status, body = proposer.propose("ghost", photo)
    assert status == 422
    error = body["error"]
    assert isinstance(error, dict)
    assert (error["code"], error["message"].count("ghost.jpg: ")) == ("proposal_refused", 1)
    assert words in error["message"]
    assert decoded_sizes == []


def test_a_phone_sized_photo_enrols_decoded_smaller_and_its_memory_is_returned(
    proposer: Proposer, decoded_sizes: list[tuple[int, int]], phone_photo: bytes
) -> None:
    first_status, first = proposer.propose("first", phone_photo)  # also builds the engine
    assert first_status == 201, first
    templates = first["templates"]
    assert isinstance(templates, list)
    assert [(t["source"], t["quality"]["passed"]) for t in templates] == [("first.jpg", True)]
    assert set(decoded_sizes) == {(1500, 1000)}  # libjpeg's 1/4 scale: the engine looks at 1,024 px at most

    before = _rss_bytes()
    answers: list[int] = []
    threads = [
        threading.Thread(target=lambda name=name: answers.append(proposer.propose(name, phone_photo)[0]))
        for name in ("second", "third")
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    assert answers == [201, 201]
    assert _rss_bytes() - before < MAX_GROWTH_BYTES
