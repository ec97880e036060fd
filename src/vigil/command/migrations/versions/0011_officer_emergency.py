"""Officers' emergencies, and incidents that answer them.

``emergencies``: one row per emergency an officer's device raised (the handset's button, a tracker's SOS), with
where it was raised and who acknowledged and resolved it. ``incidents`` are for a confirmed alert or for an
emergency: ``alert_id``, ``subject_id`` and ``target_alert_id`` become nullable (an emergency's incident has
none), and ``emergency_id`` (nullable, unique) names the emergency answered. Rows made before this revision are
all alerts' incidents and keep their values.

Revision ID: 0011
Revises: 0010
"""

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision: str | None = "0010"
branch_labels: str | None = None
depends_on: str | None = None


def _time(name: str, *, nullable: bool = False) -> sa.Column[object]:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def _enum(name: str, values: tuple[str, ...], *, type_name: str) -> sa.Column[str]:
    return sa.Column(name, sa.Enum(*values, name=type_name, native_enum=False, create_constraint=True), nullable=False)


def _fk(column: str, table: str, target: str) -> sa.ForeignKeyConstraint:
    referred, _, _ = target.partition(".")
    return sa.ForeignKeyConstraint([column], [target], name=op.f(f"fk_{table}_{column}_{referred}"))


def upgrade() -> None:
    """Create the emergencies table and let incidents answer one."""
    op.create_table(
        "emergencies",
        sa.Column("emergency_id", sa.Uuid(), nullable=False),
        sa.Column("event_id", sa.Uuid(), nullable=False),
        sa.Column("unit_id", sa.String(64), nullable=False),
        sa.Column("device_id", sa.String(64), nullable=False),
        _enum("trigger", ("handset", "tracker_sos"), type_name="emergency_trigger"),
        _enum("status", ("open", "acknowledged", "resolved"), type_name="emergency_status"),
        _time("raised_at"),
        _time("received_at"),
        sa.Column("lat", sa.Double(), nullable=True),
        sa.Column("lon", sa.Double(), nullable=True),
        sa.Column("accuracy_m", sa.Double(), nullable=True),
        sa.Column("acknowledged_by", sa.String(200), nullable=True),
        _time("acknowledged_at", nullable=True),
        sa.Column("resolved_by", sa.String(200), nullable=True),
        _time("resolved_at", nullable=True),
        sa.Column("resolution_notes", sa.Text(), nullable=True),
        _fk("event_id", "emergencies", "ingested_events.event_id"),
        _fk("unit_id", "emergencies", "units.unit_id"),
        _fk("device_id", "emergencies", "devices.device_id"),
        sa.PrimaryKeyConstraint("emergency_id", name=op.f("pk_emergencies")),
        sa.UniqueConstraint("event_id", name=op.f("uq_emergencies_event_id")),
    )
    op.create_index("ix_emergencies_unit_id_status", "emergencies", ["unit_id", "status"])
    with op.batch_alter_table("incidents") as batch:
        batch.add_column(sa.Column("emergency_id", sa.Uuid(), nullable=True))
        batch.create_foreign_key(
            op.f("fk_incidents_emergency_id_emergencies"), "emergencies", ["emergency_id"], ["emergency_id"]
        )
        batch.create_unique_constraint(op.f("uq_incidents_emergency_id"), ["emergency_id"])
        for column, column_type in (
            ("alert_id", sa.Uuid()),
            ("subject_id", sa.String(64)),
            ("target_alert_id", sa.Uuid()),
        ):
            batch.alter_column(column, existing_type=column_type, nullable=True)


def downgrade() -> None:
    """Drop what :func:`upgrade` added, with the emergencies' incidents and their orders (no alert to keep them on)."""
    emergency_incidents = "SELECT incident_id FROM incidents WHERE emergency_id IS NOT NULL"
    op.execute(sa.text(f"DELETE FROM dispatch_orders WHERE incident_id IN ({emergency_incidents})"))
    op.execute(sa.text("DELETE FROM incidents WHERE emergency_id IS NOT NULL"))
    with op.batch_alter_table("incidents") as batch:
        for column, column_type in (
            ("alert_id", sa.Uuid()),
            ("subject_id", sa.String(64)),
            ("target_alert_id", sa.Uuid()),
        ):
            batch.alter_column(column, existing_type=column_type, nullable=False)
        batch.drop_constraint(op.f("uq_incidents_emergency_id"), type_="unique")
        batch.drop_constraint(op.f("fk_incidents_emergency_id_emergencies"), type_="foreignkey")
        batch.drop_column("emergency_id")
    op.drop_index("ix_emergencies_unit_id_status", table_name="emergencies")
    op.drop_table("emergencies")
