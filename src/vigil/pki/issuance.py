"""Issuing certificates from the force's CA: a server's (a broker, the command centre) or a client's (a device).

A server certificate names the host names and addresses clients reach it by (subjectAltName: clients check
the name they connected to against it) and may be used for ``serverAuth`` only; a client certificate carries
the client's name (a device id) as its common name and may be used for ``clientAuth`` only. Each gets a new
ECDSA P-256 key, written beside it readable by its owner only.
"""

import datetime
import ipaddress
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from vigil.pki.authority import CLOCK_SKEW, Authority, fingerprint, private_key_pem, serial_number
from vigil.pki.errors import CertificateFilesExist, InvalidCertificateRequest
from vigil.pki.files import CERTIFICATE_MODE, KEY_MODE, write_file

Purpose = Literal["server", "client"]

MAX_DAYS = 3650
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
_LABEL = r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?"
_DNS_NAME = re.compile(rf"(?:\*\.)?(?:{_LABEL}\.)*{_LABEL}", re.IGNORECASE)
_USAGE = {"server": ExtendedKeyUsageOID.SERVER_AUTH, "client": ExtendedKeyUsageOID.CLIENT_AUTH}


@dataclass(frozen=True)
class IssuedCertificate:
    """A certificate issued and written, with its key.

    Attributes:
        certificate: the certificate.
        certificate_file: ``<name>.crt`` (0644).
        key_file: ``<name>.key`` (0600).
        purpose: what it may be used for.
        hosts: the host names and addresses it names (subjectAltName).
    """

    certificate: x509.Certificate
    certificate_file: Path
    key_file: Path
    purpose: Purpose
    hosts: tuple[str, ...]

    @property
    def not_after(self) -> datetime.datetime:
        """When it expires (UTC)."""
        return self.certificate.not_valid_after_utc

    @property
    def fingerprint(self) -> str:
        """Its SHA-256 fingerprint, ``AB:CD:…``."""
        return fingerprint(self.certificate)


def issue_certificate(
    authority: Authority,
    directory: Path,
    *,
    name: str,
    hosts: Sequence[str] = (),
    purpose: Purpose,
    valid_days: int = 825,
    replace: bool = False,
) -> IssuedCertificate:
    """Issue a certificate and its new key into ``directory`` as ``<name>.crt`` and ``<name>.key``.

    Args:
        authority: the CA that signs it.
        directory: where to write both files (created if missing).
        name: the common name and the files' name: 1 to 64 letters, digits, '.', '_' or '-' (a device id, "broker").
        hosts: DNS names (``broker.example``, ``*.example``) and IP addresses for the subjectAltName; a server
            needs at least one, the names its clients connect to.
        purpose: "server" (serverAuth) or "client" (clientAuth).
        valid_days: how long it is valid, days (1 to 3,650, and not beyond the CA's own expiry).
        replace: whether existing files of that name are replaced (renewal); False refuses.

    Returns:
        What was issued and where it is.

    Raises:
        InvalidCertificateRequest: a bad name, host or validity, or a server without hosts.
        CertificateFilesExist: ``<name>.crt`` or ``<name>.key`` exists and ``replace`` is False.
        PkiError: the folder cannot be written.
    """
    if not _NAME.fullmatch(name):
        raise InvalidCertificateRequest(
            f"{name!r} cannot name a certificate: use 1 to 64 letters, digits, '.', '_' or '-', starting with a "
            "letter or digit"
        )
    if purpose not in _USAGE:
        raise InvalidCertificateRequest(f"a certificate is for a 'server' or a 'client', not {purpose!r}")
    alt_names = [_alt_name(host) for host in hosts]
    if purpose == "server" and not alt_names:
        raise InvalidCertificateRequest(
            f"a server certificate needs at least one host: the name or address its clients connect to "
            f"(e.g. --host {name}.example --host 10.0.0.5)"
        )
    now = datetime.datetime.now(datetime.UTC)
    not_after = now + datetime.timedelta(days=valid_days) if 1 <= valid_days <= MAX_DAYS else None
    if not_after is None:
        raise InvalidCertificateRequest(f"a certificate is valid for 1 to {MAX_DAYS:,} days, got {valid_days}")
    if not_after > authority.not_after:
        raise InvalidCertificateRequest(
            f"the CA expires on {authority.not_after:%Y-%m-%d}, before {valid_days} days from now: issue for at most "
            f"{(authority.not_after - now).days} days, or make a new CA"
        )
    certificate_file, key_file = directory / f"{name}.crt", directory / f"{name}.key"
    if not replace:
        for path in (certificate_file, key_file):
            if path.exists():
                raise CertificateFilesExist(
                    f"{path} already exists; it was left as it is (to renew it, replace it on purpose)", path=path
                )
    directory.mkdir(parents=True, exist_ok=True)
    key = ec.generate_private_key(ec.SECP256R1())
    builder = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)]))
        .issuer_name(authority.certificate.subject)
        .public_key(key.public_key())
        .serial_number(serial_number())
        .not_valid_before(now - CLOCK_SKEW)
        .not_valid_after(not_after)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=False,
                crl_sign=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.ExtendedKeyUsage([_USAGE[purpose]]), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(authority.key.public_key()), critical=False)
    )
    if alt_names:
        builder = builder.add_extension(x509.SubjectAlternativeName(alt_names), critical=False)
    certificate = builder.sign(authority.key, hashes.SHA256())
    # The key first: a certificate never lies in the folder without its key.
    write_file(key_file, private_key_pem(key), mode=KEY_MODE, replace=replace)
    write_file(
        certificate_file, certificate.public_bytes(serialization.Encoding.PEM), mode=CERTIFICATE_MODE, replace=replace
    )
    return IssuedCertificate(
        certificate=certificate,
        certificate_file=certificate_file,
        key_file=key_file,
        purpose=purpose,
        hosts=tuple(hosts),
    )


def _alt_name(host: str) -> x509.GeneralName:
    try:
        return x509.IPAddress(ipaddress.ip_address(host))
    except ValueError:
        pass
    if len(host) > 253 or not _DNS_NAME.fullmatch(host):
        raise InvalidCertificateRequest(
            f"{host!r} is neither an IP address nor a DNS name (letters, digits and '-' in dot-separated labels, "
            "optionally starting '*.')"
        )
    return x509.DNSName(host.lower())
