"""Devices: registration with a machine token, revocation, authentication and reported statuses.

A token is ``<device_id>.<secret>``, the secret 32 random bytes (URL-safe base64). The server keeps only the
secret's SHA-256: a machine-made secret has full entropy, so a slow password hash would add nothing. The id
part finds the row; the hashes are compared in constant time, and an unknown id is compared against a dummy
so that the reply takes as long as for a wrong secret.

The same token is the device's MQTT password (its user name is the device id): registration also stores the
token's Mosquitto hash, from which ``vigil devices broker-config`` writes the broker's password file
(:mod:`vigil.command.broker`). One credential per device means one thing to hand over and one to revoke.

A phone running Traccar Client (the OsmAnd protocol) cannot send a header: the app lets its user set only the
server URL and the device id. Such a device is given an *OsmAnd secret* (registration with ``osmand``, or
:func:`issue_osmand_secret`), which the user puts at the end of the server URL, ``https://HOST/osmand/<secret>``;
the client keeps the URL's path and appends the fix as query parameters. It is a second credential, stored as
its SHA-256 like the token's secret and checked the same way (:func:`authenticate_osmand`): a device without
one cannot send OsmAnd positions at all.
"""

import hashlib
import hmac
import re
import secrets
from datetime import datetime

from pydantic import SecretStr
from sqlalchemy import select
from sqlalchemy.orm import Session

from vigil.command.audit.service import record_action
from vigil.command.broker.passwords import mosquitto_hash
from vigil.command.devices.models import Device, DeviceStatusRecord
from vigil.command.devices.schemas import (
    DeviceList,
    DeviceOut,
    DeviceRegistration,
    DeviceStatusReported,
    OsmAndSecretIssued,
)
from vigil.command.errors import DeviceAlreadyRegistered, InvalidDeviceId, NotAuthenticated, UnknownDevice
from vigil.command.units.models import UnitKind
from vigil.command.units.service import upsert_unit
from vigil.events import DEVICE_ID_PATTERN, DeviceStatus

_SECRET_BYTES = 32
_MAX_UNIT_ID = 64
# Compared against when the device id is unknown, so that the reply takes as long as for a wrong secret.
_DUMMY_SHA256 = hashlib.sha256(b"no such device").hexdigest()

OSMAND_REFUSED = (
    "the OsmAnd secret in the URL does not match this device id, or the device may not send OsmAnd positions; "
    "set the server URL to the https://HOST/osmand/<secret> that `vigil devices register --osmand` printed"
)
"""The one answer to every OsmAnd fix refused for its credentials (unknown id, wrong secret, none, revoked)."""


def register_device(
    *,
    session: Session,
    device_id: str,
    unit_id: str,
    call_sign: str | None,
    radio_id: str | None,
    kind: UnitKind | None,
    actor: str,
    address: str | None,
    now: datetime,
    osmand: bool = False,
) -> DeviceRegistration:
    """Register a device, bind it to its unit (created if missing, updated where told) and issue its token.

    The token is also the device's MQTT password; its broker hash is stored for the broker's password file.
    With ``osmand`` the device also gets an OsmAnd secret, for a phone running Traccar Client.
    Audited as ``device.registered`` by ``actor`` (a user id, or ``system`` for the command line).

    Commits.

    Raises:
        InvalidDeviceId: the device or unit id is not valid.
        DeviceAlreadyRegistered: the id is taken, by a live or a revoked device.
    """
    if not re.fullmatch(DEVICE_ID_PATTERN, device_id):
        raise InvalidDeviceId(
            f"{device_id!r} is not a device id: use 1 to 64 letters, digits, '.', '_' or '-', starting with a "
            "letter or digit",
            device_id=device_id,
        )
    if not 1 <= len(unit_id) <= _MAX_UNIT_ID:
        raise InvalidDeviceId(f"the unit id must be 1 to {_MAX_UNIT_ID} characters", device_id=device_id)
    existing = session.get(Device, device_id)
    if existing is not None:
        state = "revoked" if existing.revoked_at is not None else f"registered to unit {existing.unit_id}"
        raise DeviceAlreadyRegistered(
            f"device {device_id!r} is already {state}; register the replacement under a new device id",
            device_id=device_id,
        )
    upsert_unit(session=session, unit_id=unit_id, call_sign=call_sign, radio_id=radio_id, kind=kind, now=now)
    session.flush()  # the unit first: the device row refers to it
    secret = secrets.token_urlsafe(_SECRET_BYTES)
    token = f"{device_id}.{secret}"
    osmand_secret = secrets.token_urlsafe(_SECRET_BYTES) if osmand else None
    device = Device(
        device_id=device_id,
        unit_id=unit_id,
        token_sha256=_sha256(secret),
        broker_password_hash=mosquitto_hash(token),
        osmand_secret_sha256=_sha256(osmand_secret) if osmand_secret is not None else None,
        created_at=now,
    )
    session.add(device)
    record_action(
        session=session,
        actor=actor,
        action="device.registered",
        record_type="device",
        record_id=device_id,
        address=address,
        details={"unit_id": unit_id, "osmand": osmand},
        now=now,
    )
    session.commit()
    return DeviceRegistration(
        device=device_out(device),
        token=token,
        osmand_secret=SecretStr(osmand_secret) if osmand_secret is not None else None,
    )


