"""The face model slot on the server: templates, watchlists, versions and packages name their model; enrolment onto
another model's watchlist is refused; re-embedding moves a watchlist to the server's model from its stored chips."""

import base64
import json
import uuid
from collections.abc import Callable, Sequence
from datetime import timedelta
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pytest
from fastapi import FastAPI
from sqlalchemy import select, update
from typer.testing import CliRunner

from tests.command.conftest import CreateAccount, RunningServer
from tests.command.governance import (
    OPERATOR,
    OTHER_MODEL,
    SUPERVISOR,
    assign,
    device_with_key,
    enrolled_face,
    live_subject,
    make_keys,
    new_watchlist,
    proposal,
    watchlist_made_with,
)
from vigil.cli.app import create_app as create_cli
from vigil.cli.serve import with_face_model
from vigil.command.accounts.models import Role
from vigil.command.app import create_app
from vigil.command.audit.models import AuditEntry
from vigil.command.database import Database
from vigil.command.settings import CommandSettings
from vigil.command.watchlists.errors import AlreadyOnModel, ChipUnusable, WatchlistModelMismatch
from vigil.command.watchlists.models import (
    DevicePackage,
    VersionReason,
    Watchlist,
    WatchlistSubject,
    WatchlistTemplate,
    WatchlistVersion,
)
from vigil.command.watchlists.reembedding import reembed_watchlist
from vigil.command.watchlists.schemas import Reembedded
from vigil.command.watchlists.service import get_watchlist
from vigil.command.watchlists.subjects import propose_subject
from vigil.command.watchlists.versions import sync_packages
from vigil.events import utc_now
from vigil.vision.alignment import CHIP_SIZE_PX
from vigil.vision.embedding import DlibEmbedder, Embeddings
from vigil.vision.face_model import DLIB_MODEL, DLIB_MODEL_ID, ModelIdentity
from vigil.vision.image import RgbImage, encode_jpeg, load_image
from vigil.vision.settings import DlibEmbedderSettings, HogDetectorSettings, SlotEmbedderSettings, VisionSettings
from vigil.watchlist.keys import load_verify_key
from vigil.watchlist.package import open_package, read_header


class ProjectingEmbedder:
    """Another network, for these tests: a fixed random projection of a chip's pixels, scaled to unit length.

    It takes the engine's 150 px chips, as every embedder does, and names a model that is not dlib's.
    """

    def __init__(self, model: ModelIdentity = OTHER_MODEL) -> None:
        self._model = model
        self._projection = np.random.default_rng(24).normal(size=(15 * 15 * 3, model.embedding_size))
        self.chips_seen = 0

    @property
    def name(self) -> str:
        return "projection"

    @property
    def model(self) -> ModelIdentity:
        return self._model

    def embed(self, chips: Sequence[RgbImage]) -> Embeddings:
        for chip in chips:
            assert chip.shape == (CHIP_SIZE_PX, CHIP_SIZE_PX, 3), chip.shape
        self.chips_seen += len(chips)
        if not chips:
            return np.zeros((0, self._model.embedding_size), dtype=np.float32)
        pixels = np.stack([chip[::10, ::10].reshape(-1) for chip in chips]).astype(np.float64) / 255.0
        vectors: npt.NDArray[np.float64] = pixels @ self._projection
        unit: Embeddings = (vectors / np.linalg.norm(vectors, axis=1, keepdims=True)).astype(np.float32)
        return unit


@pytest.fixture(scope="module")
def chips(real_face_chips: list[RgbImage]) -> list[bytes]:
    """Four real aligned face chips from the test photos, JPEG, as enrolment stores them."""
    return [encode_jpeg(chip) for chip in real_face_chips[:4]]


def _propose(
    database: Database, watchlist_id: uuid.UUID, subject_id: str, chips: Sequence[bytes], model: ModelIdentity
) -> None:
    now = utc_now()
    with database.session() as session:
        propose_subject(
            session=session,
            watchlist_id=watchlist_id,
            proposal=proposal(subject_id, now + timedelta(days=7)),
            faces=[enrolled_face(chip, seed=n, model=model) for n, chip in enumerate(chips)],
            sources=[f"{subject_id}-{n}.jpg" for n in range(len(chips))],
            actor=OPERATOR,
            now=now,
        )
        session.commit()


