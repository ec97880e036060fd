"""Second verifications of matches, by a second person in the control room or by the officer on scene.

``alert_verifications``: one row per second look at a confirmed alert (same person, not the person, cannot
tell), who made it and when; an officer's names their device, the order and the event it came in. Rejections gain
a reason: an officer's verification refused. Nothing else changes: an alert made before this revision has no second
verification.

Revision ID: 0014
Revises: 0013
"""

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision: str | None = "0013"
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
    "outside_deployment",
    "deployment_not_running",
)
_NEW_REJECT_REASONS = ("verification_refused",)


def _reasons(values: tuple[str, ...]) -> sa.Enum:
    return sa.Enum(*values, name="reject_reason", native_enum=False, create_constraint=True)


def _enum(name: str, values: tuple[str, ...], *, type_name: str) -> sa.Column[str]:
    return sa.Column(name, sa.Enum(*values, name=type_name, native_enum=False, create_constraint=True), nullable=False)


def upgrade() -> None:
    """Create the second verifications' table; let rejections say an officer's verification was refused."""
    op.create_table(
        "alert_verifications",
        sa.Column("verification_id", sa.Uuid(), nullable=False),
        sa.Column("alert_id", sa.Uuid(), nullable=False),
        _enum("verdict", ("same_person", "not_the_person", "cannot_tell"), type_name="identity_verdict"),
        _enum("verifier_kind", ("control_room", "officer"), type_name="verifier_kind"),
        sa.Column("verified_by", sa.String(200), nullable=False),
        sa.Column("verifier_name", sa.String(200), nullable=False),
        sa.Column("verified_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("device_id", sa.String(64), nullable=True),
        sa.Column("dispatch_id", sa.Uuid(), nullable=True),
        sa.Column("event_id", sa.Uuid(), nullable=True),
        sa.ForeignKeyConstraint(["alert_id"], ["alerts.alert_id"], name=op.f("fk_alert_verifications_alert_id_alerts")),
        sa.ForeignKeyConstraint(
            ["device_id"], ["devices.device_id"], name=op.f("fk_alert_verifications_device_id_devices")
        ),
        sa.ForeignKeyConstraint(
            ["event_id"], ["ingested_events.event_id"], name=op.f("fk_alert_verifications_event_id_ingested_events")
        ),
        sa.PrimaryKeyConstraint("verification_id", name=op.f("pk_alert_verifications")),
        sa.UniqueConstraint("event_id", name=op.f("uq_alert_verifications_event_id")),
    )
    op.create_index(op.f("ix_alert_verifications_alert_id"), "alert_verifications", ["alert_id"])
    with op.batch_alter_table("rejected_events") as batch:
        batch.alter_column(
            "reason",
            existing_type=_reasons(_REJECT_REASONS),
            type_=_reasons(_REJECT_REASONS + _NEW_REJECT_REASONS),
            existing_nullable=False,
        )


def downgrade() -> None:
    """Drop the second verifications (and the rejections of refused ones)."""
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
    op.drop_index(op.f("ix_alert_verifications_alert_id"), table_name="alert_verifications")
    op.drop_table("alert_verifications")
