"""Sign-in throttled per source instead of a lock on the account; second-factor secrets sealed.

``sign_in_throttles`` counts failed sign-ins per address, per user at an address and per user from every
address (:mod:`vigil.command.accounts.throttle`); the account's own count and lock (``users.failed_sign_ins``,
``users.locked_until``) go. ``users.totp_secret`` (base32, in clear) becomes ``users.totp_sealed``: each secret
there is sealed under the server's key as it moves (:mod:`vigil.command.accounts.sealing`; the migration is
given the sealer by :meth:`vigil.command.database.Database.migrate`), and going down opens them again.

Revision ID: 0007
Revises: 0006
"""

import sqlalchemy as sa
from alembic import context, op

from vigil.command.database import Sealer
from vigil.command.errors import MigrationFailed

revision = "0007"
down_revision: str | None = "0006"
branch_labels: str | None = None
depends_on: str | None = None


def _time(name: str, *, nullable: bool = False) -> sa.Column[object]:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def _sealer(stored: int) -> Sealer:
    sealer: Sealer | None = context.config.attributes.get("sealer")
    if sealer is None:
        raise MigrationFailed(
            f"{stored} second-factor secret(s) must be sealed (or opened) under the server's key, and this migration "
            "was given none: run it through `vigil serve` or another `vigil` command, which pass it"
        )
    return sealer


def upgrade() -> None:
    """Create ``sign_in_throttles``; seal every second-factor secret; drop the account lock's columns."""
    op.create_table(
        "sign_in_throttles",
        sa.Column("address", sa.String(64), nullable=False),
        sa.Column("user_id", sa.String(64), nullable=False),
        sa.Column("failures", sa.Integer(), nullable=False),
        _time("last_failure_at"),
        _time("blocked_until", nullable=True),
        sa.PrimaryKeyConstraint("address", "user_id", name=op.f("pk_sign_in_throttles")),
    )
    op.create_index(op.f("ix_sign_in_throttles_last_failure_at"), "sign_in_throttles", ["last_failure_at"])
    with op.batch_alter_table("users") as batch:
        batch.add_column(sa.Column("totp_sealed", sa.String(200), nullable=True))
    connection = op.get_bind()
    plain = connection.execute(sa.text("SELECT user_id, totp_secret FROM users WHERE totp_secret IS NOT NULL")).all()
    if plain:
        sealer = _sealer(len(plain))
        for user_id, secret in plain:
            connection.execute(
                sa.text("UPDATE users SET totp_sealed = :sealed WHERE user_id = :user_id"),
                {"sealed": sealer.seal(secret, user_id=user_id), "user_id": user_id},
            )
    with op.batch_alter_table("users") as batch:
        batch.drop_column("totp_secret")
        batch.drop_column("failed_sign_ins")
        batch.drop_column("locked_until")


def downgrade() -> None:
    """Put back the account lock's columns and the secrets in clear; drop ``sign_in_throttles``."""
    with op.batch_alter_table("users") as batch:
        batch.add_column(sa.Column("totp_secret", sa.String(64), nullable=True))
        batch.add_column(sa.Column("failed_sign_ins", sa.Integer(), nullable=True))
        batch.add_column(_time("locked_until", nullable=True))
    connection = op.get_bind()
    connection.execute(sa.text("UPDATE users SET failed_sign_ins = 0"))
    sealed = connection.execute(sa.text("SELECT user_id, totp_sealed FROM users WHERE totp_sealed IS NOT NULL")).all()
    if sealed:
        sealer = _sealer(len(sealed))
        for user_id, stored in sealed:
            connection.execute(
                sa.text("UPDATE users SET totp_secret = :secret WHERE user_id = :user_id"),
                {"secret": sealer.open(stored, user_id=user_id), "user_id": user_id},
            )
    with op.batch_alter_table("users") as batch:
        batch.alter_column("failed_sign_ins", existing_type=sa.Integer(), nullable=False)
        batch.drop_column("totp_sealed")
    op.drop_index(op.f("ix_sign_in_throttles_last_failure_at"), table_name="sign_in_throttles")
    op.drop_table("sign_in_throttles")
