"""The force's certificate authority: one self-signed CA whose certificate every broker, server and device trusts.

Its key signs the certificates of :mod:`vigil.pki.issuance` and nothing else: it can stay on an offline machine,
and only ``ca.crt`` is handed out (to devices and servers, to verify the broker and the command centre).
Keys are ECDSA P-256; certificates carry the extensions strict verifiers ask for (basic constraints and key
usage, critical; subject and authority key identifiers).
"""

import datetime
import re
import secrets
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from vigil.pki.errors import AuthorityExists, AuthorityUnusable, InvalidCertificateRequest
from vigil.pki.files import CERTIFICATE_MODE, KEY_MODE, write_file

CA_CERTIFICATE = "ca.crt"
CA_KEY = "ca.key"
MAX_CA_DAYS = 36_500
CLOCK_SKEW = datetime.timedelta(minutes=5)
"""Certificates start this long before they are made: a device whose clock is a little behind still accepts them."""

_NAME = re.compile(r"[^\x00-\x1f\x7f]{1,64}")


@dataclass(frozen=True)
class Authority:
    """A loaded CA: its certificate and private key, and where they are.

    Attributes:
        certificate: the self-signed CA certificate.
        key: its private key.
        certificate_file: ``ca.crt``, the file to hand out.
        key_file: ``ca.key`` (0600).
    """

    certificate: x509.Certificate
    key: ec.EllipticCurvePrivateKey
    certificate_file: Path
    key_file: Path

    @property
    def name(self) -> str:
        """The CA's common name."""
        return common_name(self.certificate)

    @property
    def not_after(self) -> datetime.datetime:
        """When the CA expires (UTC); nothing it issues may outlive it."""
        return self.certificate.not_valid_after_utc


def create_authority(directory: Path, *, name: str, valid_days: int = 3650) -> Authority:
    """Make a new CA in ``directory``: ``ca.key`` (0600) and ``ca.crt`` (0644).

    Args:
        directory: the CA's folder, created (0700) if missing.
        name: its common name, e.g. "Example Force CA" (1 to 64 printable characters).
        valid_days: how long it is valid, days (1 to 36,500).

    Returns:
        The new authority.

    Raises:
        AuthorityExists: the folder already holds ``ca.crt`` or ``ca.key``; it is never overwritten.
        InvalidCertificateRequest: a bad name or validity.
        PkiError: the folder cannot be written.
    """
    if not _NAME.fullmatch(name) or not name.strip():
        raise InvalidCertificateRequest(f"a CA name must be 1 to 64 printable characters, got {name!r}")
    if not 1 <= valid_days <= MAX_CA_DAYS:
        raise InvalidCertificateRequest(f"a CA is valid for 1 to {MAX_CA_DAYS:,} days, got {valid_days}")
    certificate_file, key_file = directory / CA_CERTIFICATE, directory / CA_KEY
    for path in (key_file, certificate_file):
        if path.exists():
            raise AuthorityExists(
                f"{directory} already holds a CA ({path.name}); it is never overwritten, since every certificate it "
                "issued would stop working: use another folder for a new CA",
                path=path,
            )
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = datetime.datetime.now(datetime.UTC)
    public_key = key.public_key()
    certificate = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(public_key)
        .serial_number(serial_number())
        .not_valid_before(now - CLOCK_SKEW)
        .not_valid_after(now + datetime.timedelta(days=valid_days))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(public_key), critical=False)
        .sign(key, hashes.SHA256())
    )
    write_file(key_file, private_key_pem(key), mode=KEY_MODE, replace=False)
    write_file(
        certificate_file, certificate.public_bytes(serialization.Encoding.PEM), mode=CERTIFICATE_MODE, replace=False
    )
    return Authority(certificate=certificate, key=key, certificate_file=certificate_file, key_file=key_file)


def load_authority(directory: Path) -> Authority:
    """The CA in ``directory``, checked: a CA certificate, its own key, not expired, the key readable by its owner only.

    Raises:
        AuthorityUnusable: a file is missing or unreadable, or the checks fail; the message says which.
    """
    certificate_file, key_file = directory / CA_CERTIFICATE, directory / CA_KEY
    certificate = _read_certificate(certificate_file)
    try:
        mode = key_file.stat().st_mode & 0o777
        key_bytes = key_file.read_bytes()
    except OSError as exc:
        raise AuthorityUnusable(
            f"cannot read the CA key {key_file} ({exc.strerror or exc}); `vigil pki init` makes a CA", path=key_file
        ) from exc
    if mode & 0o077:
        raise AuthorityUnusable(
            f"the CA key {key_file} can be read by other users (mode {mode:04o}): anyone who copied it can issue "
            f"certificates your devices trust; `chmod 600 {key_file}` if you are sure it did not leak",
            path=key_file,
        )
    try:
        key = serialization.load_pem_private_key(key_bytes, password=None)
    except (ValueError, TypeError) as exc:
        raise AuthorityUnusable(f"{key_file} is not an unencrypted PEM private key ({exc})", path=key_file) from exc
    if not isinstance(key, ec.EllipticCurvePrivateKey) or key.public_key() != certificate.public_key():
        raise AuthorityUnusable(f"{key_file} is not the key of {certificate_file}", path=key_file)
    try:
        constraints = certificate.extensions.get_extension_for_class(x509.BasicConstraints).value
    except x509.ExtensionNotFound:
        constraints = x509.BasicConstraints(ca=False, path_length=None)
    if not constraints.ca:
        raise AuthorityUnusable(f"{certificate_file} is not a CA certificate", path=certificate_file)
    expired = certificate.not_valid_after_utc
    if expired <= datetime.datetime.now(datetime.UTC):
        raise AuthorityUnusable(
            f"the CA in {directory} expired on {expired:%Y-%m-%d}: make a new CA and issue new certificates",
            path=certificate_file,
        )
    return Authority(certificate=certificate, key=key, certificate_file=certificate_file, key_file=key_file)


def common_name(certificate: x509.Certificate) -> str:
    """The subject's common name, or "" without one."""
    names = certificate.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    value = names[0].value if names else ""
    return value if isinstance(value, str) else value.decode()


def serial_number() -> int:
    """A random, positive serial number of at most 159 bits, as RFC 5280 allows."""
    return secrets.randbits(159) | 1


def private_key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    """The key as unencrypted PKCS #8 PEM (the file's mode is what protects it)."""
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def fingerprint(certificate: x509.Certificate) -> str:
    """The certificate's SHA-256 fingerprint, as ``AB:CD:…`` (what ``openssl x509 -fingerprint -sha256`` prints)."""
    return certificate.fingerprint(hashes.SHA256()).hex(":").upper()


def _read_certificate(path: Path) -> x509.Certificate:
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise AuthorityUnusable(
            f"cannot read the CA certificate {path} ({exc.strerror or exc}); `vigil pki init` makes a CA", path=path
        ) from exc
    try:
        return x509.load_pem_x509_certificate(data)
    except ValueError as exc:
        raise AuthorityUnusable(f"{path} is not a PEM certificate ({exc})", path=path) from exc
