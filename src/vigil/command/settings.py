"""Settings of the command-centre process. Environment: ``VIGIL_…``, nested sections with ``__``.

For example ``VIGIL_DATABASE_URL=postgresql://vigil@db/vigil``, ``VIGIL_BUS__KIND=mqtt``,
``VIGIL_BUS__HOST=broker`` or ``VIGIL_LIMITS__MAX_CLOCK_SKEW_S=120``.
"""

from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from vigil.bus.mqtt_settings import MqttSettings
from vigil.dispatch.settings import DispatchSettings
from vigil.events import MAX_EVENT_BYTES, MAX_PROBE_JPEG_BYTES

DATABASE_FILE = "command.sqlite"


class MemoryBusSettings(BaseModel):
    """The in-process bus: devices simulated in this process talk to the server without a broker."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: Literal["memory"] = "memory"


BusSettings = Annotated[MemoryBusSettings | MqttSettings, Field(discriminator="kind")]


class IngestionLimits(BaseModel):
    """What the server accepts from devices."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    max_clock_skew_s: float = Field(
        300.0, ge=0, le=86_400, description="An event stamped later than now plus this is rejected, seconds."
    )
    max_probe_bytes: int = Field(
        MAX_PROBE_JPEG_BYTES, ge=1024, le=MAX_PROBE_JPEG_BYTES, description="Largest probe crop accepted, bytes."
    )
    max_probe_side_px: int = Field(2048, ge=32, le=8192, description="Longest side of a probe crop, pixels.")
    max_request_bytes: int = Field(
        4 * 1024 * 1024, ge=1024, le=64 * 1024 * 1024, description="Largest HTTP request body, bytes."
    )
    max_batch_events: int = Field(500, ge=1, le=10_000, description="Most events in one HTTP request.")
    max_rejected_raw_bytes: int = Field(
        64 * 1024, ge=0, le=MAX_EVENT_BYTES, description="How much of a rejected event's bytes is kept, bytes."
    )


class FeedSettings(BaseModel):
    """The operators' live feed (``/api/v1/feed``)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    poll_s: float = Field(
        0.25,
        gt=0,
        le=10,
        description=(
            "How often the feed looks for rows other server processes committed, seconds (this process's own "
            "commits wake it at once)."
        ),
    )
    position_interval_s: float = Field(
        1.0,
        ge=0,
        le=60,
        description="Most one position per unit per WebSocket in this time (the latest wins), seconds.",
    )
    page_size: int = Field(500, ge=1, le=10_000, description="Rows read from the database at a time.")


class CommandSettings(BaseSettings):
    """Everything the command-centre server needs."""

    model_config = SettingsConfigDict(env_prefix="VIGIL_", env_nested_delimiter="__", extra="forbid")

    data_dir: Path = Field(Path(".vigil/command"), description="The embedded database and other state live here.")
    database_url: str | None = Field(
        None,
        description=(
            "SQLAlchemy URL: sqlite:///PATH or postgresql://USER@HOST/DB (PostGIS required). "
            f"Default: SQLite file {DATABASE_FILE} in data_dir."
        ),
    )
    bus: BusSettings | None = Field(None, description="Where devices publish; None takes events over HTTP only.")
    bus_group: str = Field(
        "vigil-command",
        pattern=r"^[A-Za-z0-9_-]{1,64}$",
        description="MQTT shared-subscription group: servers in one group share the devices' events.",
    )
    host: str = Field("127.0.0.1", description="Address the HTTP server listens on.")
    port: int = Field(8000, ge=1, le=65535, description="Port the HTTP server listens on.")
    osmand_enabled: bool = Field(
        True,
        description=(
            "Take positions in the OsmAnd protocol (Traccar Client) at /osmand and /. The protocol has no "
            "credentials: anyone who knows a registered device's id can move its unit."
        ),
    )
    limits: IngestionLimits = Field(default_factory=IngestionLimits)
    feed: FeedSettings = Field(default_factory=FeedSettings)
    dispatch: DispatchSettings = Field(default_factory=DispatchSettings)

    @field_validator("database_url")
    @classmethod
    def _known_database(cls, value: str | None) -> str | None:
        if value is None:
            return None
        try:
            url = make_url(value)
        except ArgumentError as exc:
            raise ValueError(f"{value!r} is not a database URL: {exc}") from exc
        if url.get_backend_name() in ("postgresql", "postgres"):
            # SQLAlchemy's default PostgreSQL driver is psycopg2; Vigil ships psycopg 3.
            return url.set(drivername="postgresql+psycopg").render_as_string(hide_password=False)
        if url.get_backend_name() == "sqlite":
            if url.database in (None, "", ":memory:"):
                raise ValueError("an in-memory SQLite database vanishes with its connection; give a file path")
            return value
        raise ValueError(f"{url.get_backend_name()!r} is not supported; use sqlite:///PATH or postgresql://…")

    def sqlalchemy_url(self) -> str:
        """The database URL, the default SQLite file in ``data_dir`` when none was given."""
        if self.database_url is not None:
            return self.database_url
        return f"sqlite:///{(self.data_dir / DATABASE_FILE).resolve()}"
