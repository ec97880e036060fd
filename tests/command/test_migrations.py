"""The migrations build the models' schema on an empty database of each kind, PostGIS columns included."""

import uuid
import warnings

import alembic.command
import pytest
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import inspect, select, text

from vigil.command.alerts.models import Alert
from vigil.command.database import MIGRATIONS, Database
from vigil.command.errors import DatabaseUnavailable
from vigil.command.ingestion.models import RejectedEvent, RejectReason, Transport
from vigil.command.tables import Base
from vigil.command.watchlists.models import VersionReason, Watchlist, WatchlistTemplate, WatchlistVersion
from vigil.events import utc_now
from vigil.vision.face_model import DLIB_MODEL_ID

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
    assert version == ScriptDirectory.from_config(config).get_current_head() == "0014"


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


def test_rows_made_before_0009_are_dlibs_and_the_model_change_reasons_are_taken_after(
    empty_database: Database,
) -> None:
    empty_database.migrate("0008")
    statements = [
        "INSERT INTO units (unit_id, call_sign, kind, status, status_changed_at, created_at) "
        "VALUES ('A-12', 'A-12', 'foot', 'available', '2026-01-01', '2026-01-01')",
        "INSERT INTO devices (device_id, unit_id, token_sha256, created_at) "
        "VALUES ('cam-1', 'A-12', 'ab', '2026-01-01')",
        "INSERT INTO ingested_events (event_id, type, device_id, transport, at, received_at) "
        "VALUES ('5a0c1a1e6d7b4c2e9f0a1b2c3d4e5f60', 'alert.raised', 'cam-1', 'http', '2026-01-01', '2026-01-01')",
        "INSERT INTO alerts (alert_id, event_id, device_id, unit_id, subject_id, watchlist_version, distance, "
        "threshold, quality_score, quality_parts, frames, first_seen_at, raised_at, received_at) VALUES "
        "('6b1d2b2f7e8c4d3f8a1b2c3d4e5f6071', '5a0c1a1e6d7b4c2e9f0a1b2c3d4e5f60', 'cam-1', 'A-12', 'obama', 7, 0.4, "
        "0.5, 0.8, '{}', 3, '2026-01-01', '2026-01-01', '2026-01-01')",
        "INSERT INTO watchlists (watchlist_id, name, threshold, created_by, created_at, current_version) "
        "VALUES ('0b4f6c3e8f4d4f9c9a0e6f5d2c1b0a99', 'Op', 0.45, 'sup', '2026-01-01', 7)",
        "INSERT INTO watchlist_subjects (id, watchlist_id, subject_id, display_name, category, legal_basis, "
        "expires_at, notes, state, proposed_by, proposed_by_name, proposed_at) VALUES "
        "('1c2d3e4f5a6b4c7d8e9f0a1b2c3d4e5f', '0b4f6c3e8f4d4f9c9a0e6f5d2c1b0a99', 'obama', 'Obama', "
        "'wanted_suspect', 'Warrant 1', '2027-01-01', '', 'live', 'op', 'Op', '2026-01-01')",
        "INSERT INTO watchlist_templates (subject_row_id, source, embedding, chip_jpeg, quality_score, quality) "
        "VALUES ('1c2d3e4f5a6b4c7d8e9f0a1b2c3d4e5f', 'a.jpg', :embedding, :chip, 0.8, '{}')",
        "INSERT INTO watchlist_versions (version, watchlist_id, reason, made_by, created_at, valid_until, "
        "subject_ids, threshold) VALUES (7, '0b4f6c3e8f4d4f9c9a0e6f5d2c1b0a99', 'approval', 'sup', '2026-01-01', "
        "'2026-02-01', '[\"obama\"]', 0.45)",
    ]
    with empty_database.engine.begin() as connection:
        for statement in statements:
            connection.execute(text(statement), {"embedding": bytes(512), "chip": b"\xff\xd8"})
    empty_database.migrate()
    with empty_database.session() as session:
        models = {
            table.__tablename__: set(session.scalars(select(table.model)))
            for table in (Watchlist, WatchlistTemplate, WatchlistVersion, Alert)
        }
        # A version made when the watchlist is re-embedded, and an alert of another model, are stored.
        session.add(
            WatchlistVersion(
                version=8,
                watchlist_id=uuid.UUID("0b4f6c3e8f4d4f9c9a0e6f5d2c1b0a99"),
                reason=VersionReason.MODEL_CHANGE,
                made_by="sup",
                created_at=utc_now(),
                valid_until=utc_now(),
                subject_ids=["obama"],
                threshold=0.45,
                model="arcface_r50:2:abababababab",
            )
        )
        session.add(
            RejectedEvent(
                received_at=utc_now(),
                transport=Transport.HTTP,
                reason=RejectReason.MODEL_MISMATCH,
                message="another model",
                raw=b"{}",
                raw_size=2,
            )
        )
        session.commit()
        reasons = (session.scalars(select(WatchlistVersion.reason)).all(), session.scalar(select(RejectedEvent.reason)))
    assert models == {
        "watchlists": {DLIB_MODEL_ID},
        "watchlist_templates": {DLIB_MODEL_ID},
        "watchlist_versions": {DLIB_MODEL_ID},
        "alerts": {DLIB_MODEL_ID},
    }
    assert reasons == ([VersionReason.APPROVAL, VersionReason.MODEL_CHANGE], RejectReason.MODEL_MISMATCH)


