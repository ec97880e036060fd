"""Shapes of devices in the API, the command line and the feed."""

import uuid
from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_serializer


class DeviceOut(BaseModel):
    """A registered device and its latest status (never its token)."""

    model_config = ConfigDict(frozen=True)

    device_id: str
    unit_id: str
    created_at: datetime
    revoked_at: datetime | None
    last_seen_at: datetime | None = Field(description="When an event from it was last accepted (UTC).")
    status_at: datetime | None = Field(description="When it last reported its status (device clock, UTC).")
    battery_pct: float | None
    free_storage_mb: float | None
    watchlist_version: int | None
    faces_processed: int | None
    last_error: str | None
    osmand: bool = Field(
        False, description="Whether it holds an OsmAnd secret: it may send positions as a Traccar Client."
    )


class DeviceList(BaseModel):
    """Every registered device, revoked ones included."""

    devices: list[DeviceOut]


class DeviceRegistration(BaseModel):
    """A new device and its machine token, which is shown this once and stored only as a hash.

    The token is masked in ``repr`` and logs, and written out in JSON: that is how it is handed over.
    """

    device: DeviceOut
    token: SecretStr = Field(description="Send as `Authorization: Bearer <token>`.")
    osmand_secret: SecretStr | None = Field(
        None, description="Given with --osmand: the last part of the tracker's server URL, /osmand/<secret>."
    )

    @field_serializer("token", "osmand_secret", when_used="json")
    def _reveal(self, secret: SecretStr | None) -> str | None:
        return secret.get_secret_value() if secret is not None else None


class OsmAndSecretIssued(BaseModel):
    """A device's new OsmAnd secret, shown this once and stored only as a hash (the old one stops working).

    The secret is masked in ``repr`` and logs, and written out in JSON: that is how it is handed over.
    """

    device: DeviceOut
    osmand_secret: SecretStr = Field(description="The last part of the tracker's server URL, /osmand/<secret>.")

    @field_serializer("osmand_secret", when_used="json")
    def _reveal(self, secret: SecretStr) -> str:
        return secret.get_secret_value()


class DeviceStatusReported(BaseModel):
    """Feed payload: a device reported its status."""

    model_config = ConfigDict(frozen=True)

    event_id: uuid.UUID
    device_id: str
    unit_id: str
    at: datetime
    battery_pct: float | None
    free_storage_mb: float | None
    watchlist_version: int | None
    faces_processed: int
    last_error: str | None
