"""The command centre: the server that ingests body cameras' events and serves the operators' map.

Build it with :func:`vigil.command.app.create_app` from :class:`vigil.command.settings.CommandSettings`.
Each domain (devices, units, alerts, dispatches, feed, ingestion) has ``models.py`` (tables), ``schemas.py``
(request and response shapes), ``service.py`` (logic) and, where it has an API, ``router.py``.
"""
