r"""Device packages: one file per watchlist version and device, signed by the command centre, encrypted for the device.

Layout (all integers big-endian)::

    b"VIGILWL\\x01"  u32 header length  header (JSON)  u64 body length  body  Ed25519 signature (64 bytes)

The header says what the package is (watchlist, version, validity, device, threshold, face model, AES-GCM nonce)
and is readable without the device key. The body is the AES-256-GCM encryption, under the device's key with the
header as associated data, of a JSON payload: every live subject's summary and templates (embedding and
aligned chip). The signature covers everything before it, so a device checks that the command centre made the
package before it decrypts anything; a correct signature with a failed decryption can then only mean the
package was made for another device's key.

A device refuses a package whose signature fails, that is not newer than the one it holds, whose validity
has passed, or whose templates were made by another face network than the device's (the header's ``model``; a
package made before packages named it has dlib's, the only network there was). Subjects that have expired are
never exported, and are dropped again on import. Every template of a package is of the header's network.
"""

import base64
import secrets
import struct
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

import numpy as np
from cryptography.exceptions import InvalidSignature, InvalidTag
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, ValidationError

from vigil.vision.face_model import DLIB_MODEL_ID, MODEL_ID_PATTERN
from vigil.watchlist.errors import (
    ModelMismatch,
    PackageCorrupt,
    PackageExpired,
    PackageKeyMismatch,
    PackageOutdated,
    PackageSignatureInvalid,
)
from vigil.watchlist.keys import DEVICE_KEY_BYTES
from vigil.watchlist.store import WatchlistEntry
from vigil.watchlist.subject import Subject, Template

MAGIC = b"VIGILWL\x01"
FORMAT_VERSION = 1
SIGNATURE_BYTES = 64
NONCE_BYTES = 12
_HEADER_LENGTH = struct.Struct(">I")
_BODY_LENGTH = struct.Struct(">Q")


