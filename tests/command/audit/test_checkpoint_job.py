"""The scheduler writes the audit checkpoint: at once when it starts, when the trail has grown, and at shutdown."""

import time
from pathlib import Path

import pytest

from tests.command.audit.conftest import Append, CheckpointKeys
from vigil.command.audit.checkpoint_store import read_store
from vigil.command.audit.errors import CheckpointKeyError, CheckpointStoreError
from vigil.command.database import Database
from vigil.command.jobs import audit_jobs
from vigil.command.scheduler import Scheduler
from vigil.command.settings import AuditSettings, CommandSettings
from vigil.events import utc_now


def _settings(database_url: str, tmp_path: Path, store: Path, keys: CheckpointKeys) -> CommandSettings:
    audit = AuditSettings(checkpoint_dir=store, checkpoint_key_file=keys.private_file, checkpoint_every_s=3600)
    return CommandSettings(data_dir=tmp_path, database_url=database_url, audit=audit)


def _signed(store: Path, keys: CheckpointKeys) -> list[tuple[int, int]]:
    return [(c.n, c.seq) for c in read_store(directory=store, public_key=keys.key.public_key()).checkpoints]


def test_the_scheduler_checkpoints_the_trail_as_it_starts_and_as_it_stops(
    trail: Database, database_url: str, tmp_path: Path, store: Path, checkpoint_keys: CheckpointKeys, append: Append
) -> None:
    settings = _settings(database_url, tmp_path, store, checkpoint_keys)
    scheduler = Scheduler(database=trail, jobs=audit_jobs(database=trail, settings=settings), tick_s=60, clock=utc_now)
    scheduler.start()
    deadline = time.monotonic() + 10
    while not _signed(store, checkpoint_keys) and time.monotonic() < deadline:
        time.sleep(0.01)
    assert _signed(store, checkpoint_keys) == [(1, 6)]
    append(2)
    assert scheduler.run_due() == []  # not due again for an hour
    scheduler.stop()
    assert _signed(store, checkpoint_keys) == [(1, 6), (2, 8)]


def test_the_scheduler_writes_only_when_the_trail_has_grown(
    trail: Database, database_url: str, tmp_path: Path, store: Path, checkpoint_keys: CheckpointKeys, append: Append
) -> None:
    settings = _settings(database_url, tmp_path, store, checkpoint_keys)
    scheduler = Scheduler(database=trail, jobs=audit_jobs(database=trail, settings=settings), tick_s=60, clock=utc_now)
    assert scheduler.run_due() == ["audit checkpoint"]
    scheduler.stop()  # nothing new since: nothing written
    assert _signed(store, checkpoint_keys) == [(1, 6)]


def test_no_job_without_a_store_and_a_store_or_key_that_cannot_be_used_stops_the_server_starting(
    database: Database, database_url: str, tmp_path: Path, store: Path, checkpoint_keys: CheckpointKeys
) -> None:
    assert audit_jobs(database=database, settings=CommandSettings(data_dir=tmp_path, database_url=database_url)) == []
    unmounted = _settings(database_url, tmp_path, tmp_path / "unmounted", checkpoint_keys)
    with pytest.raises(CheckpointStoreError, match="unmounted does not exist"):
        audit_jobs(database=database, settings=unmounted)
    checkpoint_keys.private_file.chmod(0o644)
    with pytest.raises(CheckpointKeyError, match="chmod 600"):
        audit_jobs(database=database, settings=_settings(database_url, tmp_path, store, checkpoint_keys))
