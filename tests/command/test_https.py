"""HTTPS for the command centre: its own certificate from the force's CA, or a TLS-terminating proxy in front.

Plain HTTP is refused anywhere but on loopback; over HTTPS (or behind the proxy) the session cookie is ``Secure``
and answers carry ``Strict-Transport-Security``.
"""

import os
import ssl
from pathlib import Path
from typing import Any

import httpx
import pytest
from pydantic import ValidationError
from typer.testing import CliRunner

from tests.command.conftest import CreateAccount
from tests.command.https_server import ForceCertificates, force_certificates, serving
from tests.support.served import vigil_serve
from vigil.cli.app import create_app as create_cli
from vigil.command.accounts.models import Role
from vigil.command.app import create_app
from vigil.command.errors import CertificateUnusable
from vigil.command.server_config import server_config
from vigil.command.settings import CommandSettings, HttpsSettings

LOGIN = "/api/v1/auth/login"


@pytest.fixture
def database_url(tmp_path: Path) -> str:
    """The transport does not depend on the database: SQLite only."""
    return f"sqlite:///{tmp_path / 'command.sqlite'}"


@pytest.fixture
def certificates(tmp_path: Path) -> ForceCertificates:
    return force_certificates(tmp_path / "pki")


@pytest.fixture
def https_settings(settings: CommandSettings, certificates: ForceCertificates) -> CommandSettings:
    https = HttpsSettings(certificate_file=certificates.certificate_file, key_file=certificates.key_file)
    return settings.model_copy(update={"https": https})


def _client(url: str, verify: ssl.SSLContext | bool) -> httpx.Client:
    return httpx.Client(base_url=url, verify=verify, timeout=60)


def test_a_client_trusting_the_force_ca_gets_https_and_others_are_refused(
    https_settings: CommandSettings, certificates: ForceCertificates, tmp_path: Path
) -> None:
    other_ca = force_certificates(tmp_path / "other").ca_file
    with serving(create_app(https_settings), https_settings) as url:
        assert url.startswith("https://")
        with _client(url, ssl.create_default_context(cafile=certificates.ca_file)) as client:
            answer = client.get("/api/v1/openapi.json")
        refused = []
        for verify in (True, ssl.create_default_context(cafile=other_ca)):  # the system's CAs; another force's CA
            with _client(url, verify) as client, pytest.raises(httpx.ConnectError) as raised:
                client.get("/api/v1/openapi.json")
            refused.append("CERTIFICATE_VERIFY_FAILED" in str(raised.value))
    assert answer.status_code == 200
    assert answer.headers["strict-transport-security"] == "max-age=31536000"
    assert refused == [True, True]


def test_over_https_the_session_cookie_is_secure(
    https_settings: CommandSettings, certificates: ForceCertificates, accounts: CreateAccount
) -> None:
    operator = accounts("op-1", Role.OPERATOR)
    with (
        serving(create_app(https_settings), https_settings) as url,
        _client(url, ssl.create_default_context(cafile=certificates.ca_file)) as client,
    ):
        response = client.post(LOGIN, json={"username": "op-1", "password": operator.password})
    cookie = response.headers["set-cookie"]
    assert response.status_code == 200
    assert {"Secure", "HttpOnly", "SameSite=strict"} <= {part.strip() for part in cookie.split(";")}


def test_the_server_speaks_tls_1_2_or_later_with_forward_secret_aead_suites(
    https_settings: CommandSettings,
) -> None:
    config = server_config(create_app(https_settings), https_settings)
    assert config.ssl is not None
    tls12 = {suite["name"] for suite in config.ssl.get_ciphers() if suite["protocol"] == "TLSv1.2"}
    assert config.ssl.minimum_version == ssl.TLSVersion.TLSv1_2
    assert tls12
    assert all(name.startswith("ECDHE-") and ("GCM" in name or "CHACHA20" in name) for name in tls12), tls12


def test_a_key_that_is_not_the_certificates_is_refused_before_serving(
    settings: CommandSettings, certificates: ForceCertificates, tmp_path: Path
) -> None:
    other_key = force_certificates(tmp_path / "other").key_file
    https = HttpsSettings(certificate_file=certificates.certificate_file, key_file=other_key)
    mismatched = settings.model_copy(update={"https": https})
    with pytest.raises(CertificateUnusable, match="vigil pki"):
        server_config(create_app(mismatched), mismatched)


