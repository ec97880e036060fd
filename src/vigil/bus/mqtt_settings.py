"""How to reach the MQTT broker: the settings of :class:`~vigil.bus.mqtt.MqttBus`, nested in each process's own.

Secure by default: a connection is TLS (``tls``, checked against the force's CA) unless the broker is on this
machine's loopback, or plaintext is allowed explicitly (``allow_plaintext``) for a network the force trusts.
Device tokens and face crops travel on this link.
"""

import ipaddress
import uuid
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, model_validator

MQTT_PORT = 1883
MQTTS_PORT = 8883


class MqttTlsSettings(BaseModel):
    """TLS to the broker: its certificate is verified against a CA (and its host name checked); TLS 1.2 at least."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    ca_file: Path = Field(
        description="PEM file of the CA the broker's certificate must be issued by (the force's ca.crt); only it "
        "is trusted, not the system's CAs."
    )
    certificate_file: Path | None = Field(
        None, description="This client's certificate (PEM), for a broker that requires client certificates."
    )
    key_file: Path | None = Field(None, description="This client's private key (PEM), with certificate_file.")

    @model_validator(mode="after")
    def _certificate_needs_key(self) -> "MqttTlsSettings":
        if (self.certificate_file is None) != (self.key_file is None):
            raise ValueError("a client certificate and its key go together: give both or neither")
        return self


class MqttWill(BaseModel):
    """The will: published by the broker, at QoS 1, not retained, once this client's connection ends without DISCONNECT.

    A normal stop (:meth:`vigil.bus.mqtt.MqttBus.stop`) sends DISCONNECT, and the broker discards the will.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    topic: str = Field(min_length=1, max_length=65_535, description="Where the will is published.")
    payload: bytes = Field(max_length=65_535, description="What it says.")
    message_expiry_s: int | None = Field(
        None, ge=1, le=2**32 - 1, description="How long the broker offers the will to subscribers away, seconds."
    )


class MqttSettings(BaseModel):
    """How to reach the MQTT broker."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: Literal["mqtt"] = "mqtt"
    host: str = Field("127.0.0.1", description="Broker host name or address; with TLS, the name its certificate holds.")
    port: int = Field(MQTT_PORT, ge=1, le=65535, description="Broker port (default 1883, or 8883 with TLS).")
    tls: MqttTlsSettings | None = Field(None, description="TLS to the broker; None is plaintext.")
    allow_plaintext: bool = Field(
        False,
        description="Allow plaintext MQTT to a broker that is not on loopback: device tokens and face crops then "
        "cross the network in clear. Only for a network the force trusts end to end.",
    )
    client_id: str = Field(
        default_factory=lambda: f"vigil-{uuid.uuid4().hex[:12]}",
        min_length=1,
        max_length=128,
        description="Stable per process role: the broker keeps this client's session and queued messages.",
    )
    username: str | None = Field(None, description="Broker user name.")
    password: SecretStr | None = Field(None, description="Broker password.")
    session_expiry_s: int = Field(
        24 * 3600,
        ge=0,
        le=2**32 - 1,
        description="How long the broker keeps the session while away, seconds: its subscriptions (a share of a "
        "shared subscription among them) and the QoS 1 messages queued for it.",
    )
    end_session_on_stop: bool = Field(
        False,
        description="End the session when stopped normally (DISCONNECT with session expiry 0): the broker drops what "
        "it holds for this client and gives its share of shared subscriptions to the other members at once. A "
        "command-centre server does; a device keeps its session, so that acks sent while it is off wait for it.",
    )
    will: MqttWill | None = Field(None, description="What the broker publishes if the connection is lost.")
    keepalive_s: int = Field(30, ge=5, le=3600, description="MQTT keep-alive interval, seconds.")
    receive_maximum: int = Field(
        10_000,
        ge=1,
        le=65_535,
        description="Most QoS 1 messages the broker may send this client before it acknowledges any (MQTT 5).",
    )
    connect_timeout_s: float = Field(
        10.0, gt=0, le=120, description="How long to wait for the broker at start (TCP, TLS and MQTT), seconds."
    )
    publish_timeout_s: float = Field(10.0, gt=0, le=120, description="How long to wait for a PUBACK.")

    @model_validator(mode="before")
    @classmethod
    def _tls_port(cls, data: Any) -> Any:
        if isinstance(data, dict) and data.get("tls") is not None and data.get("port") is None:
            return {**data, "port": MQTTS_PORT}
        return data

    @model_validator(mode="after")
    def _password_needs_username(self) -> "MqttSettings":
        if self.password is not None and self.username is None:
            raise ValueError("a password was given without a username")
        return self

    @model_validator(mode="after")
    def _plaintext_only_on_loopback(self) -> "MqttSettings":
        if self.tls is None and not self.allow_plaintext and not is_loopback(self.host):
            raise ValueError(
                f"plaintext MQTT to {self.host}:{self.port} would carry device tokens and face crops in clear: "
                "connect with TLS (mqtts://, and the force's CA file to verify the broker), or allow plaintext "
                "explicitly on a network you trust"
            )
        return self

    @property
    def address(self) -> str:
        """``host:port``, for messages."""
        return f"{self.host}:{self.port}"


def is_loopback(host: str) -> bool:
    """Whether ``host`` names this machine's loopback: ``localhost`` or a loopback address (no lookup is made)."""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False
