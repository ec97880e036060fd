"""The generated broker config's TLS listener on a real Mosquitto, and what a relay on the wire can read.

A relay between a device and the broker, and another between the broker and the command centre, record every
byte while the device sends an alert with a face crop under its token. Over TLS they read none of it; the same run
in plaintext (the finding: "a relay on the wire read a device token, face crops…") shows the relay would see it.
"""

import base64
import io
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from PIL import Image
from typer.testing import CliRunner

from tests.command.conftest import Register
from tests.command.events import alert
from tests.support.inbox import Inbox
from tests.support.mosquitto import Broker, free_port, start_mosquitto
from tests.support.relay import Relay
from vigil.bus.errors import BusTlsFailed
from vigil.bus.mqtt import MqttBus
from vigil.bus.mqtt_settings import MqttSettings, MqttTlsSettings
from vigil.cli.app import create_app
from vigil.command.broker.files import Listener, ListenerTls
from vigil.command.broker.schemas import BrokerConfig
from vigil.command.broker.service import read_secret, write_broker_config
from vigil.command.database import Database
from vigil.events import encode_event, topic_for
from vigil.pki import Authority, create_authority, issue_certificate

pytestmark = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)

SUBJECT = "subject-3f9c2a71"


@dataclass
class Deployment:
    broker: Broker
    files: BrokerConfig
    authority: Authority
    directory: Path

    def settings(self, *, port: int, user: str, password: str, tls: bool, **fields: object) -> MqttSettings:
        return MqttSettings(
            host="127.0.0.1",
            port=port,
            tls=MqttTlsSettings(ca_file=self.authority.certificate_file, **fields) if tls else None,  # type: ignore[arg-type]
            client_id=user,
            username=user,
            password=password,
            session_expiry_s=0,
            connect_timeout_s=5,
        )


def deploy(database: Database, tmp_path: Path, *, tls: bool, require_certificate: bool = False) -> Deployment:
    """A CA, the broker's certificate, the generated broker files (a TLS listener or a plaintext one), Mosquitto."""
    authority = create_authority(tmp_path / "pki", name="Test Force CA")
    issued = issue_certificate(authority, tmp_path / "pki", name="broker", hosts=["127.0.0.1"], purpose="server")
    listener_tls = ListenerTls(
        ca_file=authority.certificate_file,
        certificate_file=issued.certificate_file,
        key_file=issued.key_file,
        require_certificate=require_certificate,
    )
    listener = Listener(port=free_port(), address="127.0.0.1", tls=listener_tls if tls else None)
    with database.session() as session:
        files = write_broker_config(session=session, directory=tmp_path / "broker", listener=listener)
    (tmp_path / "mosquitto").mkdir()
    broker = start_mosquitto(tmp_path / "mosquitto", auth_config=files.config_file)
    return Deployment(broker=broker, files=files, authority=authority, directory=tmp_path)


