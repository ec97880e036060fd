"""Units' latest positions updated in place (PostgreSQL): no spatial index on ``units``, room on each page.

Ingestion moves every reporting unit in each transaction: at 5,000 positions/s from 50 devices, each unit's row is
updated some fifty times a second. With a GiST index on ``units.geog`` (which every move changes) each update
wrote a new row version and new entries in both of the table's indexes, and the dead versions piled up between
autovacuum's visits (49,200 of them for 50 units after 100,000 positions; the update of a batch's units took 1.1
to 1.7 ms). Without that index, and with half of each page left free (``fillfactor`` 50), PostgreSQL updates a
unit's row on its own page without touching an index (a heap-only update) and clears the old versions as it goes.

The index served no query of the product: "which units are inside this area" is answered from each server's
live unit index (``units/live_index.py``); ``units/area_query.py`` answers it in SQL for the tests that hold the
two to the same answers, and scans ``units`` (hundreds of rows to a few thousand) in well under a millisecond. The
positions' track keeps its spatial index. ``devices`` (its ``last_seen_at`` is set in the same transactions)
gets the same free space. SQLite has neither index nor fill factor: nothing changes there.

Revision ID: 0012
Revises: 0011
"""

from alembic import op

revision = "0012"
down_revision: str | None = "0011"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    """Drop the units' spatial index and leave room for updates in place (PostgreSQL)."""
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("DROP INDEX IF EXISTS ix_units_geog")
    op.execute("ALTER TABLE units SET (fillfactor = 50)")
    op.execute("ALTER TABLE devices SET (fillfactor = 50)")


def downgrade() -> None:
    """Put the index back and the default fill factor (PostgreSQL)."""
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("ALTER TABLE devices RESET (fillfactor)")
    op.execute("ALTER TABLE units RESET (fillfactor)")
    op.execute("CREATE INDEX ix_units_geog ON units USING gist (geog)")
