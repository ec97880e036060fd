"""The MQTT broker a command connects to: its URL (``mqtts://`` or ``mqtt://``) and the TLS options beside it.

``vigil serve``, ``vigil edge run`` and the demo read a broker the same way. TLS is the default outside loopback:
plaintext ``mqtt://`` to another machine is refused unless ``--allow-plaintext-bus`` says so on purpose.
"""

import urllib.parse
from pathlib import Path
from typing import Annotated

import typer

from vigil.bus.mqtt_settings import MQTT_PORT, MQTTS_PORT, MqttSettings, MqttTlsSettings, is_loopback

BusCaOption = Annotated[
    Path | None,
    typer.Option(
        "--bus-ca",
        help="The force's CA certificate (ca.crt of `vigil pki init`): an mqtts:// broker's certificate must be "
        "issued by it, for the host in the URL.",
    ),
]
BusCertificateOption = Annotated[
    Path | None,
    typer.Option(
        "--bus-certificate", help="This client's certificate, for a broker that requires one (`vigil pki client`)."
    ),
]
BusKeyOption = Annotated[Path | None, typer.Option("--bus-key", help="The key of --bus-certificate.")]
AllowPlaintextBusOption = Annotated[
    bool,
    typer.Option(
        "--allow-plaintext-bus",
        help="Allow plaintext mqtt:// to a broker that is not on loopback: device tokens and face crops then cross "
        "the network in clear. Only on a network you trust end to end.",
    ),
]


def broker_settings(
    url: str,
    *,
    client_id: str,
    ca_file: Path | None = None,
    certificate_file: Path | None = None,
    key_file: Path | None = None,
    allow_plaintext: bool = False,
) -> MqttSettings:
    """MQTT settings from ``mqtts://[user[:password]@]host[:port]`` (port 8883) or ``mqtt://…`` (port 1883).

    Args:
        url: the broker.
        client_id: the MQTT client id.
        ca_file: the CA that the broker's certificate must be issued by; needed with mqtts://.
        certificate_file: a client certificate, with ``key_file``, for a broker that requires one.
        key_file: its key.
        allow_plaintext: allow mqtt:// to a broker that is not on loopback.

    Raises:
        typer.BadParameter: not such a URL; mqtts:// without a CA, or TLS files with mqtt://; a certificate
            without its key; plaintext to another machine without ``allow_plaintext``.
    """
    parsed = urllib.parse.urlsplit(url)
    if parsed.scheme not in ("mqtts", "mqtt") or not parsed.hostname:
        raise typer.BadParameter(f"{url!r} is not mqtts://host[:port] (TLS) or mqtt://host[:port] (plaintext)")
    tls = None
    if parsed.scheme == "mqtts":
        if ca_file is None:
            raise typer.BadParameter(
                "mqtts:// needs --bus-ca: the force's CA certificate, which the broker's certificate must be issued by"
            )
        if (certificate_file is None) != (key_file is None):
            raise typer.BadParameter("--bus-certificate and --bus-key go together: give both or neither")
        tls = MqttTlsSettings(ca_file=ca_file, certificate_file=certificate_file, key_file=key_file)
    elif ca_file is not None or certificate_file is not None or key_file is not None:
        raise typer.BadParameter("--bus-ca, --bus-certificate and --bus-key are for TLS: use mqtts://host[:port]")
    elif not allow_plaintext and not is_loopback(parsed.hostname):
        raise typer.BadParameter(
            f"mqtt://{parsed.hostname} is plaintext: device tokens and face crops would cross the network in clear. "
            "Use mqtts:// with --bus-ca (docs/deploy.md, Certificates and TLS), or --allow-plaintext-bus on a "
            "network you trust end to end"
        )
    return MqttSettings(
        host=parsed.hostname,
        port=parsed.port or (MQTTS_PORT if tls is not None else MQTT_PORT),
        tls=tls,
        allow_plaintext=allow_plaintext,
        client_id=client_id,
        username=urllib.parse.unquote(parsed.username) if parsed.username else None,
        password=urllib.parse.unquote(parsed.password) if parsed.password else None,
    )
