"""The force's CA (`vigil pki`): certificates that a strict RFC 5280 verifier accepts, for the right use only."""

import datetime
import ipaddress
import json
import stat
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.x509.oid import ExtendedKeyUsageOID
from cryptography.x509.verification import DNSName, IPAddress, PolicyBuilder, Store, VerificationError
from typer.testing import CliRunner

from vigil.cli.app import create_app
from vigil.pki import create_authority, issue_certificate, load_authority
from vigil.pki.errors import AuthorityExists, AuthorityUnusable, CertificateFilesExist, InvalidCertificateRequest


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def _load(path: Path) -> x509.Certificate:
    return x509.load_pem_x509_certificate(path.read_bytes())


def _builder(ca: Path) -> PolicyBuilder:
    return PolicyBuilder().store(Store([_load(ca)])).time(datetime.datetime.now(datetime.UTC))


def test_a_server_certificate_verifies_for_its_hosts_only(tmp_path: Path) -> None:
    authority = create_authority(tmp_path / "ca", name="Example Force CA")
    issued = issue_certificate(
        authority, tmp_path / "out", name="broker", hosts=["broker.example", "127.0.0.1"], purpose="server"
    )
    assert (issued.certificate_file.name, issued.key_file.name) == ("broker.crt", "broker.key")
    modes = [
        _mode(p) for p in (authority.certificate_file, authority.key_file, issued.certificate_file, issued.key_file)
    ]
    assert modes == [0o644, 0o600, 0o644, 0o600]

    leaf = _load(issued.certificate_file)
    for name in (DNSName("broker.example"), IPAddress(ipaddress.ip_address("127.0.0.1"))):
        _builder(authority.certificate_file).build_server_verifier(name).verify(leaf, [])
    with pytest.raises(VerificationError):
        _builder(authority.certificate_file).build_server_verifier(DNSName("other.example")).verify(leaf, [])
    with pytest.raises(VerificationError):  # a server certificate does not authenticate a client
        _builder(authority.certificate_file).build_client_verifier().verify(leaf, [])
    assert leaf.extensions.get_extension_for_class(x509.BasicConstraints).value.ca is False
    usage = leaf.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert list(usage) == [ExtendedKeyUsageOID.SERVER_AUTH]
    assert leaf.not_valid_after_utc - leaf.not_valid_before_utc == datetime.timedelta(days=825, minutes=5)


def test_a_client_certificate_carries_its_name_and_authenticates_a_client_only(tmp_path: Path) -> None:
    authority = create_authority(tmp_path, name="Example Force CA")
    issued = issue_certificate(authority, tmp_path, name="cam-1", purpose="client", valid_days=30)
    leaf = _load(issued.certificate_file)
    leaf.verify_directly_issued_by(authority.certificate)  # Mosquitto checks it against the CA (tests/bus)
    assert leaf.subject.rfc4514_string() == "CN=cam-1"
    assert list(leaf.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value) == [
        ExtendedKeyUsageOID.CLIENT_AUTH
    ]


def test_a_certificate_from_another_ca_does_not_verify(tmp_path: Path) -> None:
    ours = create_authority(tmp_path / "ours", name="Ours")
    theirs = create_authority(tmp_path / "theirs", name="Theirs")
    issued = issue_certificate(theirs, tmp_path / "theirs", name="broker", hosts=["broker.example"], purpose="server")
    verifier = _builder(ours.certificate_file).build_server_verifier(DNSName("broker.example"))
    with pytest.raises(VerificationError):
        verifier.verify(_load(issued.certificate_file), [])


def test_the_ca_is_loaded_back_and_never_overwritten(tmp_path: Path) -> None:
    made = create_authority(tmp_path, name="Example Force CA", valid_days=100)
    loaded = load_authority(tmp_path)
    assert (loaded.name, loaded.certificate, loaded.key.private_numbers()) == (
        "Example Force CA",
        made.certificate,
        made.key.private_numbers(),
    )
    before = made.key_file.read_bytes()
    with pytest.raises(AuthorityExists, match="never overwritten"):
        create_authority(tmp_path, name="Another")
    assert made.key_file.read_bytes() == before


