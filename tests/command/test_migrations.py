"""The migrations build the models' schema on an empty database of each kind, PostGIS columns included."""

import warnings

import pytest
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import text

from vigil.command.database import MIGRATIONS, Database
from vigil.command.errors import DatabaseUnavailable
from vigil.command.tables import Base

# A closed port: the connection is refused at once.
UNREACHABLE = "postgresql+psycopg://postgres@127.0.0.1:1/vigil"


def _postgis_only(obj: object, name: str | None, type_: str, reflected: bool, compare_to: object) -> bool:
    """Leave out PostGIS's own table, and what only the PostgreSQL migration adds: geography columns, indexes."""
    return name not in ("geog", "spatial_ref_sys") and not (name or "").endswith("_geog")


def test_migrations_build_the_models_schema_on_an_empty_database(empty_database: Database) -> None:
    with empty_database.engine.connect() as connection:
        assert not empty_database.engine.dialect.has_table(connection, "units")
    empty_database.migrate()
    with empty_database.engine.connect() as connection, warnings.catch_warnings():
        # SQLAlchemy reflects PostGIS's type without knowing it; _postgis_only leaves those columns out anyway.
        warnings.filterwarnings("ignore", "Did not recognize type 'geography'")
        context = MigrationContext.configure(connection, opts={"compare_type": True, "include_object": _postgis_only})
        differences = compare_metadata(context, Base.metadata)
        version = connection.execute(text("SELECT version_num FROM alembic_version")).scalar_one()
    config = Config()
    config.set_main_option("script_location", MIGRATIONS)
    assert differences == []
    assert version == ScriptDirectory.from_config(config).get_current_head() == "0008"


def test_versions_made_before_0006_carry_their_watchlists_threshold_which_may_follow_the_size_after(
    empty_database: Database,
) -> None:
    empty_database.migrate("0005")
    with empty_database.engine.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO watchlists (watchlist_id, name, threshold, created_by, created_at, current_version) "
                "VALUES ('0b4f6c3e8f4d4f9c9a0e6f5d2c1b0a99', 'Op', 0.45, 'sup', '2026-01-01', 7)"
            )
        )
        connection.execute(
            text(
                "INSERT INTO watchlist_versions (version, watchlist_id, reason, made_by, created_at, valid_until, "
                "subject_ids) VALUES (7, '0b4f6c3e8f4d4f9c9a0e6f5d2c1b0a99', 'approval', 'sup', '2026-01-01', "
                "'2026-02-01', '[]')"
            )
        )
    empty_database.migrate()
    with empty_database.engine.begin() as connection:
        assert connection.execute(text("SELECT threshold FROM watchlist_versions")).scalar_one() == 0.45
        connection.execute(text("UPDATE watchlists SET threshold = NULL"))  # now it may follow the size


def test_migrating_again_changes_nothing(database: Database) -> None:
    database.migrate()
    with database.engine.connect() as connection:
        assert connection.execute(text("SELECT count(*) FROM alembic_version")).scalar_one() == 1


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_postgis_keeps_a_geography_beside_latitude_and_longitude(database: Database) -> None:
    with database.engine.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO units (unit_id, call_sign, kind, status, status_changed_at, created_at, position_lat, "
                "position_lon) VALUES ('A-12', 'A-12', 'foot', 'available', now(), now(), 51.5, -0.12)"
            )
        )
        # Trafalgar Square is about 700 m west of the unit.
        distance_m = connection.execute(
            text("SELECT ST_Distance(geog, ST_SetSRID(ST_MakePoint(-0.128, 51.508), 4326)::geography) FROM units")
        ).scalar_one()
        kind = connection.execute(
            text(
                "SELECT format_type(atttypid, atttypmod) FROM pg_attribute WHERE attrelid = 'positions'::regclass "
                "AND attname = 'geog'"
            )
        ).scalar_one()
    assert 900 < distance_m < 1200
    assert kind == "geography(Point,4326)"


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_sqlite_is_durable_and_checks_foreign_keys(database: Database) -> None:
    with database.engine.connect() as connection:
        pragmas = {
            name: connection.exec_driver_sql(f"PRAGMA {name}").scalar_one()
            for name in ("journal_mode", "synchronous", "foreign_keys")
        }
    assert pragmas == {"journal_mode": "wal", "synchronous": 2, "foreign_keys": 1}


def test_an_unreachable_database_is_unavailable_not_a_crash() -> None:
    database = Database(UNREACHABLE, connect_timeout_s=2)
    with pytest.raises(DatabaseUnavailable, match="unavailable"):
        database.migrate()
    database.dispose()