def _package(database: Database) -> tuple[int, bytes]:
    """cam-7's package: its version and bytes."""
    with database.session() as session:
        package = session.get_one(DevicePackage, "cam-7")
        return package.version, package.package


def test_templates_versions_and_packages_carry_the_watchlists_model(
    database: Database, tmp_path: Path, chips: list[bytes]
) -> None:
    now = utc_now()
    keys = make_keys(tmp_path)
    device_key = device_with_key(database, keys, "cam-7", "A-12", now)
    watchlist_id = new_watchlist(database, now)
    version = live_subject(database, keys, watchlist_id, "alpha", chips[0], now=now)
    assign(database, keys, watchlist_id, "cam-7", now)
    with database.session() as session:
        stored = session.scalars(select(WatchlistTemplate.model)).all()
        detail = get_watchlist(session=session, watchlist_id=watchlist_id, packages_enabled=True)
    number, data = _package(database)
    opened = open_package(
        data,
        verify_key=load_verify_key(keys.verify_key_file),
        device_key=device_key,
        now=now,
        device_id="cam-7",
        model=DLIB_MODEL_ID,
    )
    assert stored == [DLIB_MODEL_ID]
    assert (detail.watchlist.model, [(v.version, v.model) for v in detail.versions]) == (
        DLIB_MODEL_ID,
        [(version, DLIB_MODEL_ID)],
    )
    assert (number, read_header(data).model) == (version, DLIB_MODEL_ID)
    assert [t.model for e in opened.entries for t in e.templates] == [DLIB_MODEL_ID]


def test_enrolment_onto_a_watchlist_made_with_another_model_is_refused_naming_both_and_the_reembed_command(
    database: Database, chips: list[bytes]
) -> None:
    watchlist_id = watchlist_made_with(database, OTHER_MODEL, utc_now())
    with pytest.raises(WatchlistModelMismatch) as refused:
        _propose(database, watchlist_id, "alpha", chips[:1], DLIB_MODEL)
    message = str(refused.value)
    assert OTHER_MODEL.model_id in message
    assert DLIB_MODEL_ID in message
    assert f"vigil watchlist reembed --watchlist {watchlist_id}" in message
    assert (refused.value.watchlist_model, refused.value.server_model) == (OTHER_MODEL.model_id, DLIB_MODEL_ID)
    with database.session() as session:
        assert session.scalars(select(WatchlistSubject)).all() == []
    _propose(database, watchlist_id, "alpha", chips[:1], OTHER_MODEL)  # the watchlist's own model is fine


