"""Dispatch: areas on the map, the live index of units inside them, ranking, and escalation.

Pure logic, with no database, bus or threads of its own; the command centre drives it.

| module | what it owns |
|---|---|
| ``geodesy`` | points, and great-circle distances on the sphere PostGIS uses |
| ``area``, ``area_geojson`` | circles and polygons, what is inside them, and reading them from GeoJSON |
| ``unit`` | a unit's kind and status, and what the live index holds for it |
| ``cell_grid``, ``unit_index``, ``area_answer`` | the live index: which units are inside an area now, how far away |
| ``eta``, ``road_network`` | estimated arrival: straight line by default, along the streets from a file |
| ``ranking`` | units ranked for a target, and the ones suggested for a dispatch |
| ``escalation`` | overdue and declined orders, and the unit proposed next |
| ``settings`` | :class:`~vigil.dispatch.settings.DispatchSettings` |
"""
