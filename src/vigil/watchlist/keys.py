"""Keys for device packages: the command centre's Ed25519 signing key and each device's AES-256 key.

Signing keys are PEM files (PKCS#8 private, SubjectPublicKeyInfo public); a device key is 32 random bytes
written as 64 hex characters. Private key files are created readable by their owner only.
"""

import os
import secrets
from pathlib import Path

from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from vigil.watchlist.errors import WatchlistError

DEVICE_KEY_BYTES = 32


class KeyFileError(WatchlistError):
    """A key file is missing, malformed or of the wrong kind."""


def _write_private(path: Path, data: bytes) -> None:
    if path.exists():
        raise KeyFileError(f"{path} already exists; keys are never overwritten")
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "wb") as stream:
        stream.write(data)


def create_signing_key(private_path: Path, public_path: Path) -> Ed25519PublicKey:
    """Generate the command centre's signing key pair and write both halves.

    Returns:
        The public (verify) key, which devices are given.

    Raises:
        KeyFileError: a file already exists.
    """
    key = Ed25519PrivateKey.generate()
    if public_path.exists():
        raise KeyFileError(f"{public_path} already exists; keys are never overwritten")
    _write_private(
        private_path,
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()),
    )
    public = key.public_key()
    public_path.write_bytes(
        public.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    )
    return public


def load_signing_key(path: Path) -> Ed25519PrivateKey:
    """Read the command centre's private signing key.

    Raises:
        KeyFileError: missing, malformed, or not an Ed25519 private key.
    """
    try:
        key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    except FileNotFoundError as exc:
        raise KeyFileError(f"no signing key at {path}; create one with `vigil watchlist keys`") from exc
    except (ValueError, TypeError, UnsupportedAlgorithm) as exc:
        raise KeyFileError(f"{path} is not a PEM private key ({exc})") from exc
    if not isinstance(key, Ed25519PrivateKey):
        raise KeyFileError(f"{path} holds a {type(key).__name__}; an Ed25519 signing key is needed")
    return key


def load_verify_key(path: Path) -> Ed25519PublicKey:
    """Read the command centre's public key, with which devices verify packages.

    Raises:
        KeyFileError: missing, malformed, or not an Ed25519 public key.
    """
    try:
        key = serialization.load_pem_public_key(path.read_bytes())
    except FileNotFoundError as exc:
        raise KeyFileError(f"no verify key at {path}") from exc
    except (ValueError, UnsupportedAlgorithm) as exc:
        raise KeyFileError(f"{path} is not a PEM public key ({exc})") from exc
    if not isinstance(key, Ed25519PublicKey):
        raise KeyFileError(f"{path} holds a {type(key).__name__}; an Ed25519 public key is needed")
    return key


def create_device_key(path: Path) -> bytes:
    """Generate a device's AES-256 key and write it.

    Returns:
        The 32-byte key.

    Raises:
        KeyFileError: the file already exists.
    """
    key = secrets.token_bytes(DEVICE_KEY_BYTES)
    _write_private(path, key.hex().encode("ascii") + b"\n")
    return key


def load_device_key(path: Path) -> bytes:
    """Read a device key.

    Raises:
        KeyFileError: missing, or not 64 hex characters.
    """
    try:
        text = path.read_text(encoding="ascii").strip()
        key = bytes.fromhex(text)
    except FileNotFoundError as exc:
        raise KeyFileError(f"no device key at {path}") from exc
    except (ValueError, UnicodeDecodeError) as exc:
        raise KeyFileError(f"{path} is not a device key (64 hex characters expected)") from exc
    if len(key) != DEVICE_KEY_BYTES:
        raise KeyFileError(f"{path} holds a {len(key)}-byte key; a device key is {DEVICE_KEY_BYTES} bytes")
    return key
