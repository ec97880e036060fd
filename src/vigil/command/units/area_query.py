"""The units inside an area now, asked of PostGIS: the same answers as the live index, from the database.

The live index (:mod:`vigil.command.units.live_index`) answers operators in microseconds; this query answers
from the stored latest positions, for reports, for checking the index, and for a deployment too large to hold in
memory. Both apply the same rules (:mod:`vigil.dispatch.unit_index`): not off duty, a position at most
``max_age_s`` old, inside the area with its boundary, distance by the great circle on the WGS 84 mean sphere,
nearest first, then by unit id.

* A circle is ``ST_DWithin(geog, centre, radius, false)``: ``false`` measures on the sphere, as Vigil's
  haversine does (on the spheroid, points within a metre of the edge would be answered differently).
* A polygon is ``ST_Intersects(geog::geometry, polygon)``: edges straight in longitude/latitude (as GeoJSON's,
  Shapely's and Vigil's), and a point on an edge or corner is inside.
"""

import json
from datetime import datetime, timedelta

from sqlalchemy import text
from sqlalchemy.orm import Session

from vigil.dispatch.area import Area, CircleArea
from vigil.dispatch.area_answer import UnitInArea
from vigil.dispatch.geodesy import GeoPoint
from vigil.dispatch.settings import PositionAges
from vigil.dispatch.unit import UnitKind, UnitStatus

_COLUMNS = """
    unit_id, call_sign, radio_id, kind, status, position_lat, position_lon,
    ST_Distance(geog, ST_SetSRID(ST_MakePoint(:target_lon, :target_lat), 4326)::geography, false) AS distance_m,
    position_accuracy_m, position_at
"""
_FILTERS = "status <> 'off_duty' AND position_at IS NOT NULL AND position_at >= :oldest"
_CIRCLE = text(
    f"SELECT {_COLUMNS} FROM units WHERE {_FILTERS} AND ST_DWithin(geog, "
    "ST_SetSRID(ST_MakePoint(:centre_lon, :centre_lat), 4326)::geography, :radius_m, false) "
    "ORDER BY distance_m, unit_id"
)
_POLYGON = text(
    f"SELECT {_COLUMNS} FROM units WHERE {_FILTERS} AND ST_Intersects(geog::geometry, "
    "ST_SetSRID(ST_GeomFromGeoJSON(:area), 4326)) ORDER BY distance_m, unit_id"
)


def units_in_area_postgis(
    *, session: Session, area: Area, target: GeoPoint, now: datetime, ages: PositionAges
) -> list[UnitInArea]:
    """The units inside an area now, nearest the target first, from PostGIS.

    Raises:
        ValueError: the session is not on PostgreSQL.
    """
    if session.get_bind().dialect.name != "postgresql":
        raise ValueError("the PostGIS query needs PostgreSQL; on SQLite the live unit index answers alone")
    parameters: dict[str, object] = {
        "target_lat": target.lat,
        "target_lon": target.lon,
        "oldest": now - timedelta(seconds=ages.max_age_s),
    }
    if isinstance(area, CircleArea):
        statement = _CIRCLE
        parameters |= {"centre_lat": area.centre.lat, "centre_lon": area.centre.lon, "radius_m": area.radius_m}
    else:
        statement = _POLYGON
        parameters["area"] = json.dumps(area.to_geojson())
    rows = session.execute(statement, parameters)
    answer = []
    for unit_id, call_sign, radio_id, kind, status, lat, lon, distance, accuracy, at in rows:
        age = max((now - at).total_seconds(), 0.0)
        answer.append(
            UnitInArea(
                unit_id=unit_id,
                call_sign=call_sign,
                radio_id=radio_id,
                kind=UnitKind(kind),
                status=UnitStatus(status),
                lat=lat,
                lon=lon,
                distance_m=float(distance),
                accuracy_m=accuracy,
                position_age_s=age,
                stale=age > ages.stale_after_s,
            )
        )
    return answer
