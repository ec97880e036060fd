"""Second-factor secrets sealed at rest: AES-256-GCM under a key derived from the server's key-wrapping key.

A TOTP secret is all it takes to make a person's codes, so the database holds it only sealed: a copy of the
database alone (a backup, a replica, a stolen disk image of the database server) yields none. The key is the one
the server already keeps its devices' package keys under, ``watchlists.key_wrap_file`` (every server process is
given the same file); where none is configured, ``secrets.key`` in the server's data folder, made on first use,
readable by its owner alone. A key for this use alone is derived from it with HKDF-SHA256, and the user's id is
the associated data, so a sealed secret copied to another user's row does not open.

A server that is given a key-wrapping key after it ran without one still opens what ``secrets.key`` sealed, and
its startup step :func:`reseal_second_factors` seals every secret again under the new key; ``secrets.key`` may
then be deleted. Each stored form names its key by an id (the first 8 bytes of an HMAC under the derived key), so
a server given the wrong key says so instead of failing at random.

Stored form: ``v1.``, the key id (16 hex characters), ``.``, and the URL-safe base64 of nonce (12 bytes),
ciphertext and tag.
"""

import base64
import hashlib
import hmac
import logging
import os
import secrets
import threading
from dataclasses import dataclass
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.hashes import SHA256
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from sqlalchemy import select

from vigil.command.accounts.models import User
from vigil.command.database import Database
from vigil.command.errors import SecondFactorUnreadable
from vigil.command.settings import CommandSettings
from vigil.watchlist.keys import DEVICE_KEY_BYTES, KeyFileError, load_device_key

_log = logging.getLogger(__name__)

DEFAULT_KEY_FILE = "secrets.key"
"""The key file made in the data folder when ``watchlists.key_wrap_file`` is not set."""

_VERSION = "v1"
_NONCE_BYTES = 12
_PURPOSE = b"vigil second-factor secrets v1"


@dataclass(frozen=True)
class _Key:
    cipher: AESGCM
    key_id: str
    file: Path


class SecretSealer:
    """Seals and opens second-factor secrets; reads (or makes) its key files at first use, once."""

    def __init__(self, key_file: Path, *, create: bool, earlier_key_file: Path | None = None) -> None:
        """Name the key files; nothing is read until a secret is sealed or opened.

        Args:
            key_file: the key new secrets are sealed under: 64 hex characters (``vigil watchlist device-key``
                makes one).
            create: make ``key_file`` (owner-only) when it does not exist.
            earlier_key_file: a key secrets may still be sealed under (opened, never sealed with), when it exists.
        """
        self.key_file = key_file
        self._create = create
        self._earlier_file = earlier_key_file
        self._keys: list[_Key] | None = None
        self._lock = threading.Lock()

    @classmethod
    def for_settings(cls, settings: CommandSettings) -> "SecretSealer":
        """The sealer under the key the settings name: ``watchlists.key_wrap_file``, else one in ``data_dir``.

        With a key-wrapping key, ``data_dir``'s key (if any) still opens what it sealed before.
        """
        default = settings.data_dir / DEFAULT_KEY_FILE
        if settings.watchlists.key_wrap_file is not None:
            return cls(settings.watchlists.key_wrap_file, create=False, earlier_key_file=default)
        return cls(default, create=True)

    def seal(self, secret: str, *, user_id: str) -> str:
        """The stored form of a user's secret, under the current key.

        Raises:
            KeyFileError: the key file is missing (and not to be made) or malformed.
        """
        key = self._loaded()[0]
        nonce = secrets.token_bytes(_NONCE_BYTES)
        sealed = nonce + key.cipher.encrypt(nonce, secret.encode("utf-8"), user_id.encode("utf-8"))
        return f"{_VERSION}.{key.key_id}.{base64.urlsafe_b64encode(sealed).decode('ascii')}"

    def open(self, sealed: str, *, user_id: str) -> str:
        """The secret a stored form holds.

        Raises:
            SecondFactorUnreadable: it was sealed under a key this server does not have, for another user, or is
                not a sealed secret.
            KeyFileError: the key file is missing (and not to be made) or malformed.
        """
        keys = self._loaded()
        version, key_id, body = [*sealed.split(".", 2), "", ""][:3]
        key = next((k for k in keys if k.key_id == key_id), None)
        if version != _VERSION or key is None:
            raise SecondFactorUnreadable(
                f"user {user_id!r}'s second-factor secret is sealed under key {key_id or '?'}, which this server "
                f"does not have (its key {keys[0].key_id} is in {keys[0].file}): give every server process the same "
                "VIGIL_WATCHLISTS__KEY_WRAP_FILE (or data folder), or give the user a new second factor "
                f"(`vigil users reset-totp {user_id}`)",
                username=user_id,
            )
        try:
            raw = base64.urlsafe_b64decode(body.encode("ascii"))
            opened = key.cipher.decrypt(raw[:_NONCE_BYTES], raw[_NONCE_BYTES:], user_id.encode("utf-8"))
        except (InvalidTag, ValueError) as exc:
            raise SecondFactorUnreadable(
                f"user {user_id!r}'s second-factor secret does not open with the key in {key.file}: it was altered "
                f"or moved from another user's row; give the user a new second factor (`vigil users reset-totp "
                f"{user_id}`)",
                username=user_id,
            ) from exc
        return opened.decode("utf-8")

    def is_current(self, sealed: str) -> bool:
        """Whether a stored form is sealed under the current key (not an earlier one).

        Raises:
            KeyFileError: the key file is missing (and not to be made) or malformed.
        """
        return sealed.startswith(f"{_VERSION}.{self._loaded()[0].key_id}.")

    def _loaded(self) -> list[_Key]:
        with self._lock:
            if self._keys is None:
                if self._create and not self.key_file.exists():
                    _create_key_file(self.key_file)
                keys = [_derive(self.key_file)]
                earlier = self._earlier_file
                if earlier is not None and earlier.exists() and earlier.resolve() != self.key_file.resolve():
                    keys.append(_derive(earlier))
                self._keys = keys
            return self._keys


