"""Deployments as authorised records, and alerts that name theirs.

``deployments``: one row per authorised (or urgently started) use of live face recognition, with its legal
purpose, authority, area, window, mode (live or silent) and state; ``deployment_watchlists``: the watchlists each
may use. ``alerts`` gain ``deployment_id`` (nullable: alerts from watchlists no deployment governs, and every alert
made before this revision) and ``silent`` (false for every existing alert: none was made in a silent trial).
Rejections gain two reasons: an alert from outside its deployment, and one under a deployment not running.

Revision ID: 0013
Revises: 0012
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0013"
down_revision: str | None = "0012"
branch_labels: str | None = None
depends_on: str | None = None


_REJECT_REASONS = (
    "malformed",
    "down_only_type",
    "probe_too_large",
    "probe_not_jpeg",
    "from_the_future",
    "unknown_device",
    "revoked_device",
    "device_mismatch",
    "unit_mismatch",
    "conflict",
    "not_authenticated",
    "version_not_sent",
    "subject_not_sent",
    "model_mismatch",
)
_NEW_REJECT_REASONS = ("outside_deployment", "deployment_not_running")


def _reasons(values: tuple[str, ...]) -> sa.Enum:
    return sa.Enum(*values, name="reject_reason", native_enum=False, create_constraint=True)


def _time(name: str, *, nullable: bool = False) -> sa.Column[object]:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def _enum(name: str, values: tuple[str, ...], *, type_name: str) -> sa.Column[str]:
    return sa.Column(name, sa.Enum(*values, name=type_name, native_enum=False, create_constraint=True), nullable=False)


def _text(name: str, length: int | None = None) -> sa.Column[str]:
    return sa.Column(name, sa.String(length) if length is not None else sa.Text(), nullable=True)


def upgrade() -> None:
    """Create the deployments and their watchlists; let alerts name their deployment."""
    op.create_table(
        "deployments",
        sa.Column("deployment_id", sa.Uuid(), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        _enum(
            "purpose",
            ("victim_search", "threat_prevention", "suspect_localisation"),
            type_name="deployment_purpose",
        ),
        sa.Column("purpose_detail", sa.Text(), nullable=False),
        _enum("mode", ("live", "silent"), type_name="deployment_mode"),
        sa.Column("area", sa.JSON().with_variant(postgresql.JSONB(), "postgresql"), nullable=False),
        _time("starts_at"),
        _time("ends_at"),
        _enum("state", ("authorised", "urgent", "refused", "lapsed", "ended"), type_name="deployment_state"),
        sa.Column("urgent", sa.Boolean(), nullable=False),
        sa.Column("requested_by", sa.String(200), nullable=False),
        sa.Column("requested_by_name", sa.String(200), nullable=False),
        _time("requested_at"),
        _time("authorisation_due_at", nullable=True),
        _text("authority", 200),
        _text("authority_reference", 200),
        _text("authorised_by_name", 200),
        _time("decided_at", nullable=True),
        _text("decision_recorded_by", 200),
        _time("decision_recorded_at", nullable=True),
        _text("refusal_reason"),
        _time("ended_at", nullable=True),
        _text("ended_by", 200),
        _text("end_reason"),
        _time("data_deleted_at", nullable=True),
        sa.Column("alerts_deleted", sa.Integer(), nullable=True),
        sa.PrimaryKeyConstraint("deployment_id", name=op.f("pk_deployments")),
    )
    op.create_index(op.f("ix_deployments_state"), "deployments", ["state"])
    op.create_table(
        "deployment_watchlists",
        sa.Column("deployment_id", sa.Uuid(), nullable=False),
        sa.Column("watchlist_id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["deployment_id"],
            ["deployments.deployment_id"],
            name=op.f("fk_deployment_watchlists_deployment_id_deployments"),
        ),
        sa.ForeignKeyConstraint(
            ["watchlist_id"], ["watchlists.watchlist_id"], name=op.f("fk_deployment_watchlists_watchlist_id_watchlists")
        ),
        sa.PrimaryKeyConstraint("deployment_id", "watchlist_id", name=op.f("pk_deployment_watchlists")),
    )
    op.create_index(op.f("ix_deployment_watchlists_watchlist_id"), "deployment_watchlists", ["watchlist_id"])
    with op.batch_alter_table("alerts") as batch:
        batch.add_column(sa.Column("deployment_id", sa.Uuid(), nullable=True))
        batch.add_column(sa.Column("silent", sa.Boolean(), nullable=False, server_default=sa.false()))
        batch.create_foreign_key(
            op.f("fk_alerts_deployment_id_deployments"), "deployments", ["deployment_id"], ["deployment_id"]
        )
        batch.create_index(op.f("ix_alerts_deployment_id"), ["deployment_id"])
    with op.batch_alter_table("rejected_events") as batch:
        batch.alter_column(
            "reason",
            existing_type=_reasons(_REJECT_REASONS),
            type_=_reasons(_REJECT_REASONS + _NEW_REJECT_REASONS),
            existing_nullable=False,
        )


def downgrade() -> None:
    """Drop what :func:`upgrade` added (the alerts keep everything else; the new reasons' rejections go)."""
    op.execute(
        sa.text("DELETE FROM rejected_events WHERE reason IN :reasons").bindparams(
            sa.bindparam("reasons", _NEW_REJECT_REASONS, expanding=True)
        )
    )
    with op.batch_alter_table("rejected_events") as batch:
        batch.alter_column(
            "reason",
            existing_type=_reasons(_REJECT_REASONS + _NEW_REJECT_REASONS),
            type_=_reasons(_REJECT_REASONS),
            existing_nullable=False,
        )
    with op.batch_alter_table("alerts") as batch:
        batch.drop_index(op.f("ix_alerts_deployment_id"))
        batch.drop_constraint(op.f("fk_alerts_deployment_id_deployments"), type_="foreignkey")
        batch.drop_column("silent")
        batch.drop_column("deployment_id")
    op.drop_index(op.f("ix_deployment_watchlists_watchlist_id"), table_name="deployment_watchlists")
    op.drop_table("deployment_watchlists")
    op.drop_index(op.f("ix_deployments_state"), table_name="deployments")
    op.drop_table("deployments")
