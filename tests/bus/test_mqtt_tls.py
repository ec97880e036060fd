"""MQTT over TLS on a real Mosquitto, with certificates from `vigil.pki`: what is trusted works, nothing else does.

The client verifies the broker against the force's CA and the host name it connected to; a broker may also
require the client's certificate. Every failure is raised at once, naming the broker and the reason.
"""

import logging
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from pydantic import ValidationError

from tests.support.inbox import Inbox
from tests.support.mosquitto import Broker, start_mosquitto
from vigil.bus.errors import BrokerCertificateRejected, BusTlsFailed, BusTlsFilesUnusable, BusUnavailable
from vigil.bus.mqtt import MqttBus
from vigil.bus.mqtt_settings import MqttSettings, MqttTlsSettings
from vigil.pki import Authority, create_authority, issue_certificate

LOOPBACK_HOSTS = ["localhost", "127.0.0.1"]


@dataclass
class TlsBroker:
    broker: Broker
    authority: Authority

    def settings(
        self, host: str = "localhost", *, tls: MqttTlsSettings | None = None, **fields: object
    ) -> MqttSettings:
        return MqttSettings(
            host=host,
            port=self.broker.port,
            tls=tls or MqttTlsSettings(ca_file=self.authority.certificate_file),
            connect_timeout_s=5,
            **fields,  # type: ignore[arg-type]
        )


def start_tls_broker(
    directory: Path, authority: Authority, *, hosts: list[str], require_certificate: bool = False
) -> TlsBroker:
    """Mosquitto with one TLS listener on a free loopback port, its certificate from ``authority``."""
    issued = issue_certificate(authority, directory / "broker-pki", name="broker", hosts=hosts, purpose="server")
    tls = (
        f"cafile {authority.certificate_file}\n"
        f"certfile {issued.certificate_file}\n"
        f"keyfile {issued.key_file}\n"
        "tls_version tlsv1.2\n"
        f"require_certificate {'true' if require_certificate else 'false'}\n"
    )
    (directory / "mosquitto").mkdir()
    return TlsBroker(start_mosquitto(directory / "mosquitto", extra_config=tls), authority)


@pytest.fixture
def authority(tmp_path: Path) -> Authority:
    return create_authority(tmp_path / "ca", name="Test Force CA")


@pytest.fixture
def tls_broker(tmp_path: Path, authority: Authority) -> Iterator[TlsBroker]:
    started = start_tls_broker(tmp_path, authority, hosts=LOOPBACK_HOSTS)
    yield started
    if started.broker.process.poll() is None:
        started.broker.stop()


@pytest.fixture
def opened() -> Iterator[list[MqttBus]]:
    buses: list[MqttBus] = []
    yield buses
    for bus in buses:
        bus.stop()


def _wait_until(condition: Callable[[], bool], timeout_s: float = 20) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("timed out")
        time.sleep(0.02)


def test_the_bus_carries_messages_both_ways_over_tls(tls_broker: TlsBroker, opened: list[MqttBus]) -> None:
    subscriber = MqttBus(tls_broker.settings("localhost", client_id="server"))
    opened.append(subscriber)
    inbox = Inbox()
    subscriber.subscribe("t/#", inbox)
    publisher = MqttBus(tls_broker.settings("127.0.0.1"))  # the certificate names the address too
    opened.append(publisher)
    # Small messages many to a TLS record, and large ones over many records (a face crop's size and more).
    payloads = [f"{i:05d}".encode() * (40_000 if i % 50 == 7 else 20) for i in range(300)]
    publisher.publish_many([("t/a", p) for p in payloads])
    assert inbox.wait_for(300) == payloads

    # Queued while the subscriber is away, then handed over on resuming, in the same reads as the CONNACK.
    subscriber.stop()
    opened.remove(subscriber)
    later = [f"later {i}".encode() * 300 for i in range(200)]
    publisher.publish_many([("t/b", p) for p in later])
    resumed = MqttBus(tls_broker.settings("localhost", client_id="server"))
    opened.append(resumed)
    inbox_after = Inbox()
    resumed.subscribe("t/#", inbox_after)
    assert inbox_after.wait_for(200) == later


