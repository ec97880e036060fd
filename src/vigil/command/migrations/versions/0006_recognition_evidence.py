"""Recognition on real footage: an alert's evidence, and watchlist thresholds chosen by size.

An alert keeps which faces of the person's track backed it (``alerts.evidence``). A watchlist's threshold may be
left to its size (``watchlists.threshold`` null), and each version records the threshold its packages carry
(``watchlist_versions.threshold``; versions made before carried their watchlist's).

Revision ID: 0006
Revises: 0005
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0006"
down_revision: str | None = "0005"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    """Add the evidence and version threshold columns; let a watchlist's threshold follow its size."""
    with op.batch_alter_table("alerts") as batch:
        batch.add_column(sa.Column("evidence", sa.JSON().with_variant(postgresql.JSONB(), "postgresql"), nullable=True))
    with op.batch_alter_table("watchlists") as batch:
        batch.alter_column("threshold", existing_type=sa.Double(), nullable=True)
    with op.batch_alter_table("watchlist_versions") as batch:
        batch.add_column(sa.Column("threshold", sa.Double(), nullable=True))
    op.execute(
        "UPDATE watchlist_versions SET threshold = "
        "(SELECT threshold FROM watchlists WHERE watchlists.watchlist_id = watchlist_versions.watchlist_id)"
    )
    with op.batch_alter_table("watchlist_versions") as batch:
        batch.alter_column("threshold", existing_type=sa.Double(), nullable=False)


def downgrade() -> None:
    """Drop what :func:`upgrade` added; a threshold left to the size becomes the one the current version carries."""
    op.execute(
        "UPDATE watchlists SET threshold = (SELECT threshold FROM watchlist_versions "
        "WHERE watchlist_versions.version = watchlists.current_version) WHERE threshold IS NULL"
    )
    op.execute("UPDATE watchlists SET threshold = 0.5 WHERE threshold IS NULL")
    with op.batch_alter_table("watchlist_versions") as batch:
        batch.drop_column("threshold")
    with op.batch_alter_table("watchlists") as batch:
        batch.alter_column("threshold", existing_type=sa.Double(), nullable=False)
    with op.batch_alter_table("alerts") as batch:
        batch.drop_column("evidence")
