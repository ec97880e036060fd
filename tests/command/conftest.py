"""Fixtures for the command centre: a real database of each kind, a real uvicorn server, registered devices.

Every database test runs twice, on SQLite (a fresh file) and on PostgreSQL with PostGIS (a fresh schema in the
``vigil_test`` database, created with the extension when missing). The PostgreSQL run is skipped only when no
server answers at ``$VIGIL_TEST_POSTGRES_URL`` (default ``postgresql+psycopg://postgres@127.0.0.1:5432/vigil_test``),
and even then fails when ``VIGIL_REQUIRE_POSTGRES=1`` (CI sets it).
"""

import contextlib
import io
import os
import socket
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import psycopg
import pyotp
import pytest
import uvicorn
from fastapi import FastAPI
from PIL import Image
from pydantic import SecretStr
from sqlalchemy.engine import make_url

from vigil.command.accounts.models import Role
from vigil.command.accounts.passwords import Passwords
from vigil.command.accounts.sealing import SecretSealer
from vigil.command.accounts.service import create_user
from vigil.command.app import create_app
from vigil.command.database import Database
from vigil.command.devices.service import register_device
from vigil.command.settings import AccountSettings, CommandSettings, IngestionLimits
from vigil.events import utc_now

POSTGRES_URL = os.environ.get("VIGIL_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/vigil_test")


def _libpq(url: str, *, database: str) -> str:
    parsed = make_url(url).set(drivername="postgresql", database=database)
    return parsed.render_as_string(hide_password=False)


