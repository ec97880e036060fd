"""Mosquitto's password hashes, made in Python: PBKDF2-HMAC-SHA512 in the ``$7$`` format of Mosquitto 2.

A line of a Mosquitto password file reads ``user:$7$<iterations>$<salt>$<hash>``, salt (12 bytes) and hash
(64 bytes) in standard base64; ``mosquitto_passwd`` writes the same with 101 iterations. Vigil computes it with
:func:`hashlib.pbkdf2_hmac` so that it needs no Mosquitto tools where it runs. Every password it hashes is a
machine-made secret of 32 random bytes, so the iteration count adds nothing against guessing; Mosquitto's
default keeps each broker login cheap.
"""

import base64
import hashlib
import secrets

ITERATIONS = 101
"""PBKDF2 rounds, as ``mosquitto_passwd`` uses."""

SALT_BYTES = 12
_HASH_BYTES = 64  # SHA-512
_SECRET_BYTES = 32


def mosquitto_hash(password: str, *, salt: bytes | None = None, iterations: int = ITERATIONS) -> str:
    """The password's hash as a Mosquitto 2 password file holds it.

    Args:
        password: the password a client sends (UTF-8).
        salt: the salt; 12 random bytes when None (give one only to reproduce a known hash).
        iterations: PBKDF2 rounds.

    Returns:
        ``$7$<iterations>$<salt base64>$<hash base64>``.

    Raises:
        ValueError: ``iterations`` is below 1 or the salt is empty.
    """
    if iterations < 1:
        raise ValueError(f"iterations must be at least 1, got {iterations}")
    if salt is None:
        salt = secrets.token_bytes(SALT_BYTES)
    if not salt:
        raise ValueError("the salt is empty; give at least one byte, or None for 12 random ones")
    digest = hashlib.pbkdf2_hmac("sha512", password.encode("utf-8"), salt, iterations, _HASH_BYTES)
    return f"$7${iterations}${base64.b64encode(salt).decode()}${base64.b64encode(digest).decode()}"


def new_secret() -> str:
    """A new machine-made password: 32 random bytes, URL-safe base64 (43 characters)."""
    return secrets.token_urlsafe(_SECRET_BYTES)