def test_the_connection_is_made_again_over_tls_after_the_broker_restarts(
    tls_broker: TlsBroker, opened: list[MqttBus]
) -> None:
    bus = MqttBus(tls_broker.settings(client_id="server"))
    opened.append(bus)
    inbox = Inbox()
    bus.subscribe("t/#", inbox)
    tls_broker.broker.stop()
    _wait_until(lambda: not bus.connected)
    tls_broker.broker.restart()
    _wait_until(lambda: bus.connected)
    publisher = MqttBus(tls_broker.settings())
    opened.append(publisher)
    publisher.publish("t/x", b"after the restart")
    assert inbox.wait_for(1) == [b"after the restart"]


@pytest.mark.parametrize(
    ("broker_hosts", "connect_to", "trusted_ca", "match"),
    [
        (LOOPBACK_HOSTS, "localhost", "another", r"not trusted \(.*\); it was not issued by the CA in .*ca\.crt"),
        (["broker.example"], "127.0.0.1", "ours", r"IP address mismatch.*does not name '127\.0\.0\.1'"),
        (["127.0.0.1"], "localhost", "ours", r"Hostname mismatch.*does not name 'localhost'"),
    ],
    ids=["another CA", "another address", "another name"],
)
def test_a_broker_certificate_that_is_not_trusted_is_refused_at_once(
    tmp_path: Path,
    authority: Authority,
    broker_hosts: list[str],
    connect_to: str,
    trusted_ca: str,
    match: str,
) -> None:
    started = start_tls_broker(tmp_path, authority, hosts=broker_hosts)
    another = create_authority(tmp_path / "another-ca", name="Another CA")
    ca_file = (authority if trusted_ca == "ours" else another).certificate_file
    try:
        with pytest.raises(BrokerCertificateRejected, match=match) as refused:
            MqttBus(started.settings(connect_to, tls=MqttTlsSettings(ca_file=ca_file)))
    finally:
        started.broker.stop()
    assert refused.value.broker == f"{connect_to}:{started.broker.port}"
    assert f"the MQTT broker at {connect_to}:{started.broker.port} presented a certificate" in str(refused.value)


def test_tls_to_a_plaintext_listener_and_plaintext_to_a_tls_one_say_what_is_wrong(
    tmp_path: Path, tls_broker: TlsBroker
) -> None:
    (tmp_path / "plain").mkdir()
    plain = start_mosquitto(tmp_path / "plain")
    try:
        with pytest.raises(
            BusTlsFailed, match=r"hung up on the TLS handshake \(.*\): is this its TLS listener \(8883\)"
        ):
            MqttBus(tls_broker.settings("localhost").model_copy(update={"port": plain.port}))
    finally:
        plain.stop()
    plaintext = tls_broker.settings().model_copy(update={"tls": None})
    with pytest.raises(BusUnavailable, match=r"if it is a TLS listener, connect with TLS: mqtts://"):
        MqttBus(plaintext)


def test_a_broker_that_requires_client_certificates_takes_ours_only(
    tmp_path: Path, authority: Authority, opened: list[MqttBus]
) -> None:
    started = start_tls_broker(tmp_path, authority, hosts=LOOPBACK_HOSTS, require_certificate=True)
    ours = issue_certificate(authority, tmp_path / "clients", name="cam-1", purpose="client")
    another_ca = create_authority(tmp_path / "another-ca", name="Another CA")
    theirs = issue_certificate(another_ca, tmp_path / "others", name="cam-1", purpose="client")
    ca_file = authority.certificate_file
    try:
        with pytest.raises(BusTlsFailed, match="requires a client certificate") as without:
            MqttBus(started.settings())
        assert without.value.broker == f"localhost:{started.broker.port}"
        with pytest.raises(BusTlsFailed, match=r"does not trust this client's certificate \(.*others/cam-1\.crt\)"):
            MqttBus(
                started.settings(
                    tls=MqttTlsSettings(
                        ca_file=ca_file, certificate_file=theirs.certificate_file, key_file=theirs.key_file
                    )
                )
            )
        tls = MqttTlsSettings(ca_file=ca_file, certificate_file=ours.certificate_file, key_file=ours.key_file)
        device = MqttBus(started.settings(tls=tls))
        opened.append(device)
        inbox = Inbox()
        device.subscribe("t/#", inbox)
        device.publish("t/1", b"with a client certificate")
        assert inbox.wait_for(1) == [b"with a client certificate"]
    finally:
        for bus in opened:
            bus.stop()
        opened.clear()
        started.broker.stop()


