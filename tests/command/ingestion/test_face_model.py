"""An alert names the face model that made its match: stored and shown to reviewers, and rejected when it is not
the model of the watchlist version it names (distances between two models' embeddings mean nothing)."""

import pytest

from tests.command.conftest import Register
from tests.command.events import alert, send_watchlist
from tests.command.governance import OTHER_MODEL
from vigil.command.alerts.service import list_alerts
from vigil.command.database import Database
from vigil.command.ingestion.metrics import IngestionMetrics
from vigil.command.ingestion.models import RejectReason, Transport
from vigil.command.ingestion.schemas import Outcome
from vigil.command.ingestion.service import ingest
from vigil.command.settings import IngestionLimits
from vigil.events import encode_event
from vigil.vision.face_model import DLIB_MODEL_ID

DLIB_VERSION, OTHER_VERSION = 3, 4

# The version the alert names, the model it names (None: a device too old to name one), what is stored or why not.
CASES: list[tuple[int, str | None, str | RejectReason]] = [
    (DLIB_VERSION, None, DLIB_MODEL_ID),
    (DLIB_VERSION, DLIB_MODEL_ID, DLIB_MODEL_ID),
    (OTHER_VERSION, OTHER_MODEL.model_id, OTHER_MODEL.model_id),
    (DLIB_VERSION, OTHER_MODEL.model_id, RejectReason.MODEL_MISMATCH),
    (OTHER_VERSION, None, RejectReason.MODEL_MISMATCH),
    (OTHER_VERSION, DLIB_MODEL_ID, RejectReason.MODEL_MISMATCH),
]


@pytest.mark.parametrize(
    ("version", "model", "outcome"),
    CASES,
    ids=[
        "an older device on dlib's version",
        "dlib's on dlib's version",
        "another model on its version",
        "another model on dlib's version",
        "an older device on another model's version",
        "dlib's on another model's version",
    ],
)
def test_an_alert_of_its_versions_model_is_stored_with_it_and_one_of_another_is_rejected(
    database: Database,
    register: Register,
    limits: IngestionLimits,
    probe_jpeg: bytes,
    version: int,
    model: str | None,
    outcome: str | RejectReason,
) -> None:
    register("cam-1", "A-12")
    send_watchlist(database, "cam-1", version=DLIB_VERSION, subjects=("obama",))
    send_watchlist(database, "cam-1", version=OTHER_VERSION, subjects=("obama",), model=OTHER_MODEL.model_id)
    event = alert(probe_jpeg, watchlist_version=version, model=model)
    with database.session() as session:
        result = ingest(
            session=session,
            raw=encode_event(event),
            transport=Transport.HTTP,
            authenticated_device_id="cam-1",
            limits=limits,
            metrics=IngestionMetrics(),
        )
    with database.session() as session:
        shown = list_alerts(session=session, before=None, limit=10).alerts
    if isinstance(outcome, RejectReason):
        expected = OTHER_MODEL.model_id if version == OTHER_VERSION else DLIB_MODEL_ID
        assert (result.outcome, result.reason, shown) == (Outcome.REJECTED, outcome, [])
        assert result.message is not None
        assert f"made with face model {model or DLIB_MODEL_ID}" in result.message
        assert f"watchlist version {version} is made with {expected}" in result.message
        return
    assert result.outcome is Outcome.ACCEPTED, result.message
    assert [(a.alert_id, a.watchlist_version, a.model) for a in shown] == [(event.alert_id, version, outcome)]
