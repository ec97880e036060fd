"""``vigil pki``: the force's own certificate authority and the certificates it issues.

``init`` makes the CA; ``server`` issues an MQTT broker's or the command centre's certificate, ``client`` a
device's. See docs/deploy.md, "Certificates and TLS".
"""

from datetime import datetime
from pathlib import Path
from typing import Annotated

import typer
from pydantic import BaseModel, ConfigDict, Field

from vigil.cli.boundary import exits_on_vigil_error
from vigil.cli.faces import JsonOption
from vigil.pki.authority import Authority, common_name, create_authority, fingerprint, load_authority
from vigil.pki.issuance import IssuedCertificate, Purpose, issue_certificate

DirOption = Annotated[
    Path, typer.Option("--dir", help="The CA's folder: ca.crt (hand it out) and ca.key (keep it; 0600).")
]
NameOption = Annotated[str, typer.Option("--name", help="The certificate's name: 'broker', a device id …")]
OutOption = Annotated[
    Path | None, typer.Option("--out", help="Where to write NAME.crt and NAME.key (default: the CA's folder).")
]
ReplaceOption = Annotated[bool, typer.Option("--replace", help="Replace an existing NAME.crt and NAME.key (renewal).")]


class AuthorityReport(BaseModel):
    """A CA, as ``vigil pki init --json`` prints it."""

    model_config = ConfigDict(frozen=True)

    name: str = Field(description="The CA's common name.")
    certificate_file: Path = Field(description="ca.crt: give it to every broker, server and device.")
    key_file: Path = Field(description="ca.key (0600): keep it where only the people who issue certificates are.")
    not_after: datetime = Field(description="When the CA expires (UTC).")
    sha256_fingerprint: str = Field(description="The CA certificate's SHA-256 fingerprint, to check copies by.")


class CertificateReport(BaseModel):
    """An issued certificate, as ``vigil pki server|client --json`` prints it."""

    model_config = ConfigDict(frozen=True)

    name: str = Field(description="Its common name.")
    purpose: Purpose = Field(description="server (serverAuth) or client (clientAuth).")
    hosts: list[str] = Field(description="The DNS names and addresses it names (subjectAltName).")
    certificate_file: Path = Field(description="NAME.crt (0644).")
    key_file: Path = Field(description="NAME.key (0600): only its owner (the broker, the device) reads it.")
    issuer: str = Field(description="The CA that signed it.")
    not_after: datetime = Field(description="When it expires (UTC).")
    sha256_fingerprint: str = Field(description="Its SHA-256 fingerprint.")


def create_pki_app() -> typer.Typer:
    """The ``vigil pki`` group."""
    group = typer.Typer(
        help="The force's certificate authority: a CA, and certificates for brokers, servers and devices.",
        no_args_is_help=True,
    )
    group.command("init")(exits_on_vigil_error(init))
    group.command("server")(exits_on_vigil_error(server))
    group.command("client")(exits_on_vigil_error(client))
    return group


def init(
    directory: DirOption,
    name: Annotated[str, typer.Option("--name", help="The CA's name, e.g. 'Example Force CA'.")],
    valid_days: Annotated[
        int, typer.Option("--valid-days", min=1, max=36_500, help="How long the CA is valid, days.")
    ] = 3650,
    json_output: JsonOption = False,
) -> None:
    """Make the force's CA in --dir (refuses a folder that already holds one)."""
    authority = create_authority(directory, name=name, valid_days=valid_days)
    report = AuthorityReport(
        name=authority.name,
        certificate_file=authority.certificate_file.resolve(),
        key_file=authority.key_file.resolve(),
        not_after=authority.not_after,
        sha256_fingerprint=fingerprint(authority.certificate),
    )
    if json_output:
        typer.echo(report.model_dump_json(indent=2))
        return
    typer.echo(
        f"CA {report.name!r} made, valid until {report.not_after:%Y-%m-%d}:\n"
        f"  {report.certificate_file}  give it to brokers, servers and devices (they verify against it)\n"
        f"  {report.key_file}  keep it safe: whoever has it can issue certificates they all trust\n"
        f"  SHA-256 {report.sha256_fingerprint}"
    )


def server(
    directory: DirOption,
    name: NameOption,
    host: Annotated[
        list[str],
        typer.Option("--host", help="A DNS name or IP address clients connect to (repeat; at least one)."),
    ],
    out: OutOption = None,
    valid_days: Annotated[int, typer.Option("--valid-days", min=1, max=3650, help="How long it is valid, days.")] = 825,
    replace: ReplaceOption = False,
    json_output: JsonOption = False,
) -> None:
    """Issue a server certificate (an MQTT broker, the command centre) for the hosts given."""
    authority = load_authority(directory)
    issued = issue_certificate(
        authority, out or directory, name=name, hosts=host, purpose="server", valid_days=valid_days, replace=replace
    )
    _print(authority, issued, json_output=json_output)


def client(
    directory: DirOption,
    name: NameOption,
    out: OutOption = None,
    valid_days: Annotated[int, typer.Option("--valid-days", min=1, max=3650, help="How long it is valid, days.")] = 825,
    replace: ReplaceOption = False,
    json_output: JsonOption = False,
) -> None:
    """Issue a client certificate (a device, a server's broker connection), for brokers that require one."""
    authority = load_authority(directory)
    issued = issue_certificate(
        authority, out or directory, name=name, purpose="client", valid_days=valid_days, replace=replace
    )
    _print(authority, issued, json_output=json_output)


def _print(authority: Authority, issued: IssuedCertificate, *, json_output: bool) -> None:
    report = CertificateReport(
        name=common_name(issued.certificate),
        purpose=issued.purpose,
        hosts=list(issued.hosts),
        certificate_file=issued.certificate_file.resolve(),
        key_file=issued.key_file.resolve(),
        issuer=authority.name,
        not_after=issued.not_after,
        sha256_fingerprint=issued.fingerprint,
    )
    if json_output:
        typer.echo(report.model_dump_json(indent=2))
        return
    hosts = f" for {', '.join(report.hosts)}" if report.hosts else ""
    typer.echo(
        f"{report.purpose} certificate {report.name!r}{hosts}, issued by {report.issuer!r}, valid until "
        f"{report.not_after:%Y-%m-%d}:\n"
        f"  {report.certificate_file}\n"
        f"  {report.key_file}  (0600: readable by its owner only)\n"
        f"  SHA-256 {report.sha256_fingerprint}"
    )