@pytest.fixture(scope="session")
def postgres_database() -> str:
    """The test database's URL, created with PostGIS when missing; skips only when no server answers."""
    name = make_url(POSTGRES_URL).database or "vigil_test"
    try:
        admin = psycopg.connect(_libpq(POSTGRES_URL, database="postgres"), autocommit=True, connect_timeout=3)
    except psycopg.OperationalError as exc:
        if os.environ.get("VIGIL_REQUIRE_POSTGRES") == "1":
            pytest.fail(f"PostgreSQL is required (VIGIL_REQUIRE_POSTGRES=1) but unreachable: {exc}")
        pytest.skip(f"no PostgreSQL server answers at {make_url(POSTGRES_URL).host}: {exc}")
    # Test workers (pytest-xdist) may get here at once: whoever creates the database or extension second finds
    # it made.
    with admin, contextlib.suppress(psycopg.errors.DuplicateDatabase):
        if admin.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone() is None:
            admin.execute(f'CREATE DATABASE "{name}"')
    with (
        psycopg.connect(_libpq(POSTGRES_URL, database=name), autocommit=True) as connection,
        contextlib.suppress(psycopg.errors.UniqueViolation, psycopg.errors.DuplicateObject),
    ):
        connection.execute("CREATE EXTENSION IF NOT EXISTS postgis")
    return POSTGRES_URL


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """An empty database of each kind: a new SQLite file, or a new PostgreSQL schema (dropped afterwards)."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'command.sqlite'}"
        return
    base: str = request.getfixturevalue("postgres_database")
    schema = f"test_{uuid.uuid4().hex[:12]}"
    libpq = _libpq(base, database=make_url(base).database or "vigil_test")
    with psycopg.connect(libpq, autocommit=True) as connection:
        connection.execute(f"CREATE SCHEMA {schema}")
    # Tables go to the test's schema; PostGIS's types and functions stay visible from public.
    yield (
        make_url(base)
        .update_query_dict({"options": f"-csearch_path={schema},public"})
        .render_as_string(hide_password=False)
    )
    with psycopg.connect(libpq, autocommit=True) as connection:
        connection.execute(f"DROP SCHEMA {schema} CASCADE")


@pytest.fixture
def empty_database(database_url: str) -> Iterator[Database]:
    """The database, with no tables yet."""
    opened = Database(database_url)
    yield opened
    opened.dispose()


@pytest.fixture
def database(empty_database: Database) -> Database:
    """The database, migrated to the newest schema."""
    empty_database.migrate()
    return empty_database


Register = Callable[..., str]


@pytest.fixture
def register(database: Database) -> Register:
    """Register a device to a unit; returns its token."""

    def run(device_id: str = "cam-1", unit_id: str = "A-12") -> str:
        with database.session() as session:
            registration = register_device(
                actor="system",
                address=None,
                session=session,
                device_id=device_id,
                unit_id=unit_id,
                call_sign=None,
                radio_id=None,
                kind=None,
                now=utc_now(),
            )
        return registration.token.get_secret_value()

    return run


@pytest.fixture
def limits() -> IngestionLimits:
    return IngestionLimits(max_request_bytes=512 * 1024, max_batch_events=20, max_rejected_raw_bytes=1024)


@pytest.fixture
def settings(database_url: str, tmp_path: Path, limits: IngestionLimits) -> CommandSettings:
    # OsmAnd is off by default; on here, so that every route of the API is exercised (its tests turn it off).
    return CommandSettings(data_dir=tmp_path, database_url=database_url, limits=limits, osmand_enabled=True)


@dataclass
class Account:
    """A user made for a test, with what they sign in with."""

    username: str
    password: str
    roles: tuple[Role, ...]
    totp_secret: str | None
    last_step: int | None = None

    def code(self) -> str | None:
        """A second-factor code valid now and not used before (the next step's once this step's is used)."""
        if self.totp_secret is None:
            return None
        totp = pyotp.TOTP(self.totp_secret)
        step = totp.timecode(utc_now())
        if self.last_step is not None and step <= self.last_step:
            step = self.last_step + 1
        self.last_step = step
        return totp.generate_otp(step)


CreateAccount = Callable[..., Account]


@pytest.fixture(scope="session")
def passwords() -> Passwords:
    return Passwords(min_length=AccountSettings().min_password_length)


@pytest.fixture
def accounts(database: Database, passwords: Passwords, settings: CommandSettings) -> CreateAccount:
    """Create users in the test database: ``accounts("sup-1", Role.SUPERVISOR)``; roles default to operator.

    Second-factor secrets are sealed under the key ``settings`` name, as the ``server`` fixture's are.
    """
    return account_maker(database, passwords, SecretSealer.for_settings(settings))


def account_maker(database: Database, passwords: Passwords, sealer: SecretSealer) -> CreateAccount:
    """What the ``accounts`` fixture gives, for tests with a database of their own (and the server's sealer)."""

    def create(username: str = "op-1", *roles: Role, second_factor: bool = False) -> Account:
        granted = roles or (Role.OPERATOR,)
        password = f"correct horse battery {username}"
        with database.session() as session:
            enrolment = create_user(
                session=session,
                passwords=passwords,
                sealer=sealer,
                settings=AccountSettings(),
                username=username,
                display_name=username.upper(),
                roles=granted,
                password=SecretStr(password),
                second_factor=second_factor,
                actor="system",
                address=None,
                now=utc_now(),
            )
        uri = enrolment.totp_provisioning_uri
        secret = pyotp.parse_uri(uri.get_secret_value()).secret if uri is not None else None
        return Account(username=username, password=password, roles=granted, totp_secret=secret)

    return create


@dataclass
class RunningServer:
    app: FastAPI
    url: str

    def client(self, token: str | None = None) -> httpx.Client:
        headers = {"Authorization": f"Bearer {token}"} if token is not None else {}
        # Generous: a test is never about how fast the server answers on a busy machine (the first OpenAPI
        # document took 17 s under a loaded CI run, past an earlier 10 s limit); benchmarks measure speed.
        return httpx.Client(base_url=self.url, headers=headers, timeout=60)

    def sign_in(self, account: Account) -> str:
        """Sign in as an API client; returns the session's bearer token."""
        body = {"username": account.username, "password": account.password, "delivery": "bearer"}
        if account.totp_secret is not None:
            body["code"] = account.code() or ""
        with self.client() as client:
            response = client.post("/api/v1/auth/login", json=body)
        response.raise_for_status()
        token: str = response.json()["token"]
        return token


@pytest.fixture
def serve() -> Iterator[Callable[[FastAPI], RunningServer]]:
    """Run apps in real uvicorn servers on threads (httpx's `serve_in_thread`), stopped after the test."""
    yield from serving(ws="none")


def serving(*, ws: str) -> Iterator[Callable[[FastAPI], RunningServer]]:
    """Start apps in uvicorn servers on threads with the given WebSocket protocol; stop them when resumed."""
    running: list[tuple[uvicorn.Server, threading.Thread]] = []

    def start(app: FastAPI) -> RunningServer:
        listener = socket.socket()
        listener.bind(("127.0.0.1", 0))
        port = listener.getsockname()[1]
        server = uvicorn.Server(uvicorn.Config(app, log_level="warning", ws=ws, lifespan="on"))
        thread = threading.Thread(target=server.run, kwargs={"sockets": [listener]}, daemon=True)
        thread.start()
        running.append((server, thread))
        deadline = time.monotonic() + 20
        while not server.started:
            if not thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the server did not start")
            time.sleep(0.01)
        return RunningServer(app=app, url=f"http://127.0.0.1:{port}")

    yield start
    for server, thread in running:
        server.should_exit = True
        thread.join(10)


@pytest.fixture
def server(serve: Callable[[FastAPI], RunningServer], settings: CommandSettings) -> RunningServer:
    """The command centre over its test database, HTTP only."""
    return serve(create_app(settings))


@pytest.fixture
def operator_token(server: RunningServer, accounts: CreateAccount) -> str:
    """A signed-in operator's bearer token on ``server``."""
    return server.sign_in(accounts("op-1", Role.OPERATOR))


@pytest.fixture(scope="session")
def probe_jpeg(testdata: Path) -> bytes:
    """A real face crop from the test photos, as JPEG."""
    with Image.open(testdata / "faces" / "obama.jpg") as photo:
        width, height = photo.size
        crop = photo.convert("RGB").crop((width // 4, 0, 3 * width // 4, height // 2)).resize((160, 160))
    out = io.BytesIO()
    crop.save(out, format="JPEG", quality=85)
    return out.getvalue()