def test_reembedding_embeds_the_stored_chips_with_the_servers_model_and_makes_a_model_change_version(
    database: Database, tmp_path: Path, chips: list[bytes]
) -> None:
    now = utc_now()
    keys = make_keys(tmp_path)
    device_key = device_with_key(database, keys, "cam-7", "A-12", now)
    watchlist_id = new_watchlist(database, now)
    _propose(database, watchlist_id, "alpha", chips[:2], DLIB_MODEL)
    live_subject(database, keys, watchlist_id, "bravo", chips[2], now=now)
    before = live_subject(database, keys, watchlist_id, "charlie", chips[3], now=now, seed=3)
    with database.session() as session:
        # alpha is proposed and waits for approval, bravo and charlie are live; bravo's chip is gone.
        session.execute(
            update(WatchlistTemplate)
            .where(WatchlistTemplate.source == "bravo.jpg")
            .values(chip_jpeg=None, embedding=None)
        )
        session.commit()
    assign(database, keys, watchlist_id, "cam-7", now)
    embedder = ProjectingEmbedder()
    later = now + timedelta(minutes=5)
    with database.session() as session:
        done = reembed_watchlist(
            session=session,
            watchlist_id=watchlist_id,
            embedder=embedder,
            actor=SUPERVISOR,
            settings=keys.settings,
            now=later,
        )
        sync_packages(session=session, keys=keys.package_keys, public_url="http://vigil.test", now=later)
        session.commit()
    assert done == Reembedded(
        watchlist_id=watchlist_id,
        from_model=DLIB_MODEL_ID,
        to_model=OTHER_MODEL.model_id,
        templates_reembedded=3,
        templates_without_chip=1,
        subjects_without_templates=["bravo"],
        version=before + 1,
    )
    assert embedder.chips_seen == 3
    with database.session() as session:
        templates = session.scalars(select(WatchlistTemplate).order_by(WatchlistTemplate.id)).all()
        watchlist = session.get_one(Watchlist, watchlist_id)
        version = session.get_one(WatchlistVersion, before + 1)
        audited = session.scalars(select(AuditEntry).where(AuditEntry.action == "watchlist.reembedded")).one()
        for template in templates:
            if template.chip_jpeg is None:
                assert (template.source, template.model, template.embedding) == ("bravo.jpg", DLIB_MODEL_ID, None)
                continue
            assert template.model == OTHER_MODEL.model_id
            assert template.embedding is not None
            expected = embedder.embed([load_image(template.chip_jpeg)])[0]
            assert np.array_equal(np.frombuffer(template.embedding, dtype="<f4"), expected)
        assert (watchlist.model, watchlist.current_version) == (OTHER_MODEL.model_id, before + 1)
        assert (version.reason, version.model, version.subject_ids, version.made_by) == (
            VersionReason.MODEL_CHANGE,
            OTHER_MODEL.model_id,
            ["bravo", "charlie"],
            SUPERVISOR.user_id,
        )
    assert (audited.actor, audited.record_id) == (SUPERVISOR.user_id, str(watchlist_id))
    assert json.loads(audited.details) == {
        "from_model": DLIB_MODEL_ID,
        "to_model": OTHER_MODEL.model_id,
        "templates_reembedded": 3,
        "templates_without_chip": 1,
        "subjects_without_templates": ["bravo"],
        "version": before + 1,
    }
    # The device is sent the new version: templates of the new model only, 64 numbers each.
    number, data = _package(database)
    opened = open_package(
        data,
        verify_key=load_verify_key(keys.verify_key_file),
        device_key=device_key,
        now=later,
        device_id="cam-7",
        model=OTHER_MODEL.model_id,
    )
    assert (number, opened.header.model) == (before + 1, OTHER_MODEL.model_id)
    assert [(e.subject.subject_id, [t.embedding.shape for t in e.templates]) for e in opened.entries] == [
        ("charlie", [(64,)])
    ]
    # From now on the watchlist takes the new model's templates only, and is not re-embedded twice.
    with pytest.raises(WatchlistModelMismatch, match="vigil watchlist reembed"):
        _propose(database, watchlist_id, "delta", chips[:1], DLIB_MODEL)
    _propose(database, watchlist_id, "delta", chips[:1], OTHER_MODEL)
    with database.session() as session, pytest.raises(AlreadyOnModel, match="nothing to re-embed"):
        reembed_watchlist(
            session=session,
            watchlist_id=watchlist_id,
            embedder=embedder,
            actor=SUPERVISOR,
            settings=keys.settings,
            now=later,
        )


def test_a_watchlist_without_versions_is_reembedded_without_making_one(
    database: Database, tmp_path: Path, chips: list[bytes]
) -> None:
    keys = make_keys(tmp_path)
    watchlist_id = new_watchlist(database, utc_now())
    _propose(database, watchlist_id, "alpha", chips[:1], DLIB_MODEL)
    with database.session() as session:
        done = reembed_watchlist(
            session=session,
            watchlist_id=watchlist_id,
            embedder=ProjectingEmbedder(),
            actor=SUPERVISOR,
            settings=keys.settings,
            now=utc_now(),
        )
        session.commit()
    with database.session() as session:
        assert session.scalars(select(WatchlistVersion)).all() == []
        assert session.get_one(Watchlist, watchlist_id).model == OTHER_MODEL.model_id
    assert (done.templates_reembedded, done.subjects_without_templates, done.version) == (1, [], None)


