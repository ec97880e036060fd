"""The database's two kinds of session on SQLite: writers take the write lock at once, readers never wait for it."""

import sqlite3
import time
from pathlib import Path

import pytest
from sqlalchemy import text

from vigil.command.database import Database


def _database(tmp_path: Path) -> Database:
    database = Database(f"sqlite:///{tmp_path / 'command.sqlite'}")
    with database.session() as session:
        session.execute(text("CREATE TABLE counter (n INTEGER NOT NULL)"))
        session.execute(text("INSERT INTO counter VALUES (1)"))
        session.commit()
    return database


def test_a_reader_sees_the_last_commit_without_waiting_for_a_writer_in_progress(tmp_path: Path) -> None:
    database = _database(tmp_path)
    with database.session() as writer:
        writer.execute(text("UPDATE counter SET n = 2"))  # the write lock is held until the commit
        started = time.monotonic()
        with database.read_session() as reader:
            seen = reader.scalar(text("SELECT n FROM counter"))
        waited_s = time.monotonic() - started
        writer.commit()
    assert seen == 1
    assert waited_s < 1.0  # a writer's session would have waited out the 10 s busy timeout
    with database.read_session() as reader:
        assert reader.scalar(text("SELECT n FROM counter")) == 2
    database.dispose()


def test_a_writer_takes_the_write_lock_when_its_transaction_begins(tmp_path: Path) -> None:
    database = _database(tmp_path)
    other = sqlite3.connect(tmp_path / "command.sqlite", timeout=0, isolation_level=None)
    with database.session() as writer:
        writer.execute(text("SELECT n FROM counter"))  # only a read, yet BEGIN IMMEDIATE took the lock
        with pytest.raises(sqlite3.OperationalError, match="locked"):
            other.execute("BEGIN IMMEDIATE")
        writer.rollback()
    other.execute("BEGIN IMMEDIATE")  # free again
    other.execute("ROLLBACK")
    other.close()
    database.dispose()
