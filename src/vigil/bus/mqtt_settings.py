"""How to reach the MQTT broker: the settings of :class:`~vigil.bus.mqtt.MqttBus`, nested in each process's own."""

import uuid
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, model_validator


class MqttSettings(BaseModel):
    """How to reach the MQTT broker."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: Literal["mqtt"] = "mqtt"
    host: str = Field("127.0.0.1", description="Broker host name or address.")
    port: int = Field(1883, ge=1, le=65535, description="Broker port.")
    client_id: str = Field(
        default_factory=lambda: f"vigil-{uuid.uuid4().hex[:12]}",
        min_length=1,
        max_length=128,
        description="Stable per process role: the broker keeps this client's session and queued messages.",
    )
    username: str | None = Field(None, description="Broker user name.")
    password: SecretStr | None = Field(None, description="Broker password.")
    session_expiry_s: int = Field(
        24 * 3600, ge=0, le=2**32 - 1, description="How long the broker keeps the session while away, seconds."
    )
    keepalive_s: int = Field(30, ge=5, le=3600, description="MQTT keep-alive interval, seconds.")
    receive_maximum: int = Field(
        10_000,
        ge=1,
        le=65_535,
        description="Most QoS 1 messages the broker may send this client before it acknowledges any (MQTT 5).",
    )
    connect_timeout_s: float = Field(10.0, gt=0, le=120, description="How long to wait for the broker at start.")
    publish_timeout_s: float = Field(10.0, gt=0, le=120, description="How long to wait for a PUBACK.")

    @model_validator(mode="after")
    def _password_needs_username(self) -> "MqttSettings":
        if self.password is not None and self.username is None:
            raise ValueError("a password was given without a username")
        return self
