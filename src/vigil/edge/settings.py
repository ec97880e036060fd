"""Settings of the edge agent process, and the one place that builds a running agent from them."""

from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from vigil.bus.mqtt_settings import MqttSettings
from vigil.edge.battery import POWER_SUPPLY
from vigil.edge.recognition import RecognitionSettings
from vigil.vision.settings import BlazeFaceDetectorSettings, VisionSettings
from vigil.web.tile_template import checked_tile_template

# Trafalgar Square, London, then along the Strand and back: the default simulated beat.
DEFAULT_ROUTE = [(51.50809, -0.12804), (51.50927, -0.12493), (51.51058, -0.12086), (51.50809, -0.12804)]


class SimulatedRouteSettings(BaseModel):
    """A simulated patrol along a route (no GPS hardware)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: Literal["sim"] = "sim"
    waypoints: list[tuple[float, float]] = Field(
        default_factory=lambda: list(DEFAULT_ROUTE), min_length=2, description="(lat, lon) points, degrees."
    )
    speed_mps: float = Field(1.4, gt=0, le=70, description="Walking 1.4 m/s, driving 10–15 m/s.")


class NmeaFileSettings(BaseModel):
    """Replay an NMEA 0183 log."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: Literal["nmea"] = "nmea"
    path: Path
    loop: bool = Field(False, description="Start again at the end of the log.")


class GpsdSettings(BaseModel):
    """The gpsd daemon of the device's GPS receiver."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: Literal["gpsd"] = "gpsd"
    host: str = "127.0.0.1"
    port: int = Field(2947, ge=1, le=65535)


PositionSettings = Annotated[SimulatedRouteSettings | NmeaFileSettings | GpsdSettings, Field(discriminator="kind")]


class SysfsBatterySettings(BaseModel):
    """The battery Linux reports under /sys/class/power_supply (unknown on a device without one)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: Literal["sysfs"] = "sysfs"
    root: Path = Field(POWER_SUPPLY, description="Where the power supplies are listed.")


class SimulatedBatterySettings(BaseModel):
    """A simulated battery that drains steadily (simulated devices and demos)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: Literal["sim"] = "sim"
    start_pct: float = Field(100.0, ge=0, le=100, description="Charge at start, %.")
    drain_pct_per_h: float = Field(8.0, ge=0, le=100, description="Percentage points lost per hour.")


BatterySettings = Annotated[SysfsBatterySettings | SimulatedBatterySettings, Field(discriminator="kind")]


class ScreenSettings(BaseModel):
    """The officer's handset screen: a page the agent serves on the device itself, working with no link."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    host: str = Field("127.0.0.1", min_length=1, description="Address to listen on; loopback keeps it on the device.")
    port: int = Field(8081, ge=0, le=65535, description="Port to listen on; 0 takes any free port.")
    tile_url: str | None = Field(
        None,
        max_length=2000,
        description="XYZ map tiles, http(s)://…/{z}/{x}/{y}.png (a tile server on the device); none draws a grid.",
    )
    tile_attribution: str = Field("", max_length=500, description="Credit for the tiles, shown on the map.")
    max_zoom: int = Field(19, ge=1, le=24, description="The deepest zoom level the tiles offer.")
    max_alerts: int = Field(20, ge=1, le=500, description="Alert cards kept on the screen, newest first.")

    @field_validator("tile_url")
    @classmethod
    def _xyz_template(cls, value: str | None) -> str | None:
        return checked_tile_template(value)


class EdgeSettings(BaseSettings):
    """Everything one body camera's agent needs. Environment: ``VIGIL_EDGE_…``, nested with ``__``."""

    model_config = SettingsConfigDict(env_prefix="VIGIL_EDGE_", env_nested_delimiter="__", extra="forbid")

    device_id: str = Field("cam-1", pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$", description="This device.")
    unit_id: str = Field("unit-1", min_length=1, max_length=64, description="The officer's unit (call sign).")
    data_dir: Path = Field(Path(".vigil/edge"), description="Outbox and state live here.")
    source: str = Field(description="Video: a file, a folder of images, a camera index or an rtsp/http URL.")
    realtime: bool = Field(True, description="Pace files like a live camera and drop frames when behind.")
    watchlist: Path = Field(description="A watchlist package (.vwl) or a local watchlist file (SQLite).")
    device_key: Path | None = Field(None, description="This device's key file; needed for a package.")
    verify_key: Path | None = Field(None, description="The command centre's public key; needed for a package.")
    bus: MqttSettings | None = Field(None, description="The command centre's broker; None works offline.")
    server_ca_file: Path | None = Field(
        None,
        description=(
            "The force's CA certificate (PEM) that the command centre's HTTPS certificate must chain to, its host "
            "name checked (watchlist downloads); None: the system's trusted CAs."
        ),
    )
    allow_plain_http: bool = Field(
        False,
        description=(
            "Download packages over plain http:// from another machine too (the token and package cross the "
            "network readable: a test network only). Loopback is always allowed."
        ),
    )
    position: PositionSettings = Field(default_factory=SimulatedRouteSettings, description="Where positions come from.")
    vision: VisionSettings = Field(
        default_factory=lambda: VisionSettings(detector=BlazeFaceDetectorSettings()),
        description="Detector and embedder; BlazeFace by default, for video.",
    )
    recognition: RecognitionSettings = Field(default_factory=RecognitionSettings)
    position_interval_s: float = Field(5.0, ge=0.5, le=3600, description="Seconds between positions.")
    status_interval_s: float = Field(60.0, ge=1, le=86_400, description="Seconds between device statuses.")
    events_out: Path | None = Field(None, description="Also write every event here, one JSON line each.")
    battery: BatterySettings = Field(default_factory=SysfsBatterySettings, description="Where the charge is read.")
    screen: ScreenSettings | None = Field(None, description="Serve the handset screen; None: console alerts only.")
