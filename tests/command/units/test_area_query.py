"""PostGIS answers "which units are inside this area now" exactly as the live index does."""

from datetime import UTC, datetime, timedelta

import numpy as np
import pytest
from sqlalchemy import insert

from vigil.bench.dispatch import scatter_over_london, star_polygon
from vigil.command.database import Base, Database
from vigil.command.units.area_query import units_in_area_postgis
from vigil.command.units.live_index import load_unit_index
from vigil.command.units.models import Unit
from vigil.dispatch.area import Area, CircleArea
from vigil.dispatch.geodesy import GeoPoint
from vigil.dispatch.settings import PositionAges
from vigil.dispatch.unit import UnitKind, UnitStatus

NOW = datetime(2026, 12, 2, 12, 0, tzinfo=UTC)
AGES = PositionAges(stale_after_s=60, max_age_s=600)


def _scatter(database: Database, count: int, rng: np.random.Generator) -> None:
    lat, lon = scatter_over_london(count, rng=rng)
    statuses = list(UnitStatus)
    rows = [
        {
            "unit_id": f"unit-{n:05d}",
            "call_sign": f"U{n}",
            "radio_id": None if n % 7 == 0 else f"R{n}",
            "kind": [UnitKind.FOOT, UnitKind.CAR, UnitKind.MOTORCYCLE][n % 3],
            "status": statuses[int(rng.integers(0, len(statuses)))],
            "status_changed_at": NOW,
            "created_at": NOW,
            "position_lat": float(lat[n]),
            "position_lon": float(lon[n]),
            "position_accuracy_m": None if n % 5 == 0 else float(rng.uniform(3, 50)),
            "position_source": "gps",
            # Some fresh, some stale, some too old to count, one ahead of the clock.
            "position_at": NOW - timedelta(seconds=float(rng.choice([0, 30, 90, 599, 601, 3600, -5]))),
        }
        for n in range(count)
    ]
    with database.session() as session:
        session.execute(insert(Base.metadata.tables[Unit.__tablename__]), rows)
        session.commit()


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_postgis_and_the_live_index_give_the_same_answers(database: Database) -> None:
    rng = np.random.default_rng(11)
    _scatter(database, 3000, rng)
    with database.session() as session:
        index = load_unit_index(session=session, ages=AGES)
    areas: list[tuple[Area, GeoPoint]] = []
    for _ in range(25):
        lat, lon = scatter_over_london(1, rng=rng)
        centre = GeoPoint(lat=float(lat[0]), lon=float(lon[0]))
        size = float(rng.choice([300.0, 1000.0, 3000.0]))
        areas.append((CircleArea(centre=centre, radius_m=size), centre))
        target = GeoPoint(lat=centre.lat + 0.001, lon=centre.lon)  # the target need not be the centre
        areas.append((star_polygon(centre, size, rng=rng), target))
    found = 0
    for area, target in areas:
        ours = index.units_in_area(area, target=target, now=NOW).rows()
        with database.session() as session:
            theirs = units_in_area_postgis(session=session, area=area, target=target, now=NOW, ages=AGES)
        assert [u.unit_id for u in theirs] == [u.unit_id for u in ours]
        for mine, postgis in zip(ours, theirs, strict=True):
            assert postgis.distance_m == pytest.approx(mine.distance_m, abs=1e-6)
            assert (postgis.status, postgis.stale, postgis.radio_id) == (mine.status, mine.stale, mine.radio_id)
            assert postgis.position_age_s == pytest.approx(mine.position_age_s)
        found += len(ours)
    assert found > 100  # the areas held units: the comparison was not between two empty answers


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_the_postgis_query_says_it_needs_postgresql(database: Database) -> None:
    with database.session() as session, pytest.raises(ValueError, match="needs PostgreSQL"):
        units_in_area_postgis(
            session=session,
            area=CircleArea(centre=GeoPoint(lat=51.5, lon=0), radius_m=100),
            target=GeoPoint(lat=51.5, lon=0),
            now=NOW,
            ages=AGES,
        )
