"""Governance: watchlists on the server, the downlink to devices, and alerts' review and retention columns.

Watchlists, their subjects, templates, versions and devices; devices' package keys (wrapped) and packages.

Revision ID: 0004
Revises: 0003
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0004"
down_revision: str | None = "0003"
branch_labels: str | None = None
depends_on: str | None = None

_CATEGORIES = ("wanted_on_warrant", "wanted_suspect", "missing_person", "vulnerable_person", "court_order")


def _time(name: str, *, nullable: bool = False) -> sa.Column[object]:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def _json(name: str, *, nullable: bool = False) -> sa.Column[object]:
    return sa.Column(name, sa.JSON().with_variant(postgresql.JSONB(), "postgresql"), nullable=nullable)


def _enum(name: str, values: tuple[str, ...], *, type_name: str) -> sa.Column[str]:
    return sa.Column(name, sa.Enum(*values, name=type_name, native_enum=False, create_constraint=True), nullable=False)


def _fk(column: str, table: str, target: str) -> sa.ForeignKeyConstraint:
    referred, _, _ = target.partition(".")
    return sa.ForeignKeyConstraint([column], [target], name=op.f(f"fk_{table}_{column}_{referred}"))


def upgrade() -> None:
    """Create the governance tables and add the alerts' columns."""
    op.create_table(
        "watchlists",
        sa.Column("watchlist_id", sa.Uuid(), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("threshold", sa.Double(), nullable=False),
        _json("area", nullable=True),
        _time("starts_at", nullable=True),
        _time("ends_at", nullable=True),
        sa.Column("current_version", sa.Integer(), nullable=True),
        sa.Column("created_by", sa.String(200), nullable=False),
        _time("created_at"),
        sa.PrimaryKeyConstraint("watchlist_id", name=op.f("pk_watchlists")),
    )
    op.create_table(
        "watchlist_subjects",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("watchlist_id", sa.Uuid(), nullable=False),
        sa.Column("subject_id", sa.String(64), nullable=False),
        sa.Column("display_name", sa.String(200), nullable=False),
        _enum("category", _CATEGORIES, type_name="subject_category"),
        sa.Column("legal_basis", sa.Text(), nullable=False),
        _time("expires_at"),
        sa.Column("notes", sa.Text(), nullable=False),
        _enum("state", ("proposed", "live", "removed", "expired"), type_name="subject_state"),
        sa.Column("proposed_by", sa.String(200), nullable=False),
        sa.Column("proposed_by_name", sa.String(200), nullable=False),
        _time("proposed_at"),
        sa.Column("approved_by", sa.String(200), nullable=True),
        sa.Column("approved_by_name", sa.String(200), nullable=True),
        _time("approved_at", nullable=True),
        _time("ended_at", nullable=True),
        sa.Column("ended_by", sa.String(200), nullable=True),
        sa.Column("end_reason", sa.Text(), nullable=True),
        _time("templates_deleted_at", nullable=True),
        _fk("watchlist_id", "watchlist_subjects", "watchlists.watchlist_id"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_watchlist_subjects")),
        sa.UniqueConstraint("watchlist_id", "subject_id", name=op.f("uq_watchlist_subjects_watchlist_id_subject_id")),
    )
    op.create_index(op.f("ix_watchlist_subjects_watchlist_id"), "watchlist_subjects", ["watchlist_id"])
    op.create_index(op.f("ix_watchlist_subjects_state"), "watchlist_subjects", ["state"])
    op.create_table(
        "watchlist_templates",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False),
        sa.Column("subject_row_id", sa.Uuid(), nullable=False),
        sa.Column("source", sa.String(200), nullable=False),
        sa.Column("embedding", sa.LargeBinary(), nullable=True),
        sa.Column("chip_jpeg", sa.LargeBinary(), nullable=True),
        sa.Column("quality_score", sa.Double(), nullable=False),
        _json("quality"),
        _fk("subject_row_id", "watchlist_templates", "watchlist_subjects.id"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_watchlist_templates")),
    )
    op.create_index(op.f("ix_watchlist_templates_subject_row_id"), "watchlist_templates", ["subject_row_id"])
    op.create_table(
        "watchlist_versions",
        sa.Column("version", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("watchlist_id", sa.Uuid(), nullable=False),
        _enum("reason", ("approval", "removal", "expiry", "renewal"), type_name="version_reason"),
        sa.Column("subject_id", sa.String(64), nullable=True),
        sa.Column("made_by", sa.String(200), nullable=False),
        _time("created_at"),
        _time("valid_until"),
        _json("subject_ids"),
        _fk("watchlist_id", "watchlist_versions", "watchlists.watchlist_id"),
        sa.PrimaryKeyConstraint("version", name=op.f("pk_watchlist_versions")),
    )
    op.create_index(op.f("ix_watchlist_versions_watchlist_id"), "watchlist_versions", ["watchlist_id"])
    op.create_table(
        "watchlist_devices",
        sa.Column("device_id", sa.String(64), nullable=False),
        sa.Column("watchlist_id", sa.Uuid(), nullable=False),
        sa.Column("assigned_by", sa.String(200), nullable=False),
        _time("assigned_at"),
        _fk("device_id", "watchlist_devices", "devices.device_id"),
        _fk("watchlist_id", "watchlist_devices", "watchlists.watchlist_id"),
        sa.PrimaryKeyConstraint("device_id", name=op.f("pk_watchlist_devices")),
    )
    op.create_index(op.f("ix_watchlist_devices_watchlist_id"), "watchlist_devices", ["watchlist_id"])
    op.create_table(
        "device_package_keys",
        sa.Column("device_id", sa.String(64), nullable=False),
        sa.Column("wrapped_key", sa.LargeBinary(), nullable=False),
        _time("created_at"),
        _fk("device_id", "device_package_keys", "devices.device_id"),
        sa.PrimaryKeyConstraint("device_id", name=op.f("pk_device_package_keys")),
    )
    op.create_table(
        "device_packages",
        sa.Column("device_id", sa.String(64), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("package", sa.LargeBinary(), nullable=False),
        _time("created_at"),
        _time("valid_until"),
        _fk("device_id", "device_packages", "devices.device_id"),
        _fk("version", "device_packages", "watchlist_versions.version"),
        sa.PrimaryKeyConstraint("device_id", name=op.f("pk_device_packages")),
    )
    op.create_index("ix_device_packages_version", "device_packages", ["version"])
    op.create_table(
        "downlink",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False),
        sa.Column("event_id", sa.Uuid(), nullable=False),
        sa.Column("device_id", sa.String(64), nullable=False),
        sa.Column("type", sa.String(32), nullable=False),
        sa.Column("topic", sa.String(200), nullable=False),
        sa.Column("payload", sa.LargeBinary(), nullable=False),
        _time("created_at"),
        _time("published_at", nullable=True),
        _fk("device_id", "downlink", "devices.device_id"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_downlink")),
        sa.UniqueConstraint("event_id", name=op.f("uq_downlink_event_id")),
    )
    op.create_index("ix_downlink_published_at_id", "downlink", ["published_at", "id"])
    with op.batch_alter_table("alerts") as batch:
        batch.add_column(sa.Column("reviewer_name", sa.String(200), nullable=True))
        batch.add_column(sa.Column("escalated_at", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("probe_deleted_at", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    """Drop what :func:`upgrade` created."""
    with op.batch_alter_table("alerts") as batch:
        batch.drop_column("probe_deleted_at")
        batch.drop_column("escalated_at")
        batch.drop_column("reviewer_name")
    for table in (
        "downlink",
        "device_packages",
        "device_package_keys",
        "watchlist_devices",
        "watchlist_versions",
        "watchlist_templates",
        "watchlist_subjects",
        "watchlists",
    ):
        op.drop_table(table)
