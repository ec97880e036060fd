"""Alerts API: the list (newest first, without images) and each alert's face crop, whose every view is audited."""

import uuid
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query, Response

from vigil.command.alerts.schemas import AlertList
from vigil.command.alerts.service import get_probe_jpeg, list_alerts
from vigil.command.api.dependencies import OperatorDep, SessionDep
from vigil.command.api.images import jpeg_response
from vigil.command.api.problems import ERROR_RESPONSES
from vigil.command.audit.service import record_action
from vigil.events import utc_now

router = APIRouter(prefix="/api/v1/alerts", tags=["alerts"], responses=ERROR_RESPONSES)


@router.get("")
def get_alerts(
    session: SessionDep,
    operator: OperatorDep,
    before: Annotated[
        datetime | None, Query(description="Only alerts raised before this time (RFC 3339), to page back.")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=1000, description="Most alerts returned.")] = 100,
) -> AlertList:
    """Alerts, newest first, without their images."""
    return list_alerts(session=session, before=before, limit=limit)


@router.get(
    "/{alert_id}/probe.jpg",
    response_class=Response,
    responses={200: {"content": {"image/jpeg": {}}, "description": "The matched face crop."}},
)
def get_alert_probe(alert_id: uuid.UUID, session: SessionDep, operator: OperatorDep) -> Response:
    """An alert's face crop (biometric data: never cached; each view is recorded in the audit trail first)."""
    probe = get_probe_jpeg(session=session, alert_id=alert_id)
    record_action(
        session=session,
        actor=operator.user_id,
        action="alert.probe_viewed",
        record_type="alert",
        record_id=str(alert_id),
        address=operator.address,
        now=utc_now(),
    )
    session.commit()
    return jpeg_response(probe)
