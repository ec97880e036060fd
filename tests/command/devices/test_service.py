"""Registering, authenticating and revoking devices."""

import hashlib

import pytest
from sqlalchemy import select

from vigil.command.database import Database
from vigil.command.devices.models import Device
from vigil.command.devices.service import authenticate, register_device, revoke_device
from vigil.command.errors import DeviceAlreadyRegistered, InvalidDeviceId, NotAuthenticated, UnknownDevice
from vigil.command.units.models import Unit, UnitKind
from vigil.events import utc_now


def _register(
    database: Database,
    device_id: str = "cam-1",
    *,
    call_sign: str | None = None,
    radio_id: str | None = None,
    kind: UnitKind | None = None,
) -> str:
    with database.session() as session:
        registration = register_device(
            actor="system",
            address=None,
            session=session,
            device_id=device_id,
            unit_id="A-12",
            call_sign=call_sign,
            radio_id=radio_id,
            kind=kind,
            now=utc_now(),
        )
    return registration.token.get_secret_value()


def test_a_token_authenticates_its_device_and_only_its_hash_is_stored(database: Database) -> None:
    token = _register(database, call_sign="Alpha 12", radio_id="R-77", kind=UnitKind.CAR)
    with database.session() as session:
        assert authenticate(session=session, token=token).device_id == "cam-1"
        stored = session.scalars(select(Device.token_sha256)).one()
        unit = session.get_one(Unit, "A-12")
    secret = token.rpartition(".")[2]
    assert stored == hashlib.sha256(secret.encode()).hexdigest()
    assert len(secret) >= 43  # 32 random bytes
    assert (unit.call_sign, unit.radio_id, unit.kind) == ("Alpha 12", "R-77", UnitKind.CAR)


def test_a_second_device_joins_the_unit_and_updates_only_what_it_names(database: Database) -> None:
    _register(database, call_sign="Alpha 12", radio_id="R-77")
    _register(database, "cam-2", radio_id="R-78")
    with database.session() as session:
        unit = session.get_one(Unit, "A-12")
    assert (unit.call_sign, unit.radio_id) == ("Alpha 12", "R-78")


@pytest.mark.parametrize(
    ("device_id", "error", "match"),
    [
        ("cam-1", DeviceAlreadyRegistered, "already registered to unit A-12"),
        ("cam 1", InvalidDeviceId, "is not a device id"),
        ("", InvalidDeviceId, "is not a device id"),
    ],
)
def test_registration_refuses_a_taken_or_invalid_id(
    database: Database, device_id: str, error: type[Exception], match: str
) -> None:
    _register(database)
    with pytest.raises(error, match=match):
        _register(database, device_id)


def test_a_revoked_device_no_longer_authenticates_and_its_id_is_not_reused(database: Database) -> None:
    token = _register(database)
    with database.session() as session:
        first = revoke_device(actor="system", address=None, session=session, device_id="cam-1", now=utc_now())
        again = revoke_device(actor="system", address=None, session=session, device_id="cam-1", now=utc_now())
        with pytest.raises(NotAuthenticated):
            authenticate(session=session, token=token)
        with pytest.raises(UnknownDevice, match="no device 'cam-9'"):
            revoke_device(actor="system", address=None, session=session, device_id="cam-9", now=utc_now())
    assert again.revoked_at == first.revoked_at
    with pytest.raises(DeviceAlreadyRegistered, match="already revoked"):
        _register(database)


@pytest.mark.parametrize("token", ["", "cam-1", "cam-1.", ".secret", "cam-1.wrong", "ghost.secret"])
def test_a_wrong_token_does_not_authenticate(database: Database, token: str) -> None:
    _register(database)
    with database.session() as session, pytest.raises(NotAuthenticated, match="missing, wrong or revoked"):
        authenticate(session=session, token=token)
