"""A command centre with package keys and no scheduler (the tests run its jobs at the times they choose), a
supervisor and an operator signed in, and deployments' requests as the control room sends them."""

import json
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import select

from tests.command.conftest import CreateAccount, RunningServer
from tests.command.governance import Keys, make_keys
from vigil.command.accounts.models import Role
from vigil.command.app import create_app
from vigil.command.audit.models import AuditEntry
from vigil.command.database import Database
from vigil.command.downlink.models import DownlinkMessage
from vigil.command.settings import CommandSettings, SchedulerSettings
from vigil.events import parse_event, utc_now

TRAFALGAR = {
    "type": "Feature",
    "geometry": {"type": "Point", "coordinates": [-0.1281, 51.5081]},
    "properties": {"radius_m": 500},
}
"""A 500 m circle around Trafalgar Square, where the test alerts are raised (``tests.command.events.alert``)."""


@dataclass
class Desk:
    """The control room: the server, its keys, and the people signed in to it."""

    server: RunningServer
    keys: Keys
    supervisor_token: str
    operator_token: str

    def supervisor(self) -> httpx.Client:
        return self.server.client(self.supervisor_token)

    def operator(self) -> httpx.Client:
        return self.server.client(self.operator_token)


# The database comes first, so that it is torn down after the server stops.
@pytest.fixture
def desk(
    database: Database,
    settings: CommandSettings,
    serve: Callable[[FastAPI], RunningServer],
    accounts: CreateAccount,
    tmp_path: Path,
) -> Desk:
    keys = make_keys(tmp_path)
    configured = settings.model_copy(
        update={"watchlists": keys.settings, "scheduler": SchedulerSettings(enabled=False)}
    )
    server = serve(create_app(configured))
    return Desk(
        server=server,
        keys=keys,
        supervisor_token=server.sign_in(accounts("sam", Role.SUPERVISOR)),
        operator_token=server.sign_in(accounts("olivia", Role.OPERATOR)),
    )


def authorised(
    watchlist_ids: list[uuid.UUID], *, starts_in: timedelta = timedelta(0), **changes: Any
) -> dict[str, Any]:
    """A deployment the magistrates authorised an hour ago, starting ``starts_in`` from now, for eight hours."""
    now = utc_now()
    starts_at = now + starts_in
    body: dict[str, Any] = {
        "name": "Op Falcon",
        "purpose": "suspect_localisation",
        "purpose_detail": "Suspect in the Strand robbery (Annex II: armed robbery)",
        "mode": "live",
        "area": TRAFALGAR,
        "starts_at": starts_at.isoformat(),
        "ends_at": (starts_at + timedelta(hours=8)).isoformat(),
        "watchlist_ids": [str(w) for w in watchlist_ids],
        "authorisation": {
            "authority": "Westminster Magistrates' Court",
            "reference": "WMC 2026/881",
            "authorised_by_name": "DJ Harris",
            "decided_at": (now - timedelta(hours=1)).isoformat(),
        },
    }
    return body | changes


def urgent(watchlist_ids: list[uuid.UUID], **changes: Any) -> dict[str, Any]:
    """A deployment started in urgency: no authorisation yet, no start (it starts at once)."""
    body = authorised(watchlist_ids, urgent=True)
    del body["authorisation"], body["starts_at"]
    return body | changes


def decision(*, granted: bool, at: datetime | None = None, **changes: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "granted": granted,
        "authority": "Westminster Magistrates' Court",
        "reference": "WMC 2026/902",
        "authorised_by_name": "DJ Harris",
        "decided_at": (at or utc_now()).isoformat(),
    }
    if not granted:
        body["reason"] = "Not necessary: the suspect was located by other means"
    return body | changes


def audited(database: Database, deployment_id: str) -> list[tuple[str, str, dict[str, Any]]]:
    """The audit trail of a deployment: (actor, action, details), oldest first."""
    with database.session() as session:
        rows = session.execute(
            select(AuditEntry.actor, AuditEntry.action, AuditEntry.details)
            .where(AuditEntry.record_type == "deployment", AuditEntry.record_id == deployment_id)
            .order_by(AuditEntry.seq)
        ).all()
    return [(actor, action, json.loads(details)) for actor, action, details in rows]


def queued(database: Database, event_type: str) -> list[Any]:
    """The events queued for devices of a type, oldest first."""
    with database.session() as session:
        payloads = session.scalars(
            select(DownlinkMessage.payload).where(DownlinkMessage.type == event_type).order_by(DownlinkMessage.id)
        ).all()
    return [parse_event(p) for p in payloads]
