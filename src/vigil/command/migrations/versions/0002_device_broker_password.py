"""Devices get their MQTT broker credential: the Mosquitto hash of their token.

Devices registered before this revision have none, so ``vigil devices broker-config`` leaves them out of the
broker's password file (and says so); register a replacement under a new id to give one broker access.

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision: str | None = "0001"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    """Add ``devices.broker_password_hash``."""
    with op.batch_alter_table("devices") as batch:
        batch.add_column(sa.Column("broker_password_hash", sa.String(200), nullable=True))


def downgrade() -> None:
    """Drop ``devices.broker_password_hash``."""
    with op.batch_alter_table("devices") as batch:
        batch.drop_column("broker_password_hash")
