"""Second-factor secrets at rest: sealed under the server's key, never in clear; older databases sealed as they move."""

import re
from pathlib import Path

import alembic.command
import pyotp
import pytest
from alembic.config import Config
from alembic.script import ScriptDirectory
from pydantic import SecretStr
from sqlalchemy import text

from tests.command.conftest import CreateAccount
from vigil.command.accounts.models import Role
from vigil.command.accounts.passwords import Passwords
from vigil.command.accounts.sealing import SecretSealer, reseal_second_factors
from vigil.command.accounts.sign_in import Credentials, sign_in
from vigil.command.database import MIGRATIONS, Database
from vigil.command.errors import MigrationFailed, SecondFactorUnreadable, SignInFailed
from vigil.command.settings import AccountSettings, CommandSettings, WatchlistServerSettings
from vigil.events import utc_now
from vigil.watchlist.keys import create_device_key

BASE32_SECRET = re.compile(r"[A-Z2-7]{32}")


def _stored(database: Database, username: str) -> str:
    with database.engine.connect() as connection:
        stored: str = connection.execute(
            text("SELECT totp_sealed FROM users WHERE user_id = :u"), {"u": username}
        ).scalar_one()
    return stored


def test_the_database_holds_the_second_factor_only_sealed_and_sign_in_still_works(
    database: Database, passwords: Passwords, settings: CommandSettings, accounts: CreateAccount, tmp_path: Path
) -> None:
    supervisor = accounts("sup-1", Role.SUPERVISOR)
    assert supervisor.totp_secret is not None
    stored = _stored(database, "sup-1")
    assert supervisor.totp_secret not in stored
    assert BASE32_SECRET.search(stored) is None
    assert stored.startswith("v1.")
    sealer = SecretSealer.for_settings(settings)
    assert sealer.open(stored, user_id="sup-1") == supervisor.totp_secret
    with pytest.raises(SecondFactorUnreadable, match="second-factor secret does not open with the key"):
        sealer.open(stored, user_id="sup-2")  # moved to another user's row
    with pytest.raises(SecondFactorUnreadable, match="VIGIL_WATCHLISTS__KEY_WRAP_FILE"):
        SecretSealer(tmp_path / "another.key", create=True).open(stored, user_id="sup-1")
    code = supervisor.code()
    signed_in = sign_in(
        database=database,
        passwords=passwords,
        sealer=sealer,
        settings=AccountSettings(),
        credentials=Credentials(
            username="sup-1", password=SecretStr(supervisor.password), code=code, address="10.0.0.1"
        ),
        now=utc_now(),
    )
    assert signed_in.user.roles == [Role.SUPERVISOR]


def _config() -> Config:
    config = Config()
    config.set_main_option("script_location", MIGRATIONS)
    return config


def _before_0007() -> str:
    revision = ScriptDirectory.from_config(_config()).get_revision("0007")
    assert revision is not None
    previous = revision.down_revision
    assert isinstance(previous, str)
    return previous


def test_the_migration_seals_secrets_an_older_version_kept_in_clear_and_going_down_opens_them(
    empty_database: Database, tmp_path: Path
) -> None:
    secret = pyotp.random_base32(32)
    empty_database.migrate(_before_0007())
    with empty_database.engine.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO users (user_id, display_name, password_hash, totp_secret, failed_sign_ins, created_at, "
                "created_by) VALUES ('sup-1', 'S', 'x', :secret, 0, '2026-01-01', 'system')"
            ),
            {"secret": secret},
        )
    with pytest.raises(MigrationFailed, match="1 second-factor secret"):
        empty_database.migrate()  # nothing to seal them with: nothing changes
    sealer = SecretSealer(tmp_path / "secrets.key", create=True)
    empty_database.migrate(sealer=sealer)
    stored = _stored(empty_database, "sup-1")
    assert secret not in stored
    assert sealer.open(stored, user_id="sup-1") == secret
    with empty_database.engine.begin() as connection:
        config = _config()
        config.attributes.update(connection=connection, sealer=sealer)
        alembic.command.downgrade(config, _before_0007())
        back = connection.execute(text("SELECT totp_secret, failed_sign_ins FROM users")).one()
    assert tuple(back) == (secret, 0)


def test_a_secret_sealed_under_another_key_fails_the_sign_in_alike_and_says_why_in_the_audit_trail(
    database: Database, passwords: Passwords, accounts: CreateAccount, tmp_path: Path
) -> None:
    supervisor = accounts("sup-1", Role.SUPERVISOR)
    credentials = Credentials(
        username="sup-1", password=SecretStr(supervisor.password), code=supervisor.code(), address="10.0.0.1"
    )
    with pytest.raises(SignInFailed):
        sign_in(
            database=database,
            passwords=passwords,
            sealer=SecretSealer(tmp_path / "another-servers.key", create=True),
            settings=AccountSettings(),
            credentials=credentials,
            now=utc_now(),
        )
    with database.engine.connect() as connection:
        reason = connection.execute(
            text("SELECT details FROM audit_log WHERE action = 'user.sign_in_failed' ORDER BY seq DESC")
        ).first()
    assert reason is not None
    assert reason[0] == '{"reason":"second_factor_unreadable"}'


def test_a_server_given_a_key_wrapping_key_later_seals_every_secret_again_under_it(
    database: Database, passwords: Passwords, settings: CommandSettings, accounts: CreateAccount, tmp_path: Path
) -> None:
    supervisor = accounts("sup-1", Role.SUPERVISOR)  # sealed under data_dir/secrets.key: no key-wrapping key yet
    wrap = tmp_path / "keys" / "wrap.key"
    wrap.parent.mkdir()
    create_device_key(wrap)
    later = settings.model_copy(update={"watchlists": WatchlistServerSettings(key_wrap_file=wrap)})
    sealer = SecretSealer.for_settings(later)
    assert not sealer.is_current(_stored(database, "sup-1"))
    assert reseal_second_factors(database=database, sealer=sealer) == 1
    assert reseal_second_factors(database=database, sealer=sealer) == 0
    (settings.data_dir / "secrets.key").unlink()  # no longer needed
    fresh = SecretSealer.for_settings(later)
    assert fresh.open(_stored(database, "sup-1"), user_id="sup-1") == supervisor.totp_secret
    credentials = Credentials(
        username="sup-1", password=SecretStr(supervisor.password), code=supervisor.code(), address="10.0.0.1"
    )
    signed_in = sign_in(
        database=database,
        passwords=passwords,
        sealer=fresh,
        settings=AccountSettings(),
        credentials=credentials,
        now=utc_now(),
    )
    assert signed_in.user.username == "sup-1"
