import base64
import json
import struct
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from tests.watchlist.conftest import make_subject
from vigil.vision.face_model import DLIB_MODEL_ID
from vigil.watchlist.errors import (
    ModelMismatch,
    PackageCorrupt,
    PackageExpired,
    PackageKeyMismatch,
    PackageOutdated,
    PackageSignatureInvalid,
)
from vigil.watchlist.gallery import Gallery
from vigil.watchlist.keys import KeyFileError, create_device_key, create_signing_key, load_device_key, load_signing_key
from vigil.watchlist.package import MAGIC, HeldPackage, export_package, open_package, read_header
from vigil.watchlist.store import WatchlistEntry, WatchlistStore
from vigil.watchlist.subject import Template

NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
SIGNING_KEY = Ed25519PrivateKey.generate()
DEVICE_KEY = bytes(range(32))
OTHER_MODEL = "arcface_r100:1:0123456789ab"


def _entries(count: int, seed: int = 0, *, model: str = DLIB_MODEL_ID, width: int = 128) -> list[WatchlistEntry]:
    rng = np.random.default_rng(seed)
    centre = rng.normal(0, 1, width)
    centre *= 1.3 / np.linalg.norm(centre)
    entries = []
    for number in range(count):
        subject = make_subject(f"s{number:03d}").model_copy(
            update={"approved_by": "sgt.jones", "approved_at": NOW, "expires_at": NOW + timedelta(days=30)}
        )
        templates = tuple(
            Template(
                subject_id=subject.subject_id,
                embedding=(centre + rng.normal(0, 0.056, width)).astype(np.float32),
                chip_jpeg=rng.bytes(300),
                quality=0.8,
                model=model,
            )
            for _ in range(1 + number % 3)
        )
        entries.append(WatchlistEntry(subject=subject, templates=templates))
    return entries


def _package(entries: list[WatchlistEntry], *, version: int = 5, now: datetime = NOW, **changes: object) -> bytes:
    options: dict[str, object] = {
        "watchlist_id": "wl-1",
        "name": "Op",
        "version": version,
        "threshold": 0.5,
        "model": DLIB_MODEL_ID,
        "device_id": "cam-7",
        "device_key": DEVICE_KEY,
        "signing_key": SIGNING_KEY,
        "now": now,
        "valid_for": timedelta(days=2),
    }
    options.update(changes)
    return export_package(entries, **options)  # type: ignore[arg-type]


def _open(data: bytes, **changes: object):  # type: ignore[no-untyped-def]
    options: dict[str, object] = {
        "verify_key": SIGNING_KEY.public_key(),
        "device_key": DEVICE_KEY,
        "now": NOW + timedelta(hours=1),
    }
    options.update(changes)
    return open_package(data, **options)  # type: ignore[arg-type]


def test_a_100_subject_watchlist_round_trips_with_identical_search_results() -> None:
    entries = _entries(100)
    opened = _open(_package(entries))
    assert opened.header.subjects == 100
    assert [e.subject for e in opened.entries] == [e.subject for e in entries]
    assert opened.header.model == DLIB_MODEL_ID
    before = Gallery(entries, threshold=0.5, model=DLIB_MODEL_ID)
    after = Gallery(list(opened.entries), threshold=0.5, model=opened.header.model)
    rng = np.random.default_rng(9)
    probes = np.stack([e.templates[0].embedding for e in entries]) + rng.normal(0, 0.03, (100, 128))
    probes = np.concatenate([probes, rng.normal(0, 0.3, (20, 128)) + probes.mean(axis=0)]).astype(np.float32)
    for probe in probes:
        assert [(m.subject.subject_id, m.distance) for m in before.search(probe, 3, model=DLIB_MODEL_ID)] == [
            (m.subject.subject_id, m.distance) for m in after.search(probe, 3, model=DLIB_MODEL_ID)
        ]
    for entry, copy in zip(entries, opened.entries, strict=True):
        assert [t.chip_jpeg for t in entry.templates] == [t.chip_jpeg for t in copy.templates]


def test_expired_and_unapproved_subjects_are_never_exported() -> None:
    entries = _entries(3)
    expired = WatchlistEntry(
        subject=entries[0].subject.model_copy(update={"expires_at": NOW - timedelta(seconds=1)}),
        templates=entries[0].templates,
    )
    unapproved = WatchlistEntry(
        subject=entries[1].subject.model_copy(update={"approved_by": None, "approved_at": None}),
        templates=entries[1].templates,
    )
    opened = _open(_package([expired, unapproved, entries[2]]))
    assert [e.subject.subject_id for e in opened.entries] == ["s002"]