def test_a_database_goes_back_below_0009_with_its_model_change_versions_as_renewals(
    empty_database: Database,
) -> None:
    empty_database.migrate("0009")
    with empty_database.engine.connect() as connection:
        driver = connection.connection.dbapi_connection
        if empty_database.dialect == "sqlite" and driver is not None:
            # As Database.migrate does: SQLite rebuilds a table to drop a column while others refer to it.
            driver.execute("PRAGMA foreign_keys = OFF")
        with connection.begin():
            connection.execute(
                text(
                    "INSERT INTO watchlists (watchlist_id, name, model, created_by, created_at, current_version) "
                    "VALUES ('0b4f6c3e8f4d4f9c9a0e6f5d2c1b0a99', 'Op', 'm:1:abababababab', 'sup', '2026-01-01', 7)"
                )
            )
            connection.execute(
                text(
                    "INSERT INTO watchlist_versions (version, watchlist_id, reason, made_by, created_at, valid_until, "
                    "subject_ids, threshold, model) VALUES (7, '0b4f6c3e8f4d4f9c9a0e6f5d2c1b0a99', 'model_change', "
                    "'sup', '2026-01-01', '2026-02-01', '[]', 0.45, 'm:1:abababababab')"
                )
            )
            config = Config()
            config.set_main_option("script_location", MIGRATIONS)
            config.attributes["connection"] = connection
            alembic.command.downgrade(config, "0008")
            reason = connection.execute(text("SELECT reason FROM watchlist_versions")).scalar_one()
            columns = {column["name"] for column in inspect(connection).get_columns("watchlist_versions")}
    assert (reason, "model" in columns) == ("renewal", False)


def test_a_database_goes_back_below_0010_with_its_threshold_change_versions_as_renewals(
    empty_database: Database,
) -> None:
    empty_database.migrate("0010")
    with empty_database.engine.connect() as connection:
        driver = connection.connection.dbapi_connection
        if empty_database.dialect == "sqlite" and driver is not None:
            driver.execute("PRAGMA foreign_keys = OFF")  # as Database.migrate does
        with connection.begin():
            connection.execute(
                text(
                    "INSERT INTO watchlists (watchlist_id, name, threshold, looser_threshold_reason, model, "
                    "created_by, created_at, current_version) VALUES ('0b4f6c3e8f4d4f9c9a0e6f5d2c1b0a99', 'Op', 0.5, "
                    "'A crowd of 40,000', 'm:1:abababababab', 'sup', '2026-01-01', 7)"
                )
            )
            connection.execute(
                text(
                    "INSERT INTO watchlist_versions (version, watchlist_id, reason, made_by, created_at, valid_until, "
                    "subject_ids, threshold, model, size_threshold, threshold_basis, expected) VALUES (7, "
                    "'0b4f6c3e8f4d4f9c9a0e6f5d2c1b0a99', 'threshold_change', 'sup', '2026-01-01', '2026-02-01', '[]', "
                    "0.5, 'm:1:abababababab', 0.48, 'looser', '{}')"
                )
            )
            config = Config()
            config.set_main_option("script_location", MIGRATIONS)
            config.attributes["connection"] = connection
            alembic.command.downgrade(config, "0009")
            reason = connection.execute(text("SELECT reason FROM watchlist_versions")).scalar_one()
            columns = {column["name"] for column in inspect(connection).get_columns("watchlist_versions")}
            watchlist = {column["name"] for column in inspect(connection).get_columns("watchlists")}
    assert reason == "renewal"
    assert not columns & {
        "size_threshold",
        "chosen_threshold",
        "threshold_basis",
        "looser_threshold_reason",
        "expected",
    }
    assert "looser_threshold_reason" not in watchlist


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


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_a_units_move_is_updated_in_place_and_the_track_keeps_its_spatial_index(database: Database) -> None:
    with database.engine.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO units (unit_id, call_sign, kind, status, status_changed_at, created_at) "
                "VALUES ('A-12', 'A-12', 'foot', 'available', now(), now())"
            )
        )
        for step in range(50):
            connection.execute(
                text("UPDATE units SET position_lat = :lat, position_lon = -0.12, position_at = now()"),
                {"lat": 51.5 + step * 1e-5},
            )
        # This transaction's own counts: every move a heap-only update, touching no index.
        updates, in_place = connection.execute(
            text("SELECT n_tup_upd, n_tup_hot_upd FROM pg_stat_xact_user_tables WHERE relid = 'units'::regclass")
        ).one()
        indexes = set(
            connection.scalars(
                text(
                    "SELECT indexname FROM pg_indexes "
                    "WHERE tablename IN ('units', 'positions') AND schemaname = current_schema()"
                )
            )
        )
        options = connection.scalar(text("SELECT reloptions FROM pg_class WHERE oid = 'units'::regclass"))
    assert (updates, in_place) == (50, 50)
    assert "ix_units_geog" not in indexes
    assert "ix_positions_geog" in indexes
    assert options == ["fillfactor=50"]


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


