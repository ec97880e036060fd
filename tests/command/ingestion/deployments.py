"""Deployment rows for the tests of what ingestion and review do with a governed watchlist's alerts.

Made with the ORM, as the deployments API records them, so that these tests stand apart from that API.
"""

import uuid
from datetime import datetime, timedelta
from typing import Any

from vigil.command.database import Database
from vigil.command.deployments.models import Deployment, DeploymentPurpose, DeploymentState, DeploymentWatchlist
from vigil.command.watchlists.models import WatchlistVersion
from vigil.events import DeploymentMode, utc_now

TRAFALGAR = {
    "type": "Feature",
    "geometry": {"type": "Point", "coordinates": [-0.1281, 51.5081]},
    "properties": {"radius_m": 500},
}
"""A 500 m circle around Trafalgar Square, where the test alerts are raised (``tests.command.events.alert``)."""


def deploy(
    database: Database,
    *,
    version: int = 3,
    state: DeploymentState = DeploymentState.AUTHORISED,
    mode: DeploymentMode = DeploymentMode.LIVE,
    starts_at: datetime | None = None,
    ends_at: datetime | None = None,
    area: dict[str, Any] | None = None,
    name: str = "Op Falcon",
) -> uuid.UUID:
    """Record a deployment of the watchlist that ``version`` belongs to; returns its id.

    By default it is authorised, live, around Trafalgar Square, and runs from an hour ago for two hours.
    """
    now = utc_now()
    deployment = Deployment(
        deployment_id=uuid.uuid4(),
        name=name,
        purpose=DeploymentPurpose.SUSPECT_LOCALISATION,
        purpose_detail="Suspect in the Strand robbery (Annex II: armed robbery)",
        mode=mode,
        area=area if area is not None else TRAFALGAR,
        starts_at=starts_at if starts_at is not None else now - timedelta(hours=1),
        ends_at=ends_at if ends_at is not None else now + timedelta(hours=1),
        state=state,
        urgent=False,
        requested_by="u-sam",
        requested_by_name="Sam Supervisor",
        requested_at=now - timedelta(hours=2),
        authority="Westminster Magistrates' Court",
        authority_reference="WMC 2026/881",
        authorised_by_name="DJ Harris",
        decided_at=now - timedelta(hours=2),
    )
    with database.session() as session:
        watchlist_id = session.get_one(WatchlistVersion, version).watchlist_id
        session.add(deployment)
        session.flush()
        session.add(DeploymentWatchlist(deployment_id=deployment.deployment_id, watchlist_id=watchlist_id))
        session.commit()
    return deployment.deployment_id