def test_a_subject_expiring_after_export_is_dropped_on_import() -> None:
    entries = _entries(2)
    short = WatchlistEntry(
        subject=entries[0].subject.model_copy(update={"expires_at": NOW + timedelta(minutes=30)}),
        templates=entries[0].templates,
    )
    opened = _open(_package([short, entries[1]]), now=NOW + timedelta(hours=1))
    assert [e.subject.subject_id for e in opened.entries] == ["s001"]


def _flip(data: bytes, position: int) -> bytes:
    return data[:position] + bytes([data[position] ^ 0x01]) + data[position + 1 :]


@pytest.mark.parametrize(
    ("damage", "error", "message"),
    [
        (lambda d: _flip(d, len(d) // 2), PackageSignatureInvalid, "altered or not made by this command centre"),
        (lambda d: _flip(d, 40), (PackageSignatureInvalid, PackageCorrupt), "signature does not verify|malformed"),
        (lambda d: _flip(d, len(d) - 1), PackageSignatureInvalid, "signature does not verify"),
        (lambda d: d[: len(d) // 2], PackageCorrupt, "cut short"),
        (lambda d: d[:10], PackageCorrupt, "cut short inside its header"),
        (lambda d: d + b"extra", PackageCorrupt, "bytes appended"),
        (lambda d: b"PK\x03\x04" + d[4:], PackageCorrupt, "not a Vigil watchlist package"),
        (lambda d: b"", PackageCorrupt, "not a Vigil watchlist package"),
    ],
    ids=["body-byte", "header-byte", "signature-byte", "half", "stub", "appended", "zip", "empty"],
)
def test_tampered_or_truncated_packages_are_refused(damage, error, message: str) -> None:
    with pytest.raises(error, match=message):
        _open(damage(_package(_entries(5))))


def test_a_package_signed_by_someone_else_is_refused() -> None:
    forged = _package(_entries(2), signing_key=Ed25519PrivateKey.generate())
    with pytest.raises(PackageSignatureInvalid):
        _open(forged)


def test_the_wrong_device_key_gives_a_clear_error() -> None:
    with pytest.raises(PackageKeyMismatch, match="genuine but encrypted for another key"):
        _open(_package(_entries(2)), device_key=bytes(32))
    with pytest.raises(PackageKeyMismatch, match="made for device 'cam-7', not 'cam-8'"):
        _open(_package(_entries(2)), device_id="cam-8")


def test_replayed_older_packages_are_refused() -> None:
    newer = _open(_package(_entries(2), version=6))
    older = _package(_entries(2), version=5, now=NOW - timedelta(hours=1))
    with pytest.raises(PackageOutdated, match="already holds version 6"):
        _open(older, held=newer.held)
    same_again = _package(_entries(2), version=6)
    with pytest.raises(PackageOutdated):
        _open(same_again, held=newer.held)
    # An old package of another watchlist is a replay too.
    other = _package(_entries(2), version=99, watchlist_id="wl-2", now=NOW - timedelta(hours=2))
    with pytest.raises(PackageOutdated):
        _open(other, held=newer.held)
    newest = _open(_package(_entries(2), version=7, now=NOW + timedelta(minutes=5)), held=newer.held)
    assert newest.held == HeldPackage("wl-1", 7, NOW + timedelta(minutes=5))


def test_expired_packages_are_refused() -> None:
    with pytest.raises(PackageExpired, match="expired at 2026-11-27T12:00:00"):
        _open(_package(_entries(2)), now=NOW + timedelta(days=2))


def test_header_is_readable_without_keys() -> None:
    header = read_header(_package(_entries(4)))
    assert (header.version, header.device_id, header.subjects, header.threshold) == (5, "cam-7", 4, 0.5)


def test_key_files(tmp_path: Path) -> None:
    create_signing_key(tmp_path / "sign.pem", tmp_path / "verify.pem")
    assert isinstance(load_signing_key(tmp_path / "sign.pem"), Ed25519PrivateKey)
    assert (tmp_path / "sign.pem").stat().st_mode & 0o077 == 0
    key = create_device_key(tmp_path / "cam.key")
    assert load_device_key(tmp_path / "cam.key") == key
    with pytest.raises(KeyFileError, match="never overwritten"):
        create_device_key(tmp_path / "cam.key")
    (tmp_path / "short.key").write_text("abcd")
    with pytest.raises(KeyFileError, match="2-byte key"):
        load_device_key(tmp_path / "short.key")
    with pytest.raises(KeyFileError, match="not a PEM private key"):
        load_signing_key(tmp_path / "cam.key")


def test_exported_store_entries_survive_the_trip(enrolled_store: WatchlistStore) -> None:
    entries = enrolled_store.live_entries()
    opened = _open(_package(entries, now=datetime.now(UTC)), now=datetime.now(UTC))
    assert sorted(e.subject.subject_id for e in opened.entries) == [
        "alex_lacamoire",
        "biden",
        "kit_harington",
        "obama",
        "rose_leslie",
    ]


def test_a_package_names_its_model_and_its_templates_carry_it() -> None:
    data = _package(_entries(3, model=OTHER_MODEL, width=512), model=OTHER_MODEL)
    assert read_header(data).model == OTHER_MODEL
    opened = _open(data, model=OTHER_MODEL)
    assert {t.model for e in opened.entries for t in e.templates} == {OTHER_MODEL}
    assert {t.embedding.shape for e in opened.entries for t in e.templates} == {(512,)}
    gallery = Gallery(list(opened.entries), threshold=0.5, model=opened.header.model)
    assert (
        gallery.search(opened.entries[1].templates[0].embedding, 1, model=OTHER_MODEL)[0].subject.subject_id == "s001"
    )


def test_a_device_of_another_model_refuses_the_package() -> None:
    data = _package(_entries(2))
    with pytest.raises(ModelMismatch, match=f"this device uses face model {OTHER_MODEL}") as caught:
        _open(data, model=OTHER_MODEL)
    assert (caught.value.expected, caught.value.got) == (DLIB_MODEL_ID, OTHER_MODEL)
    assert [e.subject.subject_id for e in _open(data, model=DLIB_MODEL_ID).entries] == ["s000", "s001"]


def test_export_refuses_entries_of_another_or_mixed_models() -> None:
    with pytest.raises(ModelMismatch, match=f"subject 's000' has a template made with face model {OTHER_MODEL}"):
        _package(_entries(2, model=OTHER_MODEL))
    mixed = [*_entries(1), *_entries(1, model=OTHER_MODEL)]
    with pytest.raises(ModelMismatch):
        _package(mixed)
    assert read_header(_package([], model=OTHER_MODEL)).model == OTHER_MODEL  # an empty package still names one


def _without_model(data: bytes) -> bytes:
    """The package as Vigil wrote it before headers named the model: the same body, re-sealed under the old header."""
    (header_length,) = struct.unpack_from(">I", data, len(MAGIC))
    start = len(MAGIC) + 4
    header = json.loads(data[start : start + header_length])
    (body_length,) = struct.unpack_from(">Q", data, start + header_length)
    body = data[start + header_length + 8 : start + header_length + 8 + body_length]
    nonce = base64.b64decode(header["nonce"])
    plain = AESGCM(DEVICE_KEY).decrypt(nonce, body, data[: start + header_length])
    del header["model"]
    old_header = json.dumps(header).encode("utf-8")
    preamble = MAGIC + struct.pack(">I", len(old_header)) + old_header
    sealed = AESGCM(DEVICE_KEY).encrypt(nonce, plain, preamble)
    signed = preamble + struct.pack(">Q", len(sealed)) + sealed
    return signed + SIGNING_KEY.sign(signed)


def test_a_package_from_before_headers_named_the_model_reads_as_dlib() -> None:
    entries = _entries(3)
    old = _without_model(_package(entries))
    assert b'"model"' not in old[: len(MAGIC) + 4 + struct.unpack_from(">I", old, len(MAGIC))[0]]
    opened = _open(old, model=DLIB_MODEL_ID)
    assert opened.header.model == DLIB_MODEL_ID
    assert {t.model for e in opened.entries for t in e.templates} == {DLIB_MODEL_ID}
    np.testing.assert_array_equal(opened.entries[2].templates[0].embedding, entries[2].templates[0].embedding)
    with pytest.raises(ModelMismatch):
        _open(old, model=OTHER_MODEL)