@pytest.mark.parametrize(
    ("chip", "error"),
    [
        (b"not a jpeg at all", "cannot be read"),
        (encode_jpeg(np.zeros((160, 160, 3), dtype=np.uint8)), "cannot be read"),  # over a chip's pixels
        (encode_jpeg(np.zeros((100, 150, 3), dtype=np.uint8)), r"150×100 px, not the 150 px chip"),
    ],
    ids=["not an image", "too large", "wrong shape"],
)
def test_a_damaged_chip_stops_the_reembedding_and_changes_nothing(
    database: Database, tmp_path: Path, chips: list[bytes], chip: bytes, error: str
) -> None:
    keys = make_keys(tmp_path)
    watchlist_id = new_watchlist(database, utc_now())
    _propose(database, watchlist_id, "alpha", [chips[0], chip], DLIB_MODEL)
    with database.session() as session, pytest.raises(ChipUnusable, match=error) as failed:
        reembed_watchlist(
            session=session,
            watchlist_id=watchlist_id,
            embedder=ProjectingEmbedder(),
            actor=SUPERVISOR,
            settings=keys.settings,
            now=utc_now(),
        )
    with database.session() as session:
        damaged = session.scalars(select(WatchlistTemplate).where(WatchlistTemplate.source == "alpha-1.jpg")).one()
        assert failed.value.template_id == damaged.id
        assert set(session.scalars(select(WatchlistTemplate.model))) == {DLIB_MODEL_ID}
        assert session.get_one(Watchlist, watchlist_id).model == DLIB_MODEL_ID


def test_a_supervisor_reembeds_a_watchlist_over_the_api_with_the_servers_real_model(
    database: Database,
    database_url: str,
    serve: Callable[[FastAPI], RunningServer],
    tmp_path: Path,
    accounts: CreateAccount,
    testdata: Path,
    chips: list[bytes],
) -> None:
    keys = make_keys(tmp_path)
    vision = VisionSettings(detector=HogDetectorSettings(upsample=1), embedder=DlibEmbedderSettings(), max_side_px=1024)
    settings = CommandSettings(
        data_dir=tmp_path, database_url=database_url, watchlists=keys.settings.model_copy(update={"vision": vision})
    )
    server = serve(create_app(settings))
    tokens = {
        name: server.sign_in(accounts(name, role))
        for name, role in (("olivia", Role.OPERATOR), ("sam", Role.SUPERVISOR), ("sue", Role.SUPERVISOR))
    }
    heron = watchlist_made_with(database, OTHER_MODEL, utc_now())
    _propose(database, heron, "alpha", chips[:1], OTHER_MODEL)
    photo = base64.b64encode((testdata / "faces" / "obama.jpg").read_bytes()).decode()
    subject = {
        "subject_id": "obama",
        "display_name": "Barack Obama",
        "category": "wanted_on_warrant",
        "legal_basis": "Warrant 2024/117",
        "expires_at": "2999-01-01T00:00:00Z",
    }
    base = f"/api/v1/watchlists/{heron}"
    with (
        server.client(tokens["olivia"]) as olivia,
        server.client(tokens["sam"]) as sam,
        server.client(tokens["sue"]) as sue,
    ):
        created = sam.post("/api/v1/watchlists", json={"name": "Op Falcon"})
        refused = olivia.post(
            f"{base}/subjects", json={"subject": subject, "photos": [{"name": "obama.jpg", "image_base64": photo}]}
        )
        by_operator = olivia.post(f"{base}/reembed")
        unknown = sam.post(f"/api/v1/watchlists/{uuid.uuid4()}/reembed")
        reembedded = sam.post(f"{base}/reembed")
        again = sam.post(f"{base}/reembed")
        approved = sue.post(f"{base}/subjects/alpha/approve")
        proposed = olivia.post(
            f"{base}/subjects", json={"subject": subject, "photos": [{"name": "obama.jpg", "image_base64": photo}]}
        )
        detail = sam.get(base)
    # The server's engine runs dlib's ResNet: a new watchlist is made with it.
    assert (created.status_code, created.json()["model"]) == (201, DLIB_MODEL_ID), created.text
    assert (refused.status_code, refused.json()["error"]["code"]) == (409, "watchlist_model_mismatch")
    assert f"vigil watchlist reembed --watchlist {heron}" in refused.json()["error"]["message"]
    assert refused.json()["error"]["details"] == {
        "watchlist_id": str(heron),
        "watchlist_model": OTHER_MODEL.model_id,
        "server_model": DLIB_MODEL_ID,
    }
    assert (by_operator.status_code, unknown.status_code) == (403, 404)
    assert reembedded.status_code == 200, reembedded.text
    assert reembedded.json() == {
        "watchlist_id": str(heron),
        "from_model": OTHER_MODEL.model_id,
        "to_model": DLIB_MODEL_ID,
        "templates_reembedded": 1,
        "templates_without_chip": 0,
        "subjects_without_templates": [],
        "version": None,
    }
    assert (again.status_code, again.json()["error"]["code"]) == (409, "already_on_model")
    assert approved.status_code == 200, approved.text
    assert proposed.status_code == 201, proposed.text
    assert (detail.json()["watchlist"]["model"], [v["model"] for v in detail.json()["versions"]]) == (
        DLIB_MODEL_ID,
        [DLIB_MODEL_ID],
    )
    # The stored embedding is dlib's of the stored chip.
    with database.session() as session:
        template = session.scalars(select(WatchlistTemplate).where(WatchlistTemplate.source == "alpha-0.jpg")).one()
    assert template.embedding is not None
    assert template.chip_jpeg is not None
    expected = DlibEmbedder().embed([load_image(template.chip_jpeg)])[0]
    assert np.allclose(np.frombuffer(template.embedding, dtype="<f4"), expected, atol=1e-6)


