"""What the governance tests share: people, templates without a face engine, keys, devices with package keys."""

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np

from vigil.command.actor import Actor
from vigil.command.database import Database
from vigil.command.devices.service import register_device
from vigil.command.settings import WatchlistServerSettings
from vigil.command.watchlists.keys import PackageKeys, issue_package_key
from vigil.command.watchlists.models import Watchlist
from vigil.command.watchlists.schemas import SubjectProposal, WatchlistCreate
from vigil.command.watchlists.service import assign_device, create_watchlist
from vigil.command.watchlists.subjects import approve_subject, propose_subject
from vigil.command.watchlists.versions import sync_packages
from vigil.vision.face_model import DLIB_MODEL, DLIB_MODEL_ID, Metric, ModelIdentity
from vigil.vision.quality import FaceQuality, QualityPart
from vigil.watchlist.enrolment import EnrolledFace
from vigil.watchlist.keys import create_device_key, create_signing_key, load_device_key, load_signing_key
from vigil.watchlist.subject import SubjectCategory, Template

OPERATOR = Actor(user_id="u-olivia", display_name="Olivia Operator", roles=frozenset({"operator"}))
SUPERVISOR = Actor(user_id="u-sam", display_name="Sam Supervisor", roles=frozenset({"supervisor"}))
SECOND_SUPERVISOR = Actor(user_id="u-sue", display_name="Sue Supervisor", roles=frozenset({"supervisor"}))
AUDITOR = Actor(user_id="u-ada", display_name="Ada Auditor", roles=frozenset({"auditor"}))
PUBLIC_URL = "http://vigil.test:8000"
OTHER_MODEL = ModelIdentity(name="arcface_r50", version="2", sha256="ab" * 32, metric=Metric.COSINE, embedding_size=64)
"""A force's own network, not dlib's: its embeddings cannot be compared with dlib's."""


def enrolled_face(chip_jpeg: bytes, *, seed: int, model: ModelIdentity = DLIB_MODEL) -> EnrolledFace:
    """A template as the face engine would make it (a random unit embedding of ``model``), with a passing verdict."""
    embedding = np.random.default_rng(seed).normal(size=model.embedding_size).astype(np.float32)
    embedding /= np.linalg.norm(embedding)
    quality = FaceQuality(
        score=0.8,
        passed=True,
        parts=[QualityPart(name="sharpness", value=120.0, unit="Laplacian variance", score=0.8, passed=True)],
    )
    return EnrolledFace(template=Template("x", embedding, chip_jpeg, 0.8, model=model.model_id), quality=quality)


@dataclass(frozen=True)
class Keys:
    """The centre's keys in files, and the settings naming them."""

    package_keys: PackageKeys
    settings: WatchlistServerSettings
    verify_key_file: Path


def make_keys(directory: Path, **settings: object) -> Keys:
    signing, verify, wrap = directory / "cc.pem", directory / "cc.pub", directory / "wrap.key"
    create_signing_key(signing, verify)
    create_device_key(wrap)
    watchlist_settings = WatchlistServerSettings(
        signing_key_file=signing, key_wrap_file=wrap, public_url=PUBLIC_URL, **settings
    )  # type: ignore[arg-type]
    return Keys(
        package_keys=PackageKeys(signing_key=load_signing_key(signing), wrap_key=load_device_key(wrap)),
        settings=watchlist_settings,
        verify_key_file=verify,
    )


def device_with_key(database: Database, keys: Keys, device_id: str, unit_id: str, now: datetime) -> bytes:
    """Register a device and issue its package key; returns the key."""
    with database.session() as session:
        register_device(
            session=session,
            device_id=device_id,
            unit_id=unit_id,
            call_sign=None,
            radio_id=None,
            kind=None,
            actor="system",
            address=None,
            now=now,
        )
        key = issue_package_key(
            session=session, device_id=device_id, wrap_key=keys.package_keys.wrap_key, replace=False, now=now
        )
        session.commit()
    return key


def new_watchlist(database: Database, now: datetime, **fields: object) -> uuid.UUID:
    with database.session() as session:
        created = create_watchlist(
            session=session,
            request=WatchlistCreate(name="Op Falcon", **fields),
            model=DLIB_MODEL_ID,
            actor=SUPERVISOR,
            now=now,  # type: ignore[arg-type]
        )
        session.commit()
    return created.watchlist_id


