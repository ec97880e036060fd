"""Thresholds by watchlist size and model: what each version runs at, why, and what it was expected to do.

``watchlists.looser_threshold_reason``: why a supervisor chose a threshold looser than the one measured for the
watchlist's size and model (null: none was). ``watchlist_versions`` get ``size_threshold`` (the threshold for its
model and number of people), ``chosen_threshold`` (the watchlist's chosen one then), ``threshold_basis`` (which
applies: ``size``, ``stricter`` or ``looser``), ``looser_threshold_reason`` and ``expected`` (JSON: the false alerts
per 10,000 faces and the share of listed people found that its threshold was expected to give); all null for
versions made before this revision, which recorded only the threshold. ``watchlist_versions.reason`` takes
``threshold_change``.

Revision ID: 0010
Revises: 0009
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "0010"
down_revision: str | None = "0009"
branch_labels: str | None = None
depends_on: str | None = None

_VERSION_REASONS = ("approval", "removal", "expiry", "renewal", "model_change")
_NEW_VERSION_REASONS = ("threshold_change",)
_BASES = ("size", "stricter", "looser")


def _enum(values: tuple[str, ...], *, name: str) -> sa.Enum:
    return sa.Enum(*values, name=name, native_enum=False, create_constraint=True)


def upgrade() -> None:
    """Add the threshold columns and the new version reason."""
    with op.batch_alter_table("watchlists") as batch:
        batch.add_column(sa.Column("looser_threshold_reason", sa.Text(), nullable=True))
    with op.batch_alter_table("watchlist_versions") as batch:
        batch.add_column(sa.Column("size_threshold", sa.Double(), nullable=True))
        batch.add_column(sa.Column("chosen_threshold", sa.Double(), nullable=True))
        batch.add_column(sa.Column("threshold_basis", _enum(_BASES, name="threshold_basis"), nullable=True))
        batch.add_column(sa.Column("looser_threshold_reason", sa.Text(), nullable=True))
        batch.add_column(sa.Column("expected", sa.JSON().with_variant(JSONB(), "postgresql"), nullable=True))
        batch.alter_column(
            "reason",
            existing_type=_enum(_VERSION_REASONS, name="version_reason"),
            type_=_enum(_VERSION_REASONS + _NEW_VERSION_REASONS, name="version_reason"),
            existing_nullable=False,
        )


def downgrade() -> None:
    """Drop what :func:`upgrade` added; a version made for a threshold change becomes a renewal (a new number)."""
    op.execute(sa.text("UPDATE watchlist_versions SET reason = 'renewal' WHERE reason = 'threshold_change'"))
    with op.batch_alter_table("watchlist_versions") as batch:
        batch.alter_column(
            "reason",
            existing_type=_enum(_VERSION_REASONS + _NEW_VERSION_REASONS, name="version_reason"),
            type_=_enum(_VERSION_REASONS, name="version_reason"),
            existing_nullable=False,
        )
        batch.drop_constraint(op.f("ck_watchlist_versions_threshold_basis"), type_="check")
        for column in ("expected", "looser_threshold_reason", "threshold_basis", "chosen_threshold", "size_threshold"):
            batch.drop_column(column)
    with op.batch_alter_table("watchlists") as batch:
        batch.drop_column("looser_threshold_reason")
