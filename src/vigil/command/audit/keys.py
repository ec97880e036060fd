"""The checkpoint key: an Ed25519 pair kept outside the database, the private half readable by its owner only.

The server signs checkpoints with the private key (``audit.checkpoint_key_file``); an auditor checks them with
the public key alone (``vigil audit verify --public-key``). Both are PEM files (PKCS#8, SubjectPublicKeyInfo),
made by ``vigil audit keys`` as the watchlist signing key is; the private file is created 0600 and refused when
group or others may read it.
"""

import stat
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from vigil.command.audit.errors import CheckpointKeyError
from vigil.watchlist.keys import KeyFileError, create_signing_key, load_signing_key, load_verify_key

KEYS_HINT = "create a pair with `vigil audit keys --signing-key FILE --public-key FILE`"


def create_checkpoint_keys(private_path: Path, public_path: Path) -> Ed25519PublicKey:
    """Generate a checkpoint key pair and write both halves (the private one 0600).

    Returns:
        The public key, for auditors.

    Raises:
        CheckpointKeyError: a file already exists (keys are never overwritten).
    """
    try:
        return create_signing_key(private_path, public_path)
    except KeyFileError as exc:
        raise CheckpointKeyError(str(exc), path=private_path) from exc


def load_checkpoint_signing_key(path: Path) -> Ed25519PrivateKey:
    """Read the private checkpoint key.

    Raises:
        CheckpointKeyError: missing, readable by group or others, malformed, or not an Ed25519 private key.
    """
    try:
        mode = path.stat().st_mode
    except FileNotFoundError as exc:
        raise CheckpointKeyError(f"no checkpoint signing key at {path}; {KEYS_HINT}", path=path) from exc
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise CheckpointKeyError(
            f"the checkpoint signing key {path} may be read by others than its owner (mode {stat.S_IMODE(mode):04o}); "
            f"`chmod 600 {path}`, and make a new pair if others may have read it",
            path=path,
        )
    try:
        return load_signing_key(path)
    except KeyFileError as exc:
        raise CheckpointKeyError(f"{exc}; {KEYS_HINT}", path=path) from exc


def load_checkpoint_public_key(path: Path) -> Ed25519PublicKey:
    """Read the public checkpoint key, with which checkpoints are checked.

    Raises:
        CheckpointKeyError: missing, malformed, or not an Ed25519 public key.
    """
    try:
        return load_verify_key(path)
    except KeyFileError as exc:
        raise CheckpointKeyError(str(exc), path=path) from exc