class PackageHeader(BaseModel):
    """What a package is; readable without the device key, trusted only once the signature verifies."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    format: int = Field(FORMAT_VERSION, description="Package format version.")
    watchlist_id: str = Field(description="The watchlist's UUID.")
    name: str = Field(description="The watchlist's name.")
    version: int = Field(ge=1, description="The watchlist version packaged; devices accept only newer ones.")
    created_at: AwareDatetime = Field(description="When the package was made (UTC).")
    valid_until: AwareDatetime = Field(description="After this the device refuses the package (UTC).")
    device_id: str = Field(description="The device whose key encrypts the body.")
    threshold: float = Field(gt=0, le=2, description="The watchlist's operating distance threshold.")
    model: str = Field(
        DLIB_MODEL_ID,
        pattern=MODEL_ID_PATTERN,
        description="The face network every template was made with (name:version:sha12); packages made before "
        "packages named it are dlib's.",
    )
    subjects: int = Field(ge=0, description="Subjects in the package.")
    nonce: str = Field(description="AES-GCM nonce, base64.")


class _PackagedTemplate(BaseModel):
    embedding: str
    chip_jpeg: str
    quality: float


class _PackagedSubject(BaseModel):
    subject: Subject
    templates: list[_PackagedTemplate]


class _Payload(BaseModel):
    subjects: list[_PackagedSubject]


@dataclass(frozen=True)
class HeldPackage:
    """What a device already holds, against which a new package must be newer."""

    watchlist_id: str
    version: int
    created_at: datetime


@dataclass(frozen=True)
class WatchlistPackage:
    """A verified, decrypted package."""

    header: PackageHeader
    entries: tuple[WatchlistEntry, ...]

    @property
    def held(self) -> HeldPackage:
        """What a device records once it has installed this package."""
        return HeldPackage(self.header.watchlist_id, self.header.version, self.header.created_at)


def export_package(
    entries: Sequence[WatchlistEntry],
    *,
    watchlist_id: str,
    name: str,
    version: int,
    threshold: float,
    model: str,
    device_id: str,
    device_key: bytes,
    signing_key: Ed25519PrivateKey,
    now: datetime,
    valid_for: timedelta = timedelta(days=7),
) -> bytes:
    """Make a signed package of the live entries, encrypted for one device.

    Args:
        entries: the watchlist's entries; any not live at ``now`` (unapproved or expired) are left out.
        watchlist_id: the watchlist's UUID.
        name: the watchlist's name.
        version: the watchlist version.
        threshold: the operating distance threshold.
        model: the id of the face network the entries' templates were made with; devices with another refuse
            the package.
        device_id: the device the package is for.
        device_key: that device's 32-byte AES key.
        signing_key: the command centre's Ed25519 key.
        now: the time of export (timezone-aware).
        valid_for: how long devices may use the package.

    Returns:
        The package file's bytes.

    Raises:
        ModelMismatch: a live entry's template was made with another model than ``model``.
        ValueError: the device key is not 32 bytes or ``valid_for`` is not positive.
    """
    if len(device_key) != DEVICE_KEY_BYTES:
        raise ValueError(f"a device key is {DEVICE_KEY_BYTES} bytes, got {len(device_key)}")
    if valid_for <= timedelta(0):
        raise ValueError(f"valid_for must be positive, got {valid_for}")
    live = [entry for entry in entries if entry.subject.is_live(now)]
    for entry in live:
        for template in entry.templates:
            if template.model != model:
                raise ModelMismatch(expected=model, got=template.model, subject_id=entry.subject.subject_id)
    payload = _Payload(
        subjects=[
            _PackagedSubject(
                subject=entry.subject,
                templates=[
                    _PackagedTemplate(
                        embedding=base64.b64encode(t.embedding.astype("<f4").tobytes()).decode("ascii"),
                        chip_jpeg=base64.b64encode(t.chip_jpeg).decode("ascii"),
                        quality=t.quality,
                    )
                    for t in entry.templates
                ],
            )
            for entry in live
        ]
    )
    nonce = secrets.token_bytes(NONCE_BYTES)
    header = PackageHeader(
        watchlist_id=watchlist_id,
        name=name,
        version=version,
        created_at=now,
        valid_until=now + valid_for,
        device_id=device_id,
        threshold=threshold,
        model=model,
        subjects=len(live),
        nonce=base64.b64encode(nonce).decode("ascii"),
    )
    header_bytes = header.model_dump_json().encode("utf-8")
    preamble = MAGIC + _HEADER_LENGTH.pack(len(header_bytes)) + header_bytes
    body = AESGCM(device_key).encrypt(nonce, payload.model_dump_json().encode("utf-8"), preamble)
    signed = preamble + _BODY_LENGTH.pack(len(body)) + body
    return signed + signing_key.sign(signed)


def read_header(data: bytes) -> PackageHeader:
    """Read a package's header without verifying or decrypting it (to show what a file is).

    Raises:
        PackageCorrupt: not a package, or cut short.
    """
    return _split(data)[1]


def open_package(
    data: bytes,
    *,
    verify_key: Ed25519PublicKey,
    device_key: bytes,
    now: datetime,
    held: HeldPackage | None = None,
    device_id: str | None = None,
    model: str | None = None,
) -> WatchlistPackage:
    """Verify, check and decrypt a package, as a device does before swapping it in.

    Args:
        data: the package file's bytes.
        verify_key: the command centre's public key.
        device_key: this device's 32-byte AES key.
        now: the current time (timezone-aware).
        held: the package the device holds now, if any.
        device_id: this device's id; a package made for another device is refused.
        model: the id of this device's face network; a package of templates made by another is refused.

    Returns:
        The package, with only subjects still live at ``now``.

    Raises:
        PackageCorrupt: not a package, or cut short.
        PackageSignatureInvalid: altered or not made by the command centre.
        PackageKeyMismatch: made for another device.
        PackageOutdated: not newer than ``held``.
        PackageExpired: past its validity.
        ModelMismatch: made with another face network than ``model``.
    """
    signed, header, body, signature = _split(data)
    try:
        verify_key.verify(signature, signed)
    except InvalidSignature as exc:
        raise PackageSignatureInvalid(
            "the package's signature does not verify: it was altered or not made by this command centre; "
            "discard it and fetch the package again"
        ) from exc
    if device_id is not None and header.device_id != device_id:
        raise PackageKeyMismatch(f"the package was made for device {header.device_id!r}, not {device_id!r}")
    if model is not None and header.model != model:
        raise ModelMismatch(expected=header.model, got=model, what="this device")
    if now >= header.valid_until:
        raise PackageExpired(
            f"the package for watchlist version {header.version} expired at {header.valid_until.isoformat()}; "
            "fetch a current one"
        )
    if held is not None and (
        (header.watchlist_id == held.watchlist_id and header.version <= held.version)
        or header.created_at <= held.created_at
    ):
        raise PackageOutdated(
            f"the package holds watchlist version {header.version} made {header.created_at.isoformat()}; "
            f"the device already holds version {held.version} made {held.created_at.isoformat()}"
        )
    preamble = signed[: len(signed) - _BODY_LENGTH.size - len(body)]
    try:
        plain = AESGCM(device_key).decrypt(base64.b64decode(header.nonce), body, preamble)
    except InvalidTag as exc:
        raise PackageKeyMismatch(
            f"the package is genuine but encrypted for another key (device {header.device_id!r}); "
            "check this device's key, or fetch the package made for this device"
        ) from exc
    except ValueError as exc:
        raise PackageCorrupt(f"the package's nonce is malformed ({exc})") from exc
    return WatchlistPackage(header=header, entries=tuple(_entries(plain, now=now, model=header.model)))


def _split(data: bytes) -> tuple[bytes, PackageHeader, bytes, bytes]:
    """Split a package into (signed part, header, body, signature)."""
    if not data.startswith(MAGIC):
        raise PackageCorrupt("not a Vigil watchlist package (wrong magic bytes)")
    position = len(MAGIC)
    try:
        (header_length,) = _HEADER_LENGTH.unpack_from(data, position)
        position += _HEADER_LENGTH.size
        header_bytes = data[position : position + header_length]
        position += header_length
        (body_length,) = _BODY_LENGTH.unpack_from(data, position)
        position += _BODY_LENGTH.size
    except struct.error as exc:
        raise PackageCorrupt("the package is cut short inside its header") from exc
    body = data[position : position + body_length]
    position += body_length
    signature = data[position:]
    if len(header_bytes) != header_length or len(body) != body_length or len(signature) != SIGNATURE_BYTES:
        raise PackageCorrupt(
            f"the package is {len(data):,} bytes, which does not match the lengths it declares: it is cut short or "
            "has bytes appended"
        )
    try:
        header = PackageHeader.model_validate_json(header_bytes)
    except ValidationError as exc:
        raise PackageCorrupt(f"the package header is malformed ({exc.error_count()} errors)") from exc
    if header.format != FORMAT_VERSION:
        raise PackageCorrupt(f"package format {header.format}; this Vigil reads format {FORMAT_VERSION}")
    return data[:position], header, body, signature


def _entries(plain: bytes, *, now: datetime, model: str) -> list[WatchlistEntry]:
    """The payload's entries still live at ``now``; their templates take the header's ``model``."""
    try:
        payload = _Payload.model_validate_json(plain)
    except ValidationError as exc:
        raise PackageCorrupt(f"the package contents are malformed ({exc.error_count()} errors)") from exc
    entries = []
    for packaged in payload.subjects:
        if packaged.subject.expires_at <= now:
            continue
        try:
            templates = tuple(
                Template(
                    subject_id=packaged.subject.subject_id,
                    embedding=np.frombuffer(base64.b64decode(t.embedding), dtype="<f4").astype(np.float32),
                    chip_jpeg=base64.b64decode(t.chip_jpeg),
                    quality=t.quality,
                    model=model,
                )
                for t in packaged.templates
            )
        except ValueError as exc:
            raise PackageCorrupt(f"subject {packaged.subject.subject_id!r} has a malformed template ({exc})") from exc
        entries.append(WatchlistEntry(subject=packaged.subject, templates=templates))
    return entries