def reseal_second_factors(*, database: Database, sealer: SecretSealer) -> int:
    """Seal again under the current key every secret sealed under an earlier one (a startup step).

    Returns:
        How many were sealed again.

    Raises:
        SecondFactorUnreadable: a secret is sealed under a key this server does not have.
        KeyFileError: a key file is missing or malformed.
        DatabaseUnavailable: the database cannot be reached.
    """
    with database.session() as session:
        users = session.scalars(select(User).where(User.totp_sealed.is_not(None)).with_for_update()).all()
        stale = [
            (user, user.totp_sealed) for user in users if user.totp_sealed and not sealer.is_current(user.totp_sealed)
        ]
        for user, sealed in stale:
            user.totp_sealed = sealer.seal(sealer.open(sealed, user_id=user.user_id), user_id=user.user_id)
        session.commit()
    if stale:
        _log.info("accounts.second_factors_resealed", extra={"count": len(stale), "key_file": str(sealer.key_file)})
    return len(stale)


def _derive(path: Path) -> _Key:
    derived = HKDF(algorithm=SHA256(), length=DEVICE_KEY_BYTES, salt=None, info=_PURPOSE).derive(load_device_key(path))
    key_id = hmac.new(derived, b"key id", hashlib.sha256).hexdigest()[:16]
    return _Key(cipher=AESGCM(derived), key_id=key_id, file=path)


def _create_key_file(path: Path) -> None:
    """Write a new random key to ``path`` (owner-only), unless another process has just done so."""
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    # Written whole under a temporary name, then linked into place: a process reading meanwhile never sees half.
    partial = path.with_name(f".{path.name}.{secrets.token_hex(8)}")
    descriptor = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(descriptor, "wb") as stream:
            stream.write(secrets.token_bytes(DEVICE_KEY_BYTES).hex().encode("ascii") + b"\n")
        try:
            os.link(partial, path)
        except FileExistsError:
            pass
        except OSError as exc:
            raise KeyFileError(f"cannot write the key file {path}: {exc}") from exc
    finally:
        partial.unlink(missing_ok=True)