def watchlist_made_with(database: Database, model: ModelIdentity, now: datetime) -> uuid.UUID:
    """A watchlist made while the server ran ``model`` (a server running another cannot create one now)."""
    watchlist = Watchlist(
        watchlist_id=uuid.uuid4(), name="Op Heron", model=model.model_id, created_by=SUPERVISOR.user_id, created_at=now
    )
    with database.session() as session:
        session.add(watchlist)
        session.commit()
    return watchlist.watchlist_id


def proposal(subject_id: str, expires_at: datetime) -> SubjectProposal:
    return SubjectProposal(
        subject_id=subject_id,
        display_name=subject_id.title(),
        category=SubjectCategory.WANTED_ON_WARRANT,
        legal_basis="Warrant 2024/117, Westminster Magistrates' Court",
        expires_at=expires_at,
        notes="Approach with care",
    )


def live_subject(
    database: Database,
    keys: Keys,
    watchlist_id: uuid.UUID,
    subject_id: str,
    chip_jpeg: bytes,
    *,
    now: datetime,
    expires_in: timedelta = timedelta(days=30),
    seed: int = 1,
) -> int:
    """Propose (the operator) and approve (a supervisor) a subject, packaging it; returns the version."""
    with database.session() as session:
        propose_subject(
            session=session,
            watchlist_id=watchlist_id,
            proposal=proposal(subject_id, now + expires_in),
            faces=[enrolled_face(chip_jpeg, seed=seed)],
            sources=[f"{subject_id}.jpg"],
            actor=OPERATOR,
            now=now,
        )
        session.commit()
    with database.session() as session:
        _, version = approve_subject(
            session=session,
            watchlist_id=watchlist_id,
            subject_id=subject_id,
            actor=SUPERVISOR,
            settings=keys.settings,
            now=now,
        )
        sync_packages(session=session, keys=keys.package_keys, public_url=PUBLIC_URL, now=now)
        session.commit()
        return version.version


def assign(database: Database, keys: Keys, watchlist_id: uuid.UUID, device_id: str, now: datetime) -> int:
    """Give a device the watchlist; returns how many packages were made."""
    with database.session() as session:
        assign_device(session=session, watchlist_id=watchlist_id, device_id=device_id, actor=SUPERVISOR, now=now)
        made = sync_packages(session=session, keys=keys.package_keys, public_url=PUBLIC_URL, now=now)
        session.commit()
    return made


def ingest_events(database: Database, device_id: str, *events: object) -> None:
    """Ingest events as the device sent them over HTTP; every one must be accepted.

    The device is first recorded as sent each watchlist version its alerts name (a device raises alerts only from
    a package it was sent; a version not made yet is made with the alert's subject).
    """
    from tests.command.events import send_watchlist
    from vigil.command.ingestion.metrics import IngestionMetrics
    from vigil.command.ingestion.models import Transport
    from vigil.command.ingestion.schemas import Outcome
    from vigil.command.ingestion.service import ingest
    from vigil.command.settings import IngestionLimits
    from vigil.events import AlertRaised, encode_event

    for event in events:
        if isinstance(event, AlertRaised):
            send_watchlist(database, device_id, version=event.watchlist_version, subjects=(event.subject_id,))
    for event in events:
        with database.session() as session:
            result = ingest(
                session=session,
                raw=encode_event(event),  # type: ignore[arg-type]
                transport=Transport.HTTP,
                authenticated_device_id=device_id,
                limits=IngestionLimits(),
                metrics=IngestionMetrics(),
            )
        if result.outcome is not Outcome.ACCEPTED:
            raise AssertionError(f"{event!r} was not accepted: {result.message}")


def review(database: Database, alert_id: uuid.UUID, decision: str, *, at: datetime, reason: str = "") -> None:
    """Decide an alert as the operator."""
    from vigil.command.reviews.schemas import ReviewRequest
    from vigil.command.reviews.service import decide

    with database.session() as session:
        decide(
            session=session,
            alert_id=alert_id,
            request=ReviewRequest.model_validate({"decision": decision, "reason": reason}),
            actor=OPERATOR,
            now=at,
        )
        session.commit()
