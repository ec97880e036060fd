"""Files that hold secrets are readable by their owner alone (0600), whatever the umask says.

The SQLite database (password hashes, sealed secrets, face crops) and its ``-wal`` and ``-shm`` files, the key
that seals second-factor secrets, and a device's token file written by ``vigil devices register``.
"""

import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from vigil.cli.app import create_app
from vigil.command.accounts.sealing import SecretSealer
from vigil.command.database import Database


@pytest.fixture(autouse=True)
def permissive_umask() -> Iterator[None]:
    """The usual umask (022), under which files are made readable by everyone unless made otherwise."""
    before = os.umask(0o022)
    yield
    os.umask(before)


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_the_sqlite_database_and_its_wal_and_shm_files_are_owner_only(tmp_path: Path) -> None:
    path = tmp_path / "site" / "command.sqlite"
    database = Database(f"sqlite:///{path}")
    try:
        database.migrate()
        files = [path, path.with_name("command.sqlite-wal"), path.with_name("command.sqlite-shm")]
        assert {file.name: _mode(file) for file in files} == {file.name: 0o600 for file in files}
        assert _mode(path.parent) == 0o700
    finally:
        database.dispose()


def test_a_database_an_older_version_left_readable_is_made_owner_only(tmp_path: Path) -> None:
    path = tmp_path / "command.sqlite"
    first = Database(f"sqlite:///{path}")
    first.migrate()
    first.dispose()
    path.chmod(0o644)
    Database(f"sqlite:///{path}").dispose()
    assert _mode(path) == 0o600


def test_the_key_made_to_seal_second_factors_is_owner_only(tmp_path: Path) -> None:
    sealer = SecretSealer(tmp_path / "data" / "secrets.key", create=True)
    sealed = sealer.seal("JBSWY3DPEHPK3PXP", user_id="sup-1")
    assert _mode(tmp_path / "data" / "secrets.key") == 0o600
    assert SecretSealer(tmp_path / "data" / "secrets.key", create=False).open(sealed, user_id="sup-1") == (
        "JBSWY3DPEHPK3PXP"
    )
    assert [p.name for p in (tmp_path / "data").iterdir()] == ["secrets.key"]  # no partial file left behind


def test_a_devices_token_file_is_owner_only_and_never_overwritten(tmp_path: Path) -> None:
    token_file = tmp_path / "cam-1.token"
    register = ["devices", "register", "--data-dir", str(tmp_path), "--unit-id", "A-12", "--token-file"]
    first = CliRunner().invoke(create_app(), [*register, str(token_file), "--device-id", "cam-1"])
    assert first.exit_code == 0, first.output
    assert first.stdout == ""  # the token went to the file alone
    assert f"its token is in {token_file}" in first.stderr
    assert _mode(token_file) == 0o600
    assert len(token_file.read_text().strip()) >= 32
    again = CliRunner().invoke(create_app(), [*register, str(token_file), "--device-id", "cam-2"])
    assert (again.exit_code, again.stderr.strip()) == (
        1,
        f"error: {token_file} already exists; secret files are never overwritten, choose another",
    )