def test_incidents_before_0011_stay_alerts_and_going_back_drops_the_emergencies_incidents(
    empty_database: Database,
) -> None:
    empty_database.migrate("0010")
    before = [
        "INSERT INTO units (unit_id, call_sign, kind, status, status_changed_at, created_at) "
        "VALUES ('A-12', 'A-12', 'foot', 'available', '2026-01-01', '2026-01-01')",
        "INSERT INTO devices (device_id, unit_id, token_sha256, created_at) "
        "VALUES ('cam-1', 'A-12', 'ab', '2026-01-01')",
        "INSERT INTO ingested_events (event_id, type, device_id, transport, at, received_at) "
        "VALUES ('5a0c1a1e6d7b4c2e9f0a1b2c3d4e5f60', 'alert.raised', 'cam-1', 'http', '2026-01-01', '2026-01-01')",
        "INSERT INTO alerts (alert_id, event_id, device_id, unit_id, subject_id, watchlist_version, distance, "
        "threshold, quality_score, quality_parts, frames, first_seen_at, raised_at, received_at, model) VALUES "
        "('6b1d2b2f7e8c4d3f8a1b2c3d4e5f6071', '5a0c1a1e6d7b4c2e9f0a1b2c3d4e5f60', 'cam-1', 'A-12', 'obama', 7, 0.4, "
        "0.5, 0.8, '{}', 3, '2026-01-01', '2026-01-01', '2026-01-01', 'm:1:abababababab')",
        _INCIDENT + "'7c2e3c3f8f9d4e4f9b2c3d4e5f607182', '6b1d2b2f7e8c4d3f8a1b2c3d4e5f6071', 'obama', "
        "'6b1d2b2f7e8c4d3f8a1b2c3d4e5f6071')",
    ]
    with empty_database.engine.begin() as connection:
        for statement in before:
            connection.execute(text(statement))
    empty_database.migrate()
    after = [
        "INSERT INTO ingested_events (event_id, type, device_id, transport, at, received_at) VALUES "
        "('8d3f4d4a9a0e4f5a8c3d4e5f60718293', 'officer.emergency', 'cam-1', 'http', '2026-01-02', '2026-01-02')",
        "INSERT INTO emergencies (emergency_id, event_id, unit_id, device_id, trigger, status, raised_at, "
        "received_at) VALUES ('9e4a5e5b0b1f4a6b9d4e5f6071829304', '8d3f4d4a9a0e4f5a8c3d4e5f60718293', 'A-12', "
        "'cam-1', 'handset', 'open', '2026-01-02', '2026-01-02')",
        _INCIDENT.replace("target_alert_id)", "target_alert_id, emergency_id)")
        + "'0f5b6f6c1c2a4b7c8e5f607182930415', NULL, NULL, NULL, '9e4a5e5b0b1f4a6b9d4e5f6071829304')",
        "INSERT INTO dispatch_orders (dispatch_id, incident_id, unit_id, state, revision, unit_status_before, "
        "instructions, sent_by, sent_at, reason) VALUES ('1a6c7a7d2d3b4c8d9f60718293041526', "
        "'0f5b6f6c1c2a4b7c8e5f607182930415', 'A-12', 'sent', 1, 'available', '', 'op', '2026-01-02', '')",
    ]
    with empty_database.engine.begin() as connection:
        kept = connection.execute(text("SELECT subject_id, emergency_id FROM incidents")).one()
        for statement in after:
            connection.execute(text(statement))
    assert tuple(kept) == ("obama", None)
    with empty_database.engine.connect() as connection:
        driver = connection.connection.dbapi_connection
        if empty_database.dialect == "sqlite" and driver is not None:
            driver.execute("PRAGMA foreign_keys = OFF")  # as Database.migrate does
        with connection.begin():
            config = Config()
            config.set_main_option("script_location", MIGRATIONS)
            config.attributes["connection"] = connection
            alembic.command.downgrade(config, "0010")
            incidents = connection.execute(text("SELECT subject_id FROM incidents")).scalars().all()
            orders = connection.execute(text("SELECT count(*) FROM dispatch_orders")).scalar_one()
            columns = {c["name"]: c["nullable"] for c in inspect(connection).get_columns("incidents")}
            tables = set(inspect(connection).get_table_names())
    assert (incidents, orders, "emergencies" in tables) == (["obama"], 0, False)
    assert "emergency_id" not in columns
    assert not any(columns[name] for name in ("alert_id", "subject_id", "target_alert_id"))


_INCIDENT = (
    "INSERT INTO incidents (status, target_lat, target_lon, target_at, target_revision, area, opened_by, opened_at, "
    "incident_id, alert_id, subject_id, target_alert_id) VALUES ('open', 51.5, -0.12, '2026-01-01', 1, '{}', 'op', "
    "'2026-01-01', "
)
"""An incident row up to its ids (0005's columns), for the migration tests to finish."""
