"""What a machine on the path between a client and the command centre reads: nothing of value over HTTPS.

A TCP relay between the clients and the server records every byte both ways while an operator signs in (their
password), uses the session (its token), and a device posts an alert with a face crop (its bearer token). Over
HTTPS none of them is in the capture; over plain HTTP, the same run, every one is: the relay does see the traffic.
"""

import json
import ssl
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from tests.command.conftest import CreateAccount, Register
from tests.command.events import alert
from tests.command.https_server import force_certificates, serving
from tests.support.relay import Relay
from vigil.command.accounts.models import Role
from vigil.command.app import create_app
from vigil.command.settings import CommandSettings, HttpsSettings
from vigil.events import encode_event


@pytest.fixture
def database_url(tmp_path: Path) -> str:
    """The wire does not depend on the database: SQLite only."""
    return f"sqlite:///{tmp_path / 'command.sqlite'}"


@contextmanager
def relayed(url: str) -> Iterator[tuple[Relay, str]]:
    """A relay in front of the server at ``url``; yields it and the URL to reach the server through it."""
    scheme, _, address = url.partition("://")
    host, _, port = address.rpartition(":")
    relay = Relay((host, int(port)))
    try:
        yield relay, f"{scheme}://127.0.0.1:{relay.port}"
    finally:
        relay.close()


@pytest.mark.parametrize("transport", ["https", "http"])
def test_nothing_of_value_crosses_the_wire_in_clear_over_https(
    transport: str,
    settings: CommandSettings,
    accounts: CreateAccount,
    register: Register,
    probe_jpeg: bytes,
    tmp_path: Path,
) -> None:
    verify: ssl.SSLContext | bool = True
    if transport == "https":
        force = force_certificates(tmp_path / "pki")
        https = HttpsSettings(certificate_file=force.certificate_file, key_file=force.key_file)
        settings = settings.model_copy(update={"https": https})
        verify = ssl.create_default_context(cafile=force.ca_file)
    operator = accounts("op-1", Role.OPERATOR)
    device_token = register("cam-1", "A-12")
    event = alert(probe_jpeg)
    body = encode_event(event)
    crop_in_json: str = json.loads(body)["probe_jpeg"]

    with serving(create_app(settings), settings) as url, relayed(url) as (relay, through):
        with httpx.Client(base_url=through, verify=verify, timeout=60) as browser:
            signed_in = browser.post("/api/v1/auth/login", json={"username": "op-1", "password": operator.password})
            session_token = signed_in.cookies["vigil_session"]
            me = browser.get("/api/v1/auth/me")  # the session cookie goes back with every request
        with httpx.Client(base_url=through, verify=verify, timeout=60) as device:
            posted = device.post("/api/v1/events", content=body, headers={"Authorization": f"Bearer {device_token}"})
        capture = relay.captured()

    assert (signed_in.status_code, me.status_code, posted.status_code) == (200, 200, 200)
    assert me.json()["username"] == "op-1"
    secrets = {
        "password": operator.password.encode(),
        "session token": session_token.encode(),
        "device token": device_token.encode(),
        "face crop (base64, as a device sends it)": crop_in_json.encode(),
    }
    in_clear = {name for name, secret in secrets.items() if secret in capture}
    if transport == "https":
        assert in_clear == set()
        assert len(capture) > len(body)  # the relay did carry the traffic, encrypted
    else:
        assert in_clear == set(secrets)
