"""Sign-in throttling on the clock it is given: sources wait, people at their own desks do not, nothing locks.

The scenes are a force's: a prankster who knows the duty supervisor's name tries to keep them out during an
incident; a guesser spreads attempts over many addresses; names are sprayed from one address (a station behind
NAT, where colleagues still sign in). Each attempt goes through :func:`sign_in` with an injected time.
"""

from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

import pytest
from pydantic import SecretStr
from sqlalchemy import select

from tests.command.conftest import Account, CreateAccount
from vigil.command.accounts.models import Role, SignInThrottle
from vigil.command.accounts.passwords import PasswordCheck, Passwords
from vigil.command.accounts.sealing import SecretSealer
from vigil.command.accounts.service import disable_user, unlock_user
from vigil.command.accounts.sign_in import Credentials, sign_in
from vigil.command.audit.models import AuditEntry
from vigil.command.database import Database
from vigil.command.errors import SignInFailed
from vigil.command.settings import AccountSettings, CommandSettings

T0 = datetime(2026, 3, 1, 8, 0, tzinfo=UTC)
CONTROL_ROOM = "10.20.0.5"
PRANKSTER = "203.0.113.66"
WRONG = "not the password at all"


class Attempts:
    """Signs in as a person would, at a given time and address; says whether it worked."""

    def __init__(
        self, database: Database, passwords: Passwords, sealer: SecretSealer, settings: AccountSettings
    ) -> None:
        self.database, self.passwords, self.sealer, self.settings = database, passwords, sealer, settings

    def __call__(self, account: Account, *, at: datetime, address: str, password: str | None = None) -> bool:
        credentials = Credentials(
            username=account.username,
            password=SecretStr(account.password if password is None else password),
            code=None,
            address=address,
        )
        try:
            sign_in(
                database=self.database,
                passwords=self.passwords,
                sealer=self.sealer,
                settings=self.settings,
                credentials=credentials,
                now=at,
            )
        except SignInFailed:
            return False
        return True


def _attempts(database: Database, passwords: Passwords, settings: CommandSettings, **limits: int) -> Attempts:
    return Attempts(database, passwords, SecretSealer.for_settings(settings), AccountSettings.model_validate(limits))


def _counters(database: Database) -> dict[tuple[str, str], tuple[int, datetime | None]]:
    with database.session() as session:
        rows = session.scalars(select(SignInThrottle))
        return {(r.address, r.user_id): (r.failures, r.blocked_until) for r in rows}


