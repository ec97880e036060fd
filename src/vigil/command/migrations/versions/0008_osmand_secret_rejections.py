"""OsmAnd secrets; rejected events bounded, with new reasons; what each device was sent, indexed.

Devices get ``osmand_secret_sha256`` (None: the device may not send OsmAnd positions; devices registered before
this revision have none until ``vigil devices osmand-secret`` gives them one). ``rejected_events.reason`` takes
the reasons ``not_authenticated``, ``version_not_sent`` and ``subject_not_sent``; ``(transport, id)`` is indexed,
so that keeping each transport's newest rejections is one index range. ``downlink (device_id, type)`` is indexed:
ingestion reads the watchlist versions announced to a device to check the device's alerts against them.

Revision ID: 0008
Revises: 0007
"""

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision: str | None = "0007"
branch_labels: str | None = None
depends_on: str | None = None

_REASONS = (
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
)
_NEW_REASONS = ("not_authenticated", "version_not_sent", "subject_not_sent")


def _reasons(values: tuple[str, ...]) -> sa.Enum:
    return sa.Enum(*values, name="reject_reason", native_enum=False, create_constraint=True)


def upgrade() -> None:
    """Add the OsmAnd secret column, the new reject reasons and the trimming index."""
    with op.batch_alter_table("devices") as batch:
        batch.add_column(sa.Column("osmand_secret_sha256", sa.String(64), nullable=True))
    with op.batch_alter_table("rejected_events") as batch:
        batch.alter_column(
            "reason",
            existing_type=_reasons(_REASONS),
            type_=_reasons(_REASONS + _NEW_REASONS),
            existing_nullable=False,
        )
    op.create_index(op.f("ix_rejected_events_transport_id"), "rejected_events", ["transport", "id"])
    op.create_index(op.f("ix_downlink_device_id_type"), "downlink", ["device_id", "type"])


def downgrade() -> None:
    """Drop what :func:`upgrade` added (rejections with the new reasons go with it)."""
    op.drop_index(op.f("ix_downlink_device_id_type"), table_name="downlink")
    op.drop_index(op.f("ix_rejected_events_transport_id"), table_name="rejected_events")
    op.execute(
        sa.text("DELETE FROM rejected_events WHERE reason IN :reasons").bindparams(
            sa.bindparam("reasons", _NEW_REASONS, expanding=True)
        )
    )
    with op.batch_alter_table("rejected_events") as batch:
        batch.alter_column(
            "reason",
            existing_type=_reasons(_REASONS + _NEW_REASONS),
            type_=_reasons(_REASONS),
            existing_nullable=False,
        )
    with op.batch_alter_table("devices") as batch:
        batch.drop_column("osmand_secret_sha256")
