"""Settings of the command-centre process. Environment: ``VIGIL_…``, nested sections with ``__``.

For example ``VIGIL_DATABASE_URL=postgresql://vigil@db/vigil``, ``VIGIL_BUS__KIND=mqtt``,
``VIGIL_BUS__HOST=broker`` or ``VIGIL_LIMITS__MAX_CLOCK_SKEW_S=120``.
"""

from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from vigil.bus.mqtt_settings import MqttSettings
from vigil.dispatch.settings import DispatchSettings
from vigil.events import MAX_PROBE_JPEG_BYTES
from vigil.vision.settings import HogDetectorSettings, VisionSettings
from vigil.web.loopback import is_loopback
from vigil.web.tile_template import checked_tile_template

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
        1024,
        ge=0,
        le=16 * 1024,
        description="How much of a rejected event's bytes is kept (never an alert's face crop), bytes.",
    )
    max_rejected_events: int = Field(
        10_000,
        ge=10,
        le=1_000_000,
        description=(
            "Rejected events kept per transport (MQTT, HTTP, OsmAnd); beyond it the oldest go first, events. "
            "Unauthenticated OsmAnd requests can fill only their own transport's share."
        ),
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


class ReviewSettings(BaseModel):
    """The human review of every alert."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    escalation_s: float = Field(
        120.0,
        gt=0,
        le=86_400,
        description="An alert still unreviewed this long after it was raised is escalated to supervisors, seconds.",
    )


class RetentionSettings(BaseModel):
    """How long biometric images are kept (the alert rows and their decisions are kept for the report)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    dismissed_probe_s: float = Field(
        24 * 3600.0, ge=0, le=366 * 86_400, description="Face crops of dismissed alerts, after dismissal, seconds."
    )
    confirmed_probe_s: float = Field(
        31 * 86_400.0,
        ge=0,
        le=10 * 366 * 86_400,
        description="Face crops of confirmed alerts not held by an open incident, after confirmation, seconds.",
    )
    ended_subject_s: float = Field(
        31 * 86_400.0,
        ge=0,
        le=10 * 366 * 86_400,
        description="Templates (embeddings and face chips) of subjects removed or expired, after that, seconds.",
    )
    rejected_event_s: float = Field(
        7 * 86_400.0,
        ge=0,
        le=366 * 86_400,
        description="Rejected events (excerpts kept for diagnosis), after they arrived, seconds.",
    )
    batch: int = Field(500, ge=1, le=100_000, description="Images deleted per transaction.")


class WatchlistServerSettings(BaseModel):
    """The watchlists the command centre governs and the signed packages it makes for devices."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    signing_key_file: Path | None = Field(
        None,
        description=(
            "The centre's Ed25519 private key (PEM; `vigil watchlist keys` makes one). None: no packages are made "
            "until it is set."
        ),
    )
    key_wrap_file: Path | None = Field(
        None,
        description=(
            "A 32-byte key (64 hex characters; `vigil watchlist device-key` makes one) under which devices' package "
            "keys and people's second-factor secrets are stored encrypted in the database. Every server process "
            "shares the same file. None: no packages are made, and second-factor secrets are sealed under "
            "data_dir/secrets.key, made on first use."
        ),
    )
    public_url: str | None = Field(
        None,
        pattern=r"^https?://[^/\s]+(/[^\s]*)?$",
        description="Base URL devices download packages from; default http(s)://<host>:<port>.",
    )
    package_valid_for_s: float = Field(
        7 * 86_400.0,
        ge=600,
        le=90 * 86_400,
        description="Longest validity of a package (also cut at its first subject's expiry), seconds.",
    )
    renew_before_s: float = Field(
        86_400.0,
        ge=60,
        le=30 * 86_400,
        description="A new version is made when the current one's packages have less validity left, seconds.",
    )
    max_enrolment_bytes: int = Field(
        24 * 1024 * 1024, ge=1024, le=256 * 1024 * 1024, description="Largest enrolment request (photos), bytes."
    )
    max_photos: int = Field(10, ge=1, le=50, description="Most photos in one proposal.")
    vision: VisionSettings = Field(
        default_factory=lambda: VisionSettings(detector=HogDetectorSettings(upsample=1), max_side_px=2048),
        description="The face engine that turns proposed photos into templates.",
    )


class SchedulerSettings(BaseModel):
    """The server's scheduled jobs (escalation, subject expiry and package renewal, retention, downlink)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    enabled: bool = Field(True, description="Run the jobs in this server process (every process may; one runs each).")
    tick_s: float = Field(1.0, gt=0, le=60, description="How often the scheduler looks for a job that is due, seconds.")
    escalation_every_s: float = Field(5.0, gt=0, le=3600, description="Escalation of unreviewed alerts, seconds.")
    dispatch_every_s: float = Field(
        2.0, gt=0, le=3600, description="Escalation of unanswered and declined dispatch orders, seconds."
    )
    watchlists_every_s: float = Field(
        15.0, gt=0, le=3600, description="Subject expiry, package renewal and devices' packages, seconds."
    )
    retention_every_s: float = Field(600.0, gt=0, le=86_400, description="Retention, seconds.")
    downlink_every_s: float = Field(5.0, gt=0, le=3600, description="Resending what devices were not sent, seconds.")


class AuditSettings(BaseModel):
    """Signed checkpoints of the audit trail, kept outside the database (see :mod:`vigil.command.audit.checkpoint`)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    checkpoint_dir: Path | None = Field(
        None,
        description=(
            "The auditor's checkpoint store: an existing folder outside the database, best another machine's share "
            "(append-only), where signed checkpoints of the trail's head are appended. None: no checkpoints."
        ),
    )
    checkpoint_key_file: Path | None = Field(
        None,
        description=(
            "The Ed25519 private key that signs checkpoints (PEM, mode 0600, outside the database; "
            "`vigil audit keys` makes a pair)."
        ),
    )
    checkpoint_every_s: float = Field(
        300.0,
        ge=1,
        le=86_400,
        description="How often the scheduler writes a checkpoint if the trail has grown (and at shutdown), seconds.",
    )

    @model_validator(mode="after")
    def _store_with_key(self) -> "AuditSettings":
        if (self.checkpoint_dir is None) != (self.checkpoint_key_file is None):
            raise ValueError(
                "audit checkpoints need both checkpoint_dir and checkpoint_key_file (VIGIL_AUDIT__CHECKPOINT_DIR, "
                "VIGIL_AUDIT__CHECKPOINT_KEY_FILE), or neither"
            )
        return self


class AccountSettings(BaseModel):
    """Sign-in, lock-out and sessions of the people who use the command centre (see :mod:`vigil.command.accounts`)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    max_failed_sign_ins: int = Field(
        5,
        ge=1,
        le=100,
        description=(
            "Failed sign-ins for one user from one address before that address must wait before trying that user "
            "again (a wait that doubles with each further failure, up to lockout_s)."
        ),
    )
    max_failed_sign_ins_per_address: int = Field(
        20,
        ge=1,
        le=10_000,
        description=(
            "Failed sign-ins from one address, whatever the names, before it must wait (users who signed in from "
            "there before are not held back by others' failures)."
        ),
    )
    max_failed_sign_ins_per_account: int = Field(
        50,
        ge=1,
        le=100_000,
        description=(
            "Failed sign-ins for one user from all addresses together (guessing spread over many addresses) before "
            "that user can sign in only from addresses they signed in from before, until the wait ends."
        ),
    )
    backoff_first_s: float = Field(
        15.0, ge=0.1, le=3600, description="The first wait once a limit is reached; each further failure doubles it, s."
    )
    lockout_s: float = Field(900.0, ge=1, le=86_400, description="The longest wait after failed sign-ins, seconds.")
    failure_memory_s: float = Field(
        3600.0,
        ge=60,
        le=7 * 86_400,
        description="Failed sign-ins are forgotten this long after the last one from the same source, seconds.",
    )
    trusted_address_s: float = Field(
        30 * 86_400.0,
        ge=0,
        le=366 * 86_400,
        description=(
            "An address a user opened a session from within this time counts as theirs: limits on the address and "
            "on the account as a whole do not hold them back there, seconds."
        ),
    )
    session_idle_s: float = Field(1800.0, ge=10, le=86_400, description="A session unused for this long ends, seconds.")
    session_absolute_s: float = Field(
        12 * 3600.0,
        ge=60,
        le=7 * 86_400,
        description="A session ends this long after sign-in however much it is used (about a shift), seconds.",
    )
    totp_window_steps: int = Field(
        1,
        ge=0,
        le=2,
        description="Second-factor codes accepted this many 30-second steps either side of now (clock drift).",
    )
    totp_issuer: str = Field(
        "Vigil", min_length=1, max_length=64, description="The name authenticator apps show beside the account."
    )
    min_password_length: int = Field(12, ge=8, le=128, description="Shortest password accepted, characters.")
    min_password_score: int = Field(
        3,
        ge=0,
        le=4,
        description=(
            "Weakest password accepted on zxcvbn's scale: 0 (guessed at once) to 4 (over 10^10 guesses); 3 is over "
            "10^8 guesses, beyond reach of an online guesser held back by the sign-in limits."
        ),
    )
    feed_session_check_s: float = Field(
        30.0,
        gt=0,
        le=600,
        description="How often an open live-feed WebSocket checks that its session is still valid, seconds.",
    )

    @model_validator(mode="after")
    def _idle_within_absolute(self) -> "AccountSettings":
        if self.session_idle_s > self.session_absolute_s:
            raise ValueError(
                f"session_idle_s ({self.session_idle_s:g}) is longer than session_absolute_s "
                f"({self.session_absolute_s:g}); a session can never be idle longer than it lives"
            )
        return self

    @model_validator(mode="after")
    def _failures_remembered_through_the_wait(self) -> "AccountSettings":
        if self.failure_memory_s < self.lockout_s:
            raise ValueError(
                f"failure_memory_s ({self.failure_memory_s:g}) is shorter than lockout_s ({self.lockout_s:g}); "
                "failures would be forgotten before the longest wait ends, and the waits would never grow"
            )
        return self


class MapSettings(BaseModel):
    """The control-room page's map: a force's own XYZ tile server, or none (a coordinate grid, never a blank map)."""

    model_config = ConfigDict(extra="forbid")

    tile_url: str | None = Field(
        None,
        max_length=2000,
        description="XYZ map tiles, http(s)://…/{z}/{x}/{y}.png (the force's tile server); none draws a grid.",
    )
    tile_attribution: str = Field("", max_length=500, description="Credit for the tiles, shown on the map.")
    max_zoom: int = Field(19, ge=1, le=24, description="The deepest zoom level the tiles offer.")

    @field_validator("tile_url")
    @classmethod
    def _xyz_template(cls, value: str | None) -> str | None:
        return checked_tile_template(value)


class HttpsSettings(BaseModel):
    """How the HTTP server is protected on the wire: its own certificate, or a TLS-terminating proxy in front.

    Without either it serves plain HTTP, which :class:`CommandSettings` allows on a loopback address only.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    certificate_file: Path | None = Field(
        None,
        description=(
            "The server's certificate (PEM; intermediate certificates after it); with key_file the server speaks "
            "HTTPS itself, TLS 1.2 or later (`vigil pki` makes both)."
        ),
    )
    key_file: Path | None = Field(None, description="The certificate's private key (PEM, unencrypted, mode 0600).")
    behind_tls_proxy: bool = Field(
        False,
        description=(
            "A TLS-terminating proxy (nginx) in front takes every browser's and device's connection over HTTPS and "
            "passes it on: every request counts as HTTPS (Secure cookies, HSTS, the page's origin is https://)."
        ),
    )
    hsts_max_age_s: int = Field(
        31_536_000,
        ge=0,
        le=63_072_000,
        description="How long browsers must reach this host over HTTPS only (Strict-Transport-Security), seconds.",
    )

    @model_validator(mode="after")
    def _certificate_with_key(self) -> "HttpsSettings":
        if (self.certificate_file is None) != (self.key_file is None):
            raise ValueError("HTTPS needs both certificate_file and key_file (or neither)")
        return self

    @property
    def serves_tls(self) -> bool:
        """Whether the server itself speaks HTTPS (a certificate and key are configured)."""
        return self.certificate_file is not None

    @property
    def encrypted(self) -> bool:
        """Whether clients reach the server over HTTPS: its own, or the proxy's in front."""
        return self.serves_tls or self.behind_tls_proxy


PUBLIC_BUS_GROUP = "vigil-command"
"""The servers' shared-subscription group on a broker of this machine (the demo's, tests'); others need a secret."""


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
        PUBLIC_BUS_GROUP,
        pattern=r"^[A-Za-z0-9_-]{1,64}$",
        description="MQTT shared-subscription group: servers in one group share the devices' events.",
    )
    host: str = Field("127.0.0.1", description="Address the HTTP server listens on.")
    port: int = Field(8000, ge=1, le=65535, description="Port the HTTP server listens on.")
    https: HttpsSettings = Field(
        default_factory=HttpsSettings, description="HTTPS: required to listen anywhere but on loopback."
    )
    osmand_enabled: bool = Field(
        False,
        description=(
            "Take positions in the OsmAnd protocol (Traccar Client) at /osmand/<secret>, only from devices given "
            "an OsmAnd secret (`vigil devices register --osmand`)."
        ),
    )
    max_body_bytes: int = Field(
        64 * 1024,
        ge=1024,
        le=16 * 1024 * 1024,
        description=(
            "Largest request body of every route without a limit of its own (sign-in among them), bytes; events "
            "take limits.max_request_bytes, enrolment photos watchlists.max_enrolment_bytes."
        ),
    )
    limits: IngestionLimits = Field(default_factory=IngestionLimits)
    feed: FeedSettings = Field(default_factory=FeedSettings)
    dispatch: DispatchSettings = Field(default_factory=DispatchSettings)
    review: ReviewSettings = Field(default_factory=ReviewSettings)
    retention: RetentionSettings = Field(default_factory=RetentionSettings)
    watchlists: WatchlistServerSettings = Field(default_factory=WatchlistServerSettings)
    scheduler: SchedulerSettings = Field(default_factory=SchedulerSettings)
    audit: AuditSettings = Field(default_factory=AuditSettings)
    accounts: AccountSettings = Field(default_factory=AccountSettings)
    map: MapSettings = Field(default_factory=MapSettings)

    @model_validator(mode="after")
    def _encrypted_beyond_loopback(self) -> "CommandSettings":
        # Signing in sends a password, every request a session or device token, alerts a face crop: in clear,
        # anyone on the network path reads them. Plain HTTP stays on this machine.
        if not self.https.encrypted and not is_loopback(self.host):
            raise ValueError(
                f"refusing to serve plain HTTP on {self.host}: passwords, tokens and face crops would cross the "
                "network readable. Give the server a certificate and key (vigil serve --certificate --key), or, "
                "with a TLS-terminating proxy in front, say so (--behind-tls-proxy); or listen on 127.0.0.1"
            )
        if (
            isinstance(self.bus, MqttSettings)
            and (self.bus.tls is not None or not is_loopback(self.bus.host))
            and self.bus_group == PUBLIC_BUS_GROUP
        ):
            # Mosquitto's ACL file cannot refuse a subscription: a device that knows the servers' group can join it
            # and be handed its share of every other device's events, which it may then not read and so loses.
            raise ValueError(
                f"the servers' shared-subscription group {PUBLIC_BUS_GROUP!r} is known to every device: with a "
                "broker beyond this machine, give the secret one `vigil devices broker-config` made "
                "(vigil serve --bus-group-file DIR/share-group, or VIGIL_BUS_GROUP)"
            )
        if self.https.behind_tls_proxy and self.watchlists.signing_key_file and self.watchlists.public_url is None:
            raise ValueError(
                "behind a TLS-terminating proxy, devices download watchlist packages from the proxy: set "
                "watchlists.public_url (VIGIL_WATCHLISTS__PUBLIC_URL=https://…) to its address"
            )
        return self

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

    def public_url(self) -> str:
        """The base URL devices reach this server at (``watchlists.public_url``, else host and port)."""
        if self.watchlists.public_url is not None:
            return self.watchlists.public_url.rstrip("/")
        scheme = "https" if self.https.serves_tls else "http"
        return f"{scheme}://{self.host}:{self.port}"