def issue_osmand_secret(
    *, session: Session, device_id: str, actor: str, address: str | None, now: datetime
) -> OsmAndSecretIssued:
    """Give a live device a new OsmAnd secret; the one it held (if any) stops working at once.

    Audited as ``device.osmand_secret_issued`` by ``actor``. Commits.

    Raises:
        UnknownDevice: no such device, or it was revoked.
    """
    device = session.get(Device, device_id)
    if device is None or device.revoked_at is not None:
        state = "registered" if device is None else "live: it was revoked"
        raise UnknownDevice(f"no device {device_id!r} is {state}", device_id=device_id)
    osmand_secret = secrets.token_urlsafe(_SECRET_BYTES)
    device.osmand_secret_sha256 = _sha256(osmand_secret)
    record_action(
        session=session,
        actor=actor,
        action="device.osmand_secret_issued",
        record_type="device",
        record_id=device_id,
        address=address,
        now=now,
    )
    session.commit()
    return OsmAndSecretIssued(device=device_out(device), osmand_secret=SecretStr(osmand_secret))


def list_devices(*, session: Session) -> DeviceList:
    """Every device, by id."""
    return DeviceList(devices=[device_out(d) for d in session.scalars(select(Device).order_by(Device.device_id))])


def revoke_device(*, session: Session, device_id: str, actor: str, address: str | None, now: datetime) -> DeviceOut:
    """Revoke a device: its token stops working and its events are rejected. Revoking twice keeps the first time.

    Audited as ``device.revoked`` by ``actor``. Commits.

    Raises:
        UnknownDevice: no such device.
    """
    device = session.get(Device, device_id)
    if device is None:
        raise UnknownDevice(f"no device {device_id!r} is registered", device_id=device_id)
    if device.revoked_at is None:
        device.revoked_at = now
        record_action(
            session=session,
            actor=actor,
            action="device.revoked",
            record_type="device",
            record_id=device_id,
            address=address,
            now=now,
        )
        session.commit()
    return device_out(device)


def authenticate(*, session: Session, token: str) -> Device:
    """The live device a token belongs to.

    Raises:
        NotAuthenticated: the token is malformed, unknown, wrong or revoked (the message does not say which).
    """
    device_id, _, secret = token.rpartition(".")
    device = session.get(Device, device_id) if device_id and secret else None
    expected = device.token_sha256 if device is not None else _DUMMY_SHA256
    matches = hmac.compare_digest(_sha256(secret), expected)
    if device is None or not matches or device.revoked_at is not None:
        raise NotAuthenticated(
            "the device token is missing, wrong or revoked; send Authorization: Bearer <token> with the token "
            "`vigil devices register` printed",
            device_id=device_id[:64],
        )
    return device


def authenticate_osmand(*, session: Session, device_id: str, secret: str) -> Device:
    """The live device whose OsmAnd secret this is.

    Takes the same work whether the id is unknown, the device has no OsmAnd secret, the secret is wrong or the
    device was revoked (one lookup, one hash, one constant-time comparison), so the answer's timing does not tell
    registered ids from others.

    Raises:
        NotAuthenticated: any of those (the message does not say which).
    """
    device = session.get(Device, device_id)
    stored = device.osmand_secret_sha256 if device is not None else None
    matches = hmac.compare_digest(_sha256(secret), stored if stored is not None else _DUMMY_SHA256)
    if device is None or stored is None or not matches or device.revoked_at is not None:
        raise NotAuthenticated(OSMAND_REFUSED, device_id=device_id[:64])
    return device


def record_status(
    *, session: Session, event: DeviceStatus, device: Device, received_at: datetime
) -> DeviceStatusReported:
    """Store a status report, and make it the device's current status unless a newer one is known.

    The caller commits.
    """
    session.add(
        DeviceStatusRecord(
            event_id=event.id,
            device_id=event.device_id,
            at=event.at,
            battery_pct=event.battery_pct,
            free_storage_mb=event.free_storage_mb,
            watchlist_version=event.watchlist_version,
            model_versions=dict(event.model_versions),
            faces_processed=event.faces_processed,
            last_error=event.last_error,
            received_at=received_at,
        )
    )
    if device.status_at is None or event.at >= device.status_at:
        device.status_at = event.at
        device.battery_pct = event.battery_pct
        device.free_storage_mb = event.free_storage_mb
        device.watchlist_version = event.watchlist_version
        device.faces_processed = event.faces_processed
        device.last_error = event.last_error
    return DeviceStatusReported(
        event_id=event.id,
        device_id=event.device_id,
        unit_id=device.unit_id,
        at=event.at,
        battery_pct=event.battery_pct,
        free_storage_mb=event.free_storage_mb,
        watchlist_version=event.watchlist_version,
        faces_processed=event.faces_processed,
        last_error=event.last_error,
    )


def device_out(device: Device) -> DeviceOut:
    """The API shape of a device."""
    return DeviceOut(
        device_id=device.device_id,
        unit_id=device.unit_id,
        created_at=device.created_at,
        revoked_at=device.revoked_at,
        last_seen_at=device.last_seen_at,
        status_at=device.status_at,
        battery_pct=device.battery_pct,
        free_storage_mb=device.free_storage_mb,
        watchlist_version=device.watchlist_version,
        faces_processed=device.faces_processed,
        last_error=device.last_error,
        osmand=device.osmand_secret_sha256 is not None,
    )


def _sha256(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()
