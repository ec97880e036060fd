"""The face model slot: every template, watchlist, version and alert names the face network behind it.

``watchlist_templates.model``, ``watchlists.model``, ``watchlist_versions.model`` and ``alerts.model`` hold a
model id (``name:version:sha256-prefix``); rows made before this revision were all made with dlib's ResNet, the
only network Vigil ran then, and get its id. ``watchlist_versions.reason`` takes ``model_change`` (a watchlist
re-embedded with another network), ``rejected_events.reason`` takes ``model_mismatch`` (an alert made with
another network than its watchlist version's). Both reasons are CHECK-constrained strings on every database, not
PostgreSQL enum types.

Revision ID: 0009
Revises: 0008
"""

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision: str | None = "0008"
branch_labels: str | None = None
depends_on: str | None = None

DLIB_MODEL_ID = "dlib_face_recognition_resnet_model_v1:1:55533b28a958"
"""``vigil.vision.face_model.DLIB_MODEL_ID`` when this revision was written (a migration never follows the code)."""

_TABLES = ("watchlists", "watchlist_templates", "watchlist_versions", "alerts")

_VERSION_REASONS = ("approval", "removal", "expiry", "renewal")
_NEW_VERSION_REASONS = ("model_change",)
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
)
_NEW_REJECT_REASONS = ("model_mismatch",)


def _enum(values: tuple[str, ...], *, name: str) -> sa.Enum:
    return sa.Enum(*values, name=name, native_enum=False, create_constraint=True)


def upgrade() -> None:
    """Add the model columns (existing rows: dlib's ResNet) and the new reasons."""
    for table in _TABLES:
        with op.batch_alter_table(table) as batch:
            batch.add_column(sa.Column("model", sa.String(120), nullable=True))
        op.execute(sa.text(f"UPDATE {table} SET model = :model").bindparams(model=DLIB_MODEL_ID))
        with op.batch_alter_table(table) as batch:
            batch.alter_column("model", existing_type=sa.String(120), nullable=False)
    with op.batch_alter_table("watchlist_versions") as batch:
        batch.alter_column(
            "reason",
            existing_type=_enum(_VERSION_REASONS, name="version_reason"),
            type_=_enum(_VERSION_REASONS + _NEW_VERSION_REASONS, name="version_reason"),
            existing_nullable=False,
        )
    with op.batch_alter_table("rejected_events") as batch:
        batch.alter_column(
            "reason",
            existing_type=_enum(_REJECT_REASONS, name="reject_reason"),
            type_=_enum(_REJECT_REASONS + _NEW_REJECT_REASONS, name="reject_reason"),
            existing_nullable=False,
        )


def downgrade() -> None:
    """Drop what :func:`upgrade` added.

    Rejections for another model go; a version made for a model change becomes a renewal (same subjects, a new
    number), since versions are referred to and never deleted.
    """
    op.execute(
        sa.text("DELETE FROM rejected_events WHERE reason IN :reasons").bindparams(
            sa.bindparam("reasons", _NEW_REJECT_REASONS, expanding=True)
        )
    )
    with op.batch_alter_table("rejected_events") as batch:
        batch.alter_column(
            "reason",
            existing_type=_enum(_REJECT_REASONS + _NEW_REJECT_REASONS, name="reject_reason"),
            type_=_enum(_REJECT_REASONS, name="reject_reason"),
            existing_nullable=False,
        )
    op.execute(sa.text("UPDATE watchlist_versions SET reason = 'renewal' WHERE reason = 'model_change'"))
    with op.batch_alter_table("watchlist_versions") as batch:
        batch.alter_column(
            "reason",
            existing_type=_enum(_VERSION_REASONS + _NEW_VERSION_REASONS, name="version_reason"),
            type_=_enum(_VERSION_REASONS, name="version_reason"),
            existing_nullable=False,
        )
    for table in reversed(_TABLES):
        with op.batch_alter_table(table) as batch:
            batch.drop_column("model")