def _s(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def test_a_prankster_elsewhere_cannot_keep_the_duty_supervisor_out(
    database: Database, passwords: Passwords, settings: CommandSettings, accounts: CreateAccount
) -> None:
    attempt = _attempts(database, passwords, settings)
    duty = accounts("duty-sup")
    assert [attempt(duty, at=_s(n), address=PRANKSTER, password=WRONG) for n in range(5)] == [False] * 5
    assert attempt(duty, at=_s(5), address=PRANKSTER) is False  # the prankster's source must wait, right or wrong
    assert attempt(duty, at=_s(6), address=CONTROL_ROOM) is True  # the supervisor, at their desk, is not held back


def test_the_wait_doubles_with_each_further_failure_and_ends_by_itself(
    database: Database, passwords: Passwords, settings: CommandSettings, accounts: CreateAccount
) -> None:
    attempt = _attempts(database, passwords, settings)
    officer = accounts("op-1")
    for n in range(5):
        attempt(officer, at=_s(n), address=PRANKSTER, password=WRONG)
    assert _counters(database)[(PRANKSTER, "op-1")] == (5, _s(4 + 15))
    assert attempt(officer, at=_s(4 + 14), address=PRANKSTER) is False  # still waiting: not even the password helps
    assert attempt(officer, at=_s(4 + 15), address=PRANKSTER, password=WRONG) is False
    assert _counters(database)[(PRANKSTER, "op-1")] == (6, _s(19 + 30))  # the waiting attempt did not count
    assert attempt(officer, at=_s(19 + 29), address=PRANKSTER) is False
    assert attempt(officer, at=_s(19 + 30), address=PRANKSTER) is True
    assert (PRANKSTER, "op-1") not in _counters(database)  # success forgets the failures at that address


def test_guessing_spread_over_many_addresses_holds_back_new_addresses_but_not_the_users_own(
    database: Database, passwords: Passwords, settings: CommandSettings, accounts: CreateAccount
) -> None:
    attempt = _attempts(database, passwords, settings, max_failed_sign_ins_per_account=4)
    supervisor = accounts("sup-1")
    assert attempt(supervisor, at=_s(0), address=CONTROL_ROOM) is True  # their own desk, from now on
    botnet = [f"198.51.100.{n}" for n in range(1, 5)]
    assert [attempt(supervisor, at=_s(n), address=a, password=WRONG) for n, a in enumerate(botnet, 1)] == [False] * 4
    assert _counters(database)[("", "sup-1")] == (4, _s(4 + 15))
    assert attempt(supervisor, at=_s(5), address="198.51.100.99") is False  # a new address waits, right or wrong
    assert attempt(supervisor, at=_s(6), address=CONTROL_ROOM) is True  # the person at their own desk does not


def test_names_sprayed_from_one_address_hold_it_back_but_not_colleagues_who_sign_in_there(
    database: Database, passwords: Passwords, settings: CommandSettings, accounts: CreateAccount
) -> None:
    attempt = _attempts(database, passwords, settings, max_failed_sign_ins_per_address=3)
    station = "10.99.0.1"
    regular, newcomer = accounts("op-1"), accounts("op-2")
    assert attempt(regular, at=_s(0), address=station) is True
    strangers = [Account(f"guess-{n}", WRONG, (Role.OPERATOR,), None) for n in range(3)]
    assert [attempt(a, at=_s(1 + n), address=station) for n, a in enumerate(strangers)] == [False] * 3
    assert _counters(database) == {(station, ""): (3, _s(3 + 15))}  # unknown names are never stored
    assert attempt(newcomer, at=_s(5), address=station) is False
    assert attempt(regular, at=_s(6), address=station) is True


def test_an_administrator_clears_the_waits_and_old_failures_are_forgotten(
    database: Database, passwords: Passwords, settings: CommandSettings, accounts: CreateAccount
) -> None:
    attempt = _attempts(database, passwords, settings, max_failed_sign_ins_per_account=2)
    officer = accounts("op-1")
    for n in range(2):
        attempt(officer, at=_s(n), address=PRANKSTER, password=WRONG)
    with database.session() as session:
        unlocked = unlock_user(session=session, username="op-1", actor="admin-1", address=None, now=_s(2))
    assert unlocked.locked_until is None
    assert _counters(database) == {(PRANKSTER, ""): (2, None)}
    an_hour_later = _s(1 + AccountSettings().failure_memory_s + 1)
    assert attempt(officer, at=an_hour_later, address=CONTROL_ROOM, password=WRONG) is False
    assert _counters(database) == {  # the prankster's stale counter is gone
        (CONTROL_ROOM, ""): (1, None),
        (CONTROL_ROOM, "op-1"): (1, None),
        ("", "op-1"): (1, None),
    }


class CountingPasswords(Passwords):
    """Passwords that count the hashes checked."""

    def __init__(self) -> None:
        super().__init__(min_length=12)
        self.checks = 0

    def check(self, password: str, stored_hash: str) -> PasswordCheck:
        self.checks += 1
        return super().check(password, stored_hash)


@pytest.mark.parametrize("case", ["unknown name", "wrong password", "waiting source", "disabled"])
def test_every_failure_costs_one_password_hash(
    database: Database, settings: CommandSettings, accounts: CreateAccount, case: str
) -> None:
    counting = CountingPasswords()
    attempt = Attempts(database, counting, SecretSealer.for_settings(settings), AccountSettings(max_failed_sign_ins=1))
    officer = accounts("op-1")
    if case == "waiting source":
        attempt(officer, at=_s(0), address=PRANKSTER, password=WRONG)
    if case == "disabled":
        with database.session() as session:
            disable_user(session=session, username="op-1", actor="admin-1", address=None, now=_s(0))
    counting.checks = 0
    who = Account("nobody", officer.password, (Role.OPERATOR,), None) if case == "unknown name" else officer
    password = WRONG if case == "wrong password" else None
    assert attempt(who, at=_s(1), address=PRANKSTER, password=password) is False
    assert counting.checks == 1


def test_parallel_guesses_cannot_slip_past_the_limit(
    database: Database, passwords: Passwords, settings: CommandSettings, accounts: CreateAccount
) -> None:
    attempt = _attempts(database, passwords, settings, max_failed_sign_ins=3)
    officer = accounts("op-1")
    with ThreadPoolExecutor(max_workers=8) as pool:
        outcomes = list(pool.map(lambda _: attempt(officer, at=T0, address=PRANKSTER, password=WRONG), range(8)))
    assert outcomes == [False] * 8
    assert _counters(database)[(PRANKSTER, "op-1")] == (3, _s(15))  # three counted; the rest found it waiting
    with database.session() as session:
        actions = session.scalars(select(AuditEntry.action).where(AuditEntry.record_id == "op-1")).all()
    assert sorted(actions).count("user.sign_in_refused") == 5
