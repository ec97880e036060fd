"""The demo's set-up on a real database, and the demo's refusals before anything runs."""

import socket
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pyotp
import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from tests.command.conftest import serving
from vigil.cli.app import create_app as create_cli
from vigil.command.accounts.models import Role
from vigil.command.accounts.passwords import Passwords
from vigil.command.accounts.sealing import SecretSealer
from vigil.command.app import create_app, init_database
from vigil.command.database import Database
from vigil.command.deployments.models import Deployment, DeploymentState, DeploymentWatchlist
from vigil.command.downlink.models import DownlinkMessage
from vigil.command.settings import AccountSettings, CommandSettings, WatchlistServerSettings
from vigil.command.watchlists.models import SubjectState, WatchlistDevice, WatchlistSubject
from vigil.events import WatchlistAvailable
from vigil.sim.demo_setup import (
    DEMO_AUTHORISATION,
    LEGAL_BASIS,
    create_demo_users,
    enrol_demo_watchlist,
    make_package_keys,
    register_demo_devices,
)
from vigil.sim.errors import DemoDatabaseNotEmpty
from vigil.sim.photos import read_photo_folders
from vigil.sim.shift import ShiftSettings, roster
from vigil.watchlist.keys import load_device_key


@pytest.fixture
def database(tmp_path: Path) -> Iterator[Database]:
    database = init_database(CommandSettings(data_dir=tmp_path))
    yield database
    database.dispose()


def test_the_demo_users_sign_in_as_their_roles_need(database: Database, tmp_path: Path) -> None:
    settings = AccountSettings()
    people = create_demo_users(
        database=database,
        passwords=Passwords(min_length=settings.min_password_length),
        sealer=SecretSealer(tmp_path / "secrets.key", create=True),
        settings=settings,
    )
    assert [(u.username, u.role) for u in people.everyone] == [
        ("demo-operator", Role.OPERATOR),
        ("demo-supervisor", Role.SUPERVISOR),
        ("demo-autopilot", Role.OPERATOR),
    ]
    assert len({u.password for u in people.everyone}) == 3
    assert all(len(u.password) >= settings.min_password_length for u in people.everyone)
    assert (people.operator.totp_secret, people.operator.code()) == (None, None)
    secret = people.supervisor.totp_secret
    assert secret is not None
    code = people.supervisor.code()
    assert code is not None
    assert pyotp.TOTP(secret).verify(code, valid_window=1)


def test_a_database_left_from_another_demo_is_refused(database: Database, tmp_path: Path) -> None:
    settings = AccountSettings()
    passwords = Passwords(min_length=settings.min_password_length)
    sealer = SecretSealer(tmp_path / "secrets.key", create=True)
    create_demo_users(database=database, passwords=passwords, sealer=sealer, settings=settings)
    with pytest.raises(DemoDatabaseNotEmpty, match="already has the user demo-operator"):
        create_demo_users(database=database, passwords=passwords, sealer=sealer, settings=settings)
    keys = make_package_keys(tmp_path / "keys")
    members = roster(ShiftSettings(officers_on_foot=1, officers_in_cars=1, cameras=1))
    devices = register_demo_devices(database=database, members=members, wrap_key=load_device_key(keys.wrap_key))
    assert sorted(devices) == ["bodycam-01", "handset-02"]
    assert len({d.token for d in devices.values()}) == 2
    assert all(len(d.package_key) == 32 for d in devices.values())
    with pytest.raises(DemoDatabaseNotEmpty, match="already has the device bodycam-01"):
        register_demo_devices(database=database, members=members, wrap_key=load_device_key(keys.wrap_key))


def test_a_taken_port_ends_the_demo_with_a_message(testdata: Path, tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        photos = str(testdata / "identities" / "train")
        arguments = ["demo", "--port", str(port), "--photos", photos, "--data-dir", str(tmp_path), "--json"]
        result = CliRunner().invoke(create_cli(), arguments)
    assert result.exit_code == 1
    assert f"cannot listen on 127.0.0.1:{port}" in result.stderr
    assert "--port" in result.stderr
    assert result.stdout == ""


def test_the_demo_without_photos_says_how_to_get_them(tmp_path: Path) -> None:
    result = CliRunner().invoke(create_cli(), ["demo", "--data-dir", str(tmp_path), "--json"])
    assert result.exit_code == 1
    assert "run ./scripts/setup" in result.stderr
    assert result.stdout == ""


def test_the_watchlist_is_authorised_proposed_by_one_person_and_approved_by_another_over_http(
    testdata: Path, tmp_path: Path
) -> None:
    keys = make_package_keys(tmp_path / "keys")
    packages = WatchlistServerSettings(signing_key_file=keys.signing_key, key_wrap_file=keys.wrap_key)
    servers = serving(ws="none")
    server = next(servers)(create_app(CommandSettings(data_dir=tmp_path, watchlists=packages)))
    try:
        runtime = server.app.state.runtime
        settings = AccountSettings()
        people = create_demo_users(
            database=runtime.database,
            passwords=Passwords(min_length=settings.min_password_length),
            sealer=runtime.sealer,
            settings=settings,
        )
        members = roster(ShiftSettings(officers_on_foot=1, officers_in_cars=1, cameras=1))
        register_demo_devices(database=runtime.database, members=members, wrap_key=load_device_key(keys.wrap_key))
        photos = read_photo_folders(testdata / "identities" / "train", subjects=["obama"])
        area = {
            "type": "Feature",
            "geometry": {"type": "Point", "coordinates": [-0.127, 51.507]},
            "properties": {"radius_m": 1400},
        }
        made = enrol_demo_watchlist(
            base_url=server.url, people=people, subjects=photos.subjects, cameras=["bodycam-01"], area=area
        )
        # The set-up used the supervisor's code of its time step; the code printed for a person is the next step's.
        supervisor = people.supervisor
        with httpx.Client(base_url=server.url) as client:
            body = {"username": supervisor.username, "password": supervisor.password, "delivery": "bearer"}
            printed = client.post("/api/v1/auth/login", json=body | {"code": supervisor.code(steps_ahead=1)})
        with runtime.database.session() as session:
            subjects = session.scalars(select(WatchlistSubject)).all()
            carried = session.scalars(select(WatchlistDevice)).all()
            found = [(s.subject_id, s.state, s.proposed_by, s.approved_by, s.legal_basis) for s in subjects]
            assignments = [(d.device_id, str(d.watchlist_id)) for d in carried]
            deployment = session.get_one(Deployment, uuid.UUID(made.deployment_id))
            governed = session.scalars(select(DeploymentWatchlist.watchlist_id)).all()
            announced = [
                WatchlistAvailable.model_validate_json(m.payload).scope
                for m in session.scalars(select(DownlinkMessage).where(DownlinkMessage.type == "watchlist.available"))
            ]
    finally:
        next(servers, None)
    assert printed.status_code == 200, printed.text
    assert found == [("obama", SubjectState.LIVE, "demo-operator", "demo-supervisor", LEGAL_BASIS)]
    assert assignments == [("bodycam-01", made.watchlist_id)]
    # The deployment was authorised before any subject went live: every package the camera was sent carries it.
    assert (deployment.state, deployment.authority, deployment.area) == (
        DeploymentState.AUTHORISED,
        DEMO_AUTHORISATION["authority"],
        area,
    )
    assert [str(w) for w in governed] == [made.watchlist_id]
    assert announced
    assert all(s is not None and str(s.deployment_id) == made.deployment_id for s in announced)