def test_tls_files_that_cannot_be_used_are_named(tmp_path: Path, authority: Authority) -> None:
    missing = tmp_path / "missing.crt"
    with pytest.raises(BusTlsFilesUnusable, match=r"cannot use .*missing\.crt as the broker's CA") as unusable:
        MqttBus(MqttSettings(tls=MqttTlsSettings(ca_file=missing)))
    assert unusable.value.path == missing
    one = issue_certificate(authority, tmp_path / "one", name="cam-1", purpose="client")
    other = issue_certificate(authority, tmp_path / "other", name="cam-1", purpose="client")
    mismatched = MqttTlsSettings(
        ca_file=authority.certificate_file, certificate_file=one.certificate_file, key_file=other.key_file
    )
    with pytest.raises(BusTlsFilesUnusable, match=r"cannot use the client certificate .* with the key"):
        MqttBus(MqttSettings(tls=mismatched))


@pytest.mark.parametrize(
    ("fields", "error"),
    [
        ({"host": "broker.example"}, "plaintext MQTT to broker.example:1883 would carry device tokens"),
        ({"host": "10.0.0.5", "port": 1884}, "plaintext MQTT to 10.0.0.5:1884"),
        ({"host": "broker.example", "allow_plaintext": True}, None),
        ({"host": "localhost"}, None),
        ({"host": "::1"}, None),
        ({"host": "127.0.0.2"}, None),
        ({"host": "broker.example", "tls": {"ca_file": "ca.crt", "certificate_file": "c.crt"}}, "go together"),
    ],
)
def test_plaintext_is_refused_beyond_loopback_unless_allowed(fields: dict[str, object], error: str | None) -> None:
    if error is None:
        MqttSettings(**fields)  # type: ignore[arg-type]
        return
    with pytest.raises(ValidationError, match=error):
        MqttSettings(**fields)  # type: ignore[arg-type]


def test_tls_settings_default_to_port_8883(tmp_path: Path) -> None:
    settings = MqttSettings(host="broker.example", tls=MqttTlsSettings(ca_file=tmp_path / "ca.crt"))
    assert (settings.port, MqttSettings(host="localhost").port) == (8883, 1883)


def test_a_broker_that_comes_back_with_an_untrusted_certificate_is_reported_as_an_error(
    tmp_path: Path, tls_broker: TlsBroker, opened: list[MqttBus], caplog: pytest.LogCaptureFixture
) -> None:
    bus = MqttBus(tls_broker.settings(client_id="server"))
    opened.append(bus)
    tls_broker.broker.stop()
    _wait_until(lambda: not bus.connected)
    impostor = create_authority(tmp_path / "impostor-ca", name="Impostor CA")
    issue_certificate(
        impostor, tmp_path / "broker-pki", name="broker", hosts=LOOPBACK_HOSTS, purpose="server", replace=True
    )
    with caplog.at_level(logging.WARNING, logger="vigil.bus.mqtt_connection"):
        tls_broker.broker.restart()
        _wait_until(lambda: any(r.levelno == logging.ERROR for r in caplog.records))
    failed = next(r for r in caplog.records if r.levelno == logging.ERROR)
    assert (failed.getMessage(), bus.connected) == ("mqtt.reconnect_failed", False)
    assert "presented a certificate that is not trusted" in failed.__dict__["reason"]
