"""The command centre's Alembic migrations, applied by :meth:`vigil.command.database.Database.migrate`.

They run only through that method, which hands :mod:`env` an open connection (there is no ``alembic.ini``).
Write a new revision by hand under ``versions/`` as ``NNNN_what.py`` whose ``down_revision`` is the previous
one; ``tests/command/test_migrations.py`` checks that the migrated schema matches the models on SQLite and on
PostgreSQL.
"""
