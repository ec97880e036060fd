"""Incidents: a confirmed alert acted on, its target and area, and the dispatch orders sent for it.

Revision ID: 0005
Revises: 0004
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0005"
down_revision: str | None = "0004"
branch_labels: str | None = None
depends_on: str | None = None


def _time(name: str, *, nullable: bool = False) -> sa.Column[object]:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def _enum(name: str, values: tuple[str, ...], *, type_name: str, nullable: bool = False) -> sa.Column[str]:
    return sa.Column(
        name, sa.Enum(*values, name=type_name, native_enum=False, create_constraint=True), nullable=nullable
    )


def _fk(column: str, table: str, target: str) -> sa.ForeignKeyConstraint:
    referred, _, _ = target.partition(".")
    return sa.ForeignKeyConstraint([column], [target], name=op.f(f"fk_{table}_{column}_{referred}"))


def upgrade() -> None:
    """Create the incidents and dispatch orders tables."""
    op.create_table(
        "incidents",
        sa.Column("incident_id", sa.Uuid(), nullable=False),
        sa.Column("alert_id", sa.Uuid(), nullable=False),
        sa.Column("subject_id", sa.String(64), nullable=False),
        _enum("status", ("open", "closed"), type_name="incident_status"),
        sa.Column("target_lat", sa.Double(), nullable=False),
        sa.Column("target_lon", sa.Double(), nullable=False),
        sa.Column("target_accuracy_m", sa.Double(), nullable=True),
        _time("target_at"),
        sa.Column("target_alert_id", sa.Uuid(), nullable=False),
        sa.Column("target_revision", sa.Integer(), nullable=False),
        sa.Column("area", sa.JSON().with_variant(postgresql.JSONB(), "postgresql"), nullable=False),
        sa.Column("opened_by", sa.String(200), nullable=False),
        _time("opened_at"),
        sa.Column("closed_by", sa.String(200), nullable=True),
        _time("closed_at", nullable=True),
        _enum(
            "outcome",
            ("arrest", "not_found", "wrong_person", "other"),
            type_name="incident_outcome",
            nullable=True,
        ),
        sa.Column("outcome_notes", sa.Text(), nullable=True),
        _fk("alert_id", "incidents", "alerts.alert_id"),
        _fk("target_alert_id", "incidents", "alerts.alert_id"),
        sa.PrimaryKeyConstraint("incident_id", name=op.f("pk_incidents")),
        sa.UniqueConstraint("alert_id", name=op.f("uq_incidents_alert_id")),
    )
    op.create_index("ix_incidents_subject_id_status", "incidents", ["subject_id", "status"])
    op.create_table(
        "dispatch_orders",
        sa.Column("dispatch_id", sa.Uuid(), nullable=False),
        sa.Column("incident_id", sa.Uuid(), nullable=False),
        sa.Column("unit_id", sa.String(64), nullable=False),
        _enum(
            "state",
            ("sent", "accepted", "declined", "en_route", "on_scene", "cleared", "cancelled"),
            type_name="order_state",
        ),
        sa.Column("revision", sa.Integer(), nullable=False),
        _enum(
            "unit_status_before",
            ("available", "busy", "dispatched", "en_route", "on_scene", "off_duty"),
            type_name="unit_status",
        ),
        sa.Column("instructions", sa.Text(), nullable=False),
        sa.Column("sent_by", sa.String(200), nullable=False),
        _time("sent_at"),
        _time("answered_at", nullable=True),
        _time("escalated_at", nullable=True),
        _time("finished_at", nullable=True),
        sa.Column("reason", sa.Text(), nullable=False),
        _fk("incident_id", "dispatch_orders", "incidents.incident_id"),
        _fk("unit_id", "dispatch_orders", "units.unit_id"),
        sa.PrimaryKeyConstraint("dispatch_id", name=op.f("pk_dispatch_orders")),
    )
    op.create_index("ix_dispatch_orders_incident_id", "dispatch_orders", ["incident_id"])
    op.create_index(op.f("ix_dispatch_orders_unit_id"), "dispatch_orders", ["unit_id"])


def downgrade() -> None:
    """Drop what :func:`upgrade` created."""
    op.drop_table("dispatch_orders")
    op.drop_table("incidents")