def test_vigil_watchlist_reembed_reembeds_a_server_watchlist_from_the_command_line(
    database: Database, database_url: str, chips: list[bytes], monkeypatch: pytest.MonkeyPatch
) -> None:
    heron = watchlist_made_with(database, OTHER_MODEL, utc_now())
    _propose(database, heron, "alpha", chips[:2], OTHER_MODEL)
    monkeypatch.setenv("VIGIL_WATCHLISTS__VISION__EMBEDDER__KIND", "dlib")
    command = ["watchlist", "reembed", "--watchlist", str(heron), "--db", database_url]
    done = CliRunner().invoke(create_cli(), [*command, "--json"])
    again = CliRunner().invoke(create_cli(), command)
    assert done.exit_code == 0, done.stderr
    assert json.loads(done.stdout) | {"watchlist_id": None} == {
        "watchlist_id": None,
        "from_model": OTHER_MODEL.model_id,
        "to_model": DLIB_MODEL_ID,
        "templates_reembedded": 2,
        "templates_without_chip": 0,
        "subjects_without_templates": [],
        "version": None,
    }
    assert (again.exit_code, again.stderr.strip()) == (
        1,
        f"error: watchlist {heron} is made with face model {DLIB_MODEL_ID} already, the server's: nothing to re-embed",
    )
    with database.session() as session:
        audited = session.scalars(select(AuditEntry).where(AuditEntry.action == "watchlist.reembedded")).one()
        assert set(session.scalars(select(WatchlistTemplate.model))) == {DLIB_MODEL_ID}
    assert audited.actor.startswith("cli:")


def test_vigil_serve_model_makes_the_enrolment_engine_embed_with_the_manifests_model(tmp_path: Path) -> None:
    settings = CommandSettings(data_dir=tmp_path)
    manifest = tmp_path / "arcface.json"
    chosen = with_face_model(settings, manifest)
    assert chosen.watchlists.vision.embedder == SlotEmbedderSettings(manifest=manifest)
    assert chosen.watchlists.vision.model_copy(update={"embedder": settings.watchlists.vision.embedder}) == (
        settings.watchlists.vision
    )
    assert chosen.watchlists.model_copy(update={"vision": settings.watchlists.vision}) == settings.watchlists
    assert with_face_model(settings, None) is settings


def test_vigil_serve_refuses_a_model_that_cannot_load_before_it_serves(tmp_path: Path) -> None:
    manifest = tmp_path / "arcface.json"
    manifest.write_text("{}", encoding="utf-8")
    result = CliRunner().invoke(
        create_cli(), ["serve", "--model", str(manifest), "--db", f"sqlite:///{tmp_path / 'command.sqlite'}"]
    )
    assert result.exit_code == 1
    assert result.stderr.startswith("error: ")
    assert str(manifest) in result.stderr
    assert not (tmp_path / "command.sqlite").exists()