@pytest.mark.parametrize(
    ("host", "https", "refused"),
    [
        ("127.0.0.1", {}, False),
        ("localhost", {}, False),
        ("::1", {}, False),
        ("0.0.0.0", {}, True),
        ("::", {}, True),
        ("192.0.2.10", {}, True),
        ("vigil.example", {}, True),
        ("0.0.0.0", {"behind_tls_proxy": True}, False),
        ("0.0.0.0", {"certificate_file": "c.pem", "key_file": "k.pem"}, False),
    ],
)
def test_plain_http_is_refused_beyond_loopback(host: str, https: dict[str, Any], refused: bool) -> None:
    if refused:
        with pytest.raises(ValidationError, match="refusing to serve plain HTTP on"):
            CommandSettings(host=host, https=https)
    else:
        assert CommandSettings(host=host, https=https).host == host


def test_behind_a_proxy_devices_need_the_proxys_address_for_packages() -> None:
    proxied = {"https": {"behind_tls_proxy": True}, "watchlists": {"signing_key_file": "cc.pem"}}
    with pytest.raises(ValidationError, match=r"set watchlists\.public_url"):
        CommandSettings(**proxied)
    public = {"public_url": "https://vigil.example.police.uk", "signing_key_file": "cc.pem"}
    assert CommandSettings(**{**proxied, "watchlists": public}).public_url() == "https://vigil.example.police.uk"


def test_a_certificate_needs_its_key() -> None:
    with pytest.raises(ValidationError, match="both certificate_file and key_file"):
        HttpsSettings(certificate_file=Path("c.pem"))


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (["--host", "0.0.0.0"], "refusing to serve plain HTTP on 0.0.0.0"),
        (["--host", "0.0.0.0", "--certificate", "c.pem"], "both certificate_file and key_file"),
    ],
)
def test_vigil_serve_refuses_plain_http_beyond_loopback(tmp_path: Path, options: list[str], message: str) -> None:
    env = {key: value for key, value in os.environ.items() if not key.startswith("VIGIL_")}
    result = CliRunner(env=env).invoke(create_cli(), ["serve", "--data-dir", str(tmp_path), *options])
    assert result.exit_code == 2
    assert message in result.stderr


def test_behind_a_tls_proxy_every_request_counts_as_https(settings: CommandSettings, accounts: CreateAccount) -> None:
    proxied = settings.model_copy(update={"https": HttpsSettings(behind_tls_proxy=True)})
    operator = accounts("op-1", Role.OPERATOR)
    with serving(create_app(proxied), proxied) as url, _client(url, verify=True) as page:
        signed_in = page.post(LOGIN, json={"username": "op-1", "password": operator.password})
        # A client keeps a Secure cookie off plain HTTP; the proxy's hop to the server is plain HTTP, and the
        # browser's hop to the proxy HTTPS: send it as the proxy would pass it on.
        cookie = {"Cookie": f"vigil_session={signed_in.cookies['vigil_session']}"}
        host = url.removeprefix("http://")
        from_http_page = page.post("/api/v1/auth/logout", headers={"Origin": f"http://{host}", **cookie})
        from_https_page = page.post("/api/v1/auth/logout", headers={"Origin": f"https://{host}", **cookie})
    assert url.startswith("http://")  # the proxy's hop to the server
    assert "Secure" in {part.strip() for part in signed_in.headers["set-cookie"].split(";")}
    assert signed_in.headers["strict-transport-security"] == "max-age=31536000"
    assert (from_http_page.status_code, from_https_page.status_code) == (403, 204)


def test_over_plain_http_on_loopback_there_is_no_hsts(settings: CommandSettings) -> None:
    with serving(create_app(settings), settings) as url, _client(url, verify=True) as client:
        answer = client.get("/api/v1/openapi.json")
    assert answer.status_code == 200
    assert "strict-transport-security" not in answer.headers


def test_vigil_serve_answers_over_https_with_its_certificate(tmp_path: Path, certificates: ForceCertificates) -> None:
    tls = ["--certificate", str(certificates.certificate_file), "--key", str(certificates.key_file)]
    trusted = ssl.create_default_context(cafile=certificates.ca_file)
    with vigil_serve("--data-dir", str(tmp_path / "data"), *tls, https=trusted) as served:
        port = served.port
        answer = httpx.get(f"https://127.0.0.1:{port}/api/v1/openapi.json", verify=trusted, timeout=60)
        with pytest.raises(httpx.ConnectError):
            httpx.get(f"https://127.0.0.1:{port}/api/v1/openapi.json", timeout=5)  # the system's CAs only
        with pytest.raises(httpx.TransportError):
            httpx.get(f"http://127.0.0.1:{port}/api/v1/openapi.json", timeout=5)  # no plain HTTP on that port
    assert answer.status_code == 200
    assert f"Uvicorn running on https://127.0.0.1:{port}" in served.output


def test_the_demo_stays_on_loopback() -> None:
    result = CliRunner().invoke(create_cli(), ["demo", "--host", "0.0.0.0", "--duration", "1"])
    assert result.exit_code == 2
    assert "the demo serves plain HTTP, so it listens on loopback only" in result.stderr