def test_a_ca_key_others_can_read_is_refused(tmp_path: Path) -> None:
    authority = create_authority(tmp_path, name="Example Force CA")
    authority.key_file.chmod(0o644)
    with pytest.raises(AuthorityUnusable, match="can be read by other users"):
        load_authority(tmp_path)


def test_a_ca_with_another_ca_s_key_is_refused(tmp_path: Path) -> None:
    create_authority(tmp_path / "a", name="A")
    create_authority(tmp_path / "b", name="B")
    (tmp_path / "a" / "ca.key").write_bytes((tmp_path / "b" / "ca.key").read_bytes())
    with pytest.raises(AuthorityUnusable, match="is not the key of"):
        load_authority(tmp_path / "a")


@pytest.mark.parametrize(
    ("name", "hosts", "purpose", "valid_days", "match"),
    [
        ("broker", [], "server", 825, "needs at least one host"),
        ("broker", ["bad host"], "server", 825, "neither an IP address nor a DNS name"),
        ("broker", ["-x.example"], "server", 825, "neither an IP address nor a DNS name"),
        ("../broker", ["broker.example"], "server", 825, "cannot name a certificate"),
        ("cam-1", [], "client", 0, "1 to 3,650 days"),
        ("cam-1", [], "client", 400, "the CA expires on"),
    ],
)
def test_a_certificate_that_cannot_be_issued_is_refused(
    tmp_path: Path, name: str, hosts: list[str], purpose: str, valid_days: int, match: str
) -> None:
    authority = create_authority(tmp_path / "ca", name="CA", valid_days=365)
    with pytest.raises(InvalidCertificateRequest, match=match):
        issue_certificate(
            authority,
            tmp_path / "out",
            name=name,
            hosts=hosts,
            purpose=purpose,  # type: ignore[arg-type]
            valid_days=valid_days,
        )
    assert not (tmp_path / "out").exists()


def test_an_issued_certificate_is_replaced_only_on_purpose(tmp_path: Path) -> None:
    authority = create_authority(tmp_path, name="CA")
    first = issue_certificate(authority, tmp_path, name="broker", hosts=["broker.example"], purpose="server")
    key = first.key_file.read_bytes()
    with pytest.raises(CertificateFilesExist, match=r"broker\.crt already exists"):
        issue_certificate(authority, tmp_path, name="broker", hosts=["broker.example"], purpose="server")
    assert first.key_file.read_bytes() == key
    renewed = issue_certificate(
        authority, tmp_path, name="broker", hosts=["broker.example"], purpose="server", replace=True
    )
    assert renewed.key_file.read_bytes() != key
    assert (_mode(renewed.key_file), _load(renewed.certificate_file)) == (0o600, renewed.certificate)


def _vigil(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(create_app(), list(args))
    return result.exit_code, result.stdout, result.stderr


def test_the_command_line_makes_a_ca_and_issues_from_it(tmp_path: Path) -> None:
    ca = tmp_path / "ca"
    code, out, _ = _vigil("pki", "init", "--dir", str(ca), "--name", "Example Force CA")
    assert (code, "CA 'Example Force CA' made" in out) == (0, True)
    code, out, _ = _vigil(
        "pki",
        "server",
        "--dir",
        str(ca),
        "--name",
        "broker",
        "--host",
        "broker.example",
        "--host",
        "10.0.0.5",
        "--json",
    )
    report = json.loads(out)
    assert (code, report["purpose"], report["hosts"], report["issuer"]) == (
        0,
        "server",
        ["broker.example", "10.0.0.5"],
        "Example Force CA",
    )
    code, out, _ = _vigil(
        "pki", "client", "--dir", str(ca), "--name", "cam-1", "--out", str(tmp_path / "cam"), "--json"
    )
    assert (code, json.loads(out)["key_file"]) == (0, str(tmp_path / "cam" / "cam-1.key"))

    code, out, err = _vigil("pki", "init", "--dir", str(ca), "--name", "Again")
    assert (code, out, err.startswith("error: ")) == (1, "", True)
    assert "already holds a CA" in err
    code, _, err = _vigil("pki", "server", "--dir", str(ca), "--name", "web")
    assert code == 2  # --host is required
    code, _, err = _vigil("pki", "client", "--dir", str(tmp_path / "nothing"), "--name", "cam-2")
    assert (code, "vigil pki init" in err) == (1, True)
