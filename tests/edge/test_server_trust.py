"""A device downloads its packages over HTTPS from a server certified by the force's CA, and over nothing weaker.

The server here is a small HTTPS file server with a certificate from :mod:`vigil.pki`; it records the
``Authorization`` headers it receives, so each refusal also shows the device's token never left the device.
"""

import http.server
import re
import ssl
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from vigil.edge.server_trust import ServerCaUnusable, server_tls_context
from vigil.edge.watchlist_update import PlainHttpRefused, WatchlistFetchFailed, fetch_url
from vigil.pki import create_authority, issue_certificate

PACKAGE = b"VWL1 a package's bytes"
TOKEN = "cam-1.secret-token"


@dataclass
class PackageServer:
    url: str
    tokens_seen: list[str] = field(default_factory=list)


@contextmanager
def package_server(
    certificate: Path | None, key: Path | None, *, redirect_to: str | None = None
) -> Iterator[PackageServer]:
    """Serve :data:`PACKAGE` on 127.0.0.1 (HTTPS with a certificate, else plain HTTP), or a redirect."""
    served = PackageServer(url="")

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            served.tokens_seen.append(self.headers.get("Authorization", ""))
            if redirect_to is not None:
                self.send_response(302)
                self.send_header("Location", redirect_to)
                self.end_headers()
                return
            self.send_response(200)
            self.send_header("Content-Length", str(len(PACKAGE)))
            self.end_headers()
            self.wfile.write(PACKAGE)

        def log_message(self, format: str, *args: object) -> None:
            return

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    scheme = "http"
    if certificate is not None and key is not None:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(certificate, key)
        server.socket = context.wrap_socket(server.socket, server_side=True)
        scheme = "https"
    served.url = f"{scheme}://127.0.0.1:{server.server_address[1]}/api/v1/device/watchlist/3"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield served
    finally:
        server.shutdown()
        server.server_close()
        thread.join(10)


@dataclass(frozen=True)
class Force:
    ca_file: Path
    certificate_file: Path
    key_file: Path


def _force(directory: Path, hosts: tuple[str, ...] = ("127.0.0.1", "localhost")) -> Force:
    authority = create_authority(directory / "ca", name="Test Force CA")
    issued = issue_certificate(authority, directory / "server", name="command", hosts=hosts, purpose="server")
    return Force(authority.certificate_file, issued.certificate_file, issued.key_file)


@pytest.fixture
def force(tmp_path: Path) -> Force:
    return _force(tmp_path / "force")


def test_a_package_comes_over_https_from_a_server_the_force_ca_certified(force: Force) -> None:
    with package_server(force.certificate_file, force.key_file) as server:
        data = fetch_url(server.url, token=TOKEN, context=server_tls_context(force.ca_file))
    assert data == PACKAGE
    assert server.tokens_seen == [f"Bearer {TOKEN}"]


@pytest.mark.parametrize("trust", ["system CAs", "another force's CA", "a certificate for another host"])
def test_a_server_the_device_cannot_verify_never_sees_its_token(force: Force, tmp_path: Path, trust: str) -> None:
    certificate, key, ca_file = force.certificate_file, force.key_file, force.ca_file
    if trust == "system CAs":
        ca_file = None
    elif trust == "another force's CA":
        ca_file = _force(tmp_path / "other").ca_file
    else:
        elsewhere = _force(tmp_path / "elsewhere", hosts=("command.other.example",))
        certificate, key, ca_file = elsewhere.certificate_file, elsewhere.key_file, elsewhere.ca_file
    with package_server(certificate, key) as server, pytest.raises(WatchlistFetchFailed, match="CERTIFICATE_VERIFY"):
        fetch_url(server.url, token=TOKEN, context=server_tls_context(ca_file))
    assert server.tokens_seen == []


def test_plain_http_to_another_machine_is_refused_before_connecting() -> None:
    with pytest.raises(PlainHttpRefused, match=r"over plain HTTP from 192\.0\.2\.10"):
        fetch_url("http://192.0.2.10:8000/api/v1/device/watchlist/3", token=TOKEN)


@pytest.mark.parametrize("url", ["ftp://192.0.2.10/package.vwl", "gopher://192.0.2.10/package.vwl"])
def test_other_schemes_are_refused(url: str) -> None:
    with pytest.raises(PlainHttpRefused, match="use https://"):
        fetch_url(url, token=TOKEN)


def test_plain_http_on_the_devices_own_loopback_is_allowed() -> None:
    with package_server(None, None) as server:
        assert fetch_url(server.url, token=TOKEN) == PACKAGE


def test_allowing_plain_http_lets_the_device_try_another_machine() -> None:
    with pytest.raises(WatchlistFetchFailed) as raised:  # TEST-NET-1: nothing answers there
        fetch_url("http://192.0.2.10:9/package.vwl", token=TOKEN, allow_plain_http=True, timeout_s=0.5)
    assert not isinstance(raised.value, PlainHttpRefused)


def test_a_redirect_is_not_followed(force: Force) -> None:
    with (
        package_server(None, None) as plain,
        package_server(force.certificate_file, force.key_file, redirect_to=plain.url) as server,
        pytest.raises(WatchlistFetchFailed, match="302"),
    ):
        fetch_url(server.url, token=TOKEN, context=server_tls_context(force.ca_file))
    assert plain.tokens_seen == []


def test_a_ca_file_that_cannot_be_read_is_named(tmp_path: Path) -> None:
    (tmp_path / "not-a-ca.crt").write_text("not a certificate\n")
    for path in (tmp_path / "missing.crt", tmp_path / "not-a-ca.crt"):
        with pytest.raises(ServerCaUnusable, match=re.escape(str(path))):
            server_tls_context(path)


def test_the_device_speaks_tls_1_2_or_later_and_checks_host_names(force: Force) -> None:
    context = server_tls_context(force.ca_file)
    assert (context.minimum_version, context.check_hostname, context.verify_mode) == (
        ssl.TLSVersion.TLSv1_2,
        True,
        ssl.CERT_REQUIRED,
    )