def face_crop(testdata: Path) -> bytes:
    """A real face crop, as a camera sends it (a JPEG of the face only)."""
    photo = Image.open(testdata / "faces" / "obama.jpg").convert("RGB")
    width, height = photo.size
    side = min(width, height) // 2
    crop = photo.crop((width // 2 - side // 2, height // 4, width // 2 + side // 2, height // 4 + side))
    out = io.BytesIO()
    crop.save(out, format="JPEG", quality=90)
    return out.getvalue()


@pytest.fixture
def relays() -> Iterator[list[Relay]]:
    opened: list[Relay] = []
    yield opened
    for relay in opened:
        relay.close()


@pytest.mark.parametrize("tls", [True, False], ids=["tls", "plaintext"])
def test_a_relay_on_the_wire_reads_no_token_crop_or_subject_over_tls(
    database: Database, register: Register, tmp_path: Path, testdata: Path, relays: list[Relay], tls: bool
) -> None:
    token = register("cam-1", "A-12")
    deployment = deploy(database, tmp_path, tls=tls)
    server_secret = read_secret(deployment.files.servers[0].secret_file)
    device_relay, server_relay = (
        Relay(("127.0.0.1", deployment.broker.port)),
        Relay(("127.0.0.1", deployment.broker.port)),
    )
    relays += [device_relay, server_relay]
    crop = face_crop(testdata)
    event = alert(crop, device_id="cam-1", unit_id="A-12", subject_id=SUBJECT)
    payload = encode_event(event)
    try:
        server = MqttBus(
            deployment.settings(port=server_relay.port, user="vigil-command", password=server_secret, tls=tls)
        )
        inbox = Inbox()
        server.subscribe("vigil/v1/devices/+/up/#", inbox)
        device = MqttBus(deployment.settings(port=device_relay.port, user="cam-1", password=token, tls=tls))
        device.publish(topic_for(event), payload)
        assert inbox.wait_for(1) == [payload]  # the alert, crop and all, went device → broker → server
        device.stop()
        server.stop()
    finally:
        deployment.broker.stop()
    encoded_crop = base64.b64encode(crop)
    secrets = {
        "device token": token.encode(),
        "server password": server_secret.encode(),
        "subject id": SUBJECT.encode(),
        "face crop (base64, as in the event)": encoded_crop[len(encoded_crop) // 2 :][:64],
        "face crop (raw)": crop[len(crop) // 2 :][:48],
    }
    device_wire, server_wire = device_relay.captured(), server_relay.captured()
    assert min(len(device_wire), len(server_wire)) > len(payload)  # everything went through the relays
    readable = {name for name, needle in secrets.items() if needle in device_wire or needle in server_wire}
    if tls:
        assert readable == set()
    else:  # the check can fail: in plaintext the relay reads every secret (the crop travels as base64)
        assert readable == {"device token", "server password", "subject id", "face crop (base64, as in the event)"}


def test_a_generated_listener_that_requires_certificates_lets_in_only_a_device_with_one(
    database: Database, register: Register, tmp_path: Path
) -> None:
    token = register("cam-1", "A-12")
    deployment = deploy(database, tmp_path, tls=True, require_certificate=True)
    device = issue_certificate(deployment.authority, tmp_path / "cam-1", name="cam-1", purpose="client")
    port = deployment.broker.port
    try:
        with pytest.raises(BusTlsFailed, match="requires a client certificate"):
            MqttBus(deployment.settings(port=port, user="cam-1", password=token, tls=True))
        bus = MqttBus(
            deployment.settings(
                port=port,
                user="cam-1",
                password=token,
                tls=True,
                certificate_file=device.certificate_file,
                key_file=device.key_file,
            )
        )
        bus.publish("vigil/v1/devices/cam-1/up/position", b"{}")  # accepted: the PUBACK came back as Success
        bus.stop()
    finally:
        deployment.broker.stop()


def _run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(create_app(), list(args))
    return result.exit_code, result.stdout, result.stderr


def test_broker_config_writes_a_tls_listener_and_warns_of_a_plaintext_one(database_url: str, tmp_path: Path) -> None:
    authority = create_authority(tmp_path / "pki", name="Test Force CA")
    issued = issue_certificate(authority, tmp_path / "pki", name="broker", hosts=["broker.example"], purpose="server")
    out = tmp_path / "broker"
    tls_options = ["--tls-ca", str(authority.certificate_file), "--tls-certificate", str(issued.certificate_file)]
    tls_options += ["--tls-key", str(issued.key_file), "--require-client-certificate"]
    code, _, err = _run("devices", "broker-config", "--db", database_url, "--out", str(out), *tls_options)
    assert (code, "warning" in err) == (0, False)
    lines = [line for line in (out / "mosquitto-vigil.conf").read_text().splitlines() if not line.startswith("#")]
    listener = lines.index("listener 8883")
    assert lines[listener + 1 : listener + 6] == [
        f"cafile {authority.certificate_file.resolve()}",
        f"certfile {issued.certificate_file.resolve()}",
        f"keyfile {issued.key_file.resolve()}",
        "tls_version tlsv1.2",
        "require_certificate true",
    ]

    code, _, err = _run("devices", "broker-config", "--db", database_url, "--out", str(out), "--listener-port", "1883")
    assert code == 0
    assert "warning: the listener on port 1883 is plaintext on every interface" in " ".join(err.split())
    code, _, err = _run(
        "devices", "broker-config", "--db", database_url, "--out", str(out), "--tls-ca", str(authority.certificate_file)
    )
    assert (code, "needs --tls-ca, --tls-certificate and --tls-key" in " ".join(err.replace("│", " ").split())) == (
        2,
        True,
    )
