"""Ingestion over HTTP: devices' events with a bearer token, OsmAnd trackers' fixes, and the counters."""

import urllib.parse
from collections.abc import Mapping
from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from vigil.command.api.body import read_body
from vigil.command.api.dependencies import AdminDep, DeviceIdDep, RuntimeDep
from vigil.command.api.problems import ERROR_RESPONSES
from vigil.command.errors import FixRejected, InvalidRequest
from vigil.command.ingestion.batch import ingest_request
from vigil.command.ingestion.osmand import OSMAND_PATH, OsmAndAnswer, ingest_osmand
from vigil.command.ingestion.osmand_json import UnreadableReport, json_reports
from vigil.command.ingestion.schemas import IngestResponse, MetricsReport
from vigil.events import utc_now

router = APIRouter(prefix="/api/v1", tags=["ingestion"], responses=ERROR_RESPONSES)
osmand_router = APIRouter(tags=["osmand"], responses=ERROR_RESPONSES)

_EVENTS_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {
                "schema": {
                    "description": "One event (see vigil.events), or a JSON array of events.",
                    "oneOf": [{"type": "object"}, {"type": "array", "items": {"type": "object"}}],
                }
            }
        },
    }
}


@router.post("/events", openapi_extra=_EVENTS_BODY)
async def post_events(request: Request, device_id: DeviceIdDep, runtime: RuntimeDep) -> IngestResponse:
    """Send events as the device whose token the request carries; each is committed before the answer.

    Forget (delete from the outbox) the ids in ``committed``; a rejected event will never be accepted, and its
    reason says why.
    """
    body = await read_body(request, limit_bytes=runtime.settings.limits.max_request_bytes)

    def run() -> IngestResponse:
        with runtime.database.session() as session:
            return ingest_request(
                session=session,
                body=body,
                authenticated_device_id=device_id,
                limits=runtime.settings.limits,
                metrics=runtime.metrics,
                planning=runtime.dispatch_planning(),
            )

    return await run_in_threadpool(run)


@router.get("/metrics")
def get_metrics(runtime: RuntimeDep, admin: AdminDep) -> MetricsReport:
    """Events accepted, duplicate and rejected (by reason and transport) since the server started (admins)."""
    now = utc_now()
    return MetricsReport(
        started_at=runtime.started_at,
        uptime_s=(now - runtime.started_at).total_seconds(),
        ingestion=runtime.metrics.snapshot(),
    )


@osmand_router.get(OSMAND_PATH + "{secret}", response_class=Response)
@osmand_router.post(OSMAND_PATH + "{secret}", response_class=Response)
async def osmand(secret: str, request: Request, runtime: RuntimeDep) -> Response:
    """Positions from an OsmAnd tracker such as Traccar Client: query, form or JSON (single or batched).

    ``secret`` is the device's OsmAnd secret (`vigil devices register --osmand`): the tracker's server URL is
    ``https://HOST/osmand/<secret>``. Answers 200 once every report is committed or refused for good: an empty
    body when all were stored (a report without a fix stores only its battery level), else
    ``{"refused": [{"reason", "message"}, …]}`` (each is recorded among the rejected events; the tracker may
    forget it: it would be refused again). Answers 400 when the tracker must keep its reports and send them again:
    no readable device id, a device its secret does not authenticate (an unknown id, a wrong secret and a device
    without one all get the same answer, reason ``not_authenticated``), or an SOS that could not be stored.
    """
    body = await read_body(request, limit_bytes=runtime.settings.limits.max_request_bytes)
    query = dict(request.query_params)
    content_type = request.headers.get("content-type", "")
    reports: list[Mapping[str, str] | UnreadableReport] = []
    if body and content_type.startswith("application/json"):
        reports = [r if isinstance(r, UnreadableReport) else query | r for r in json_reports(body)]
    elif body and content_type.startswith("application/x-www-form-urlencoded"):
        query.update(urllib.parse.parse_qsl(body.decode("utf-8", errors="replace")))
    if not reports and query:
        reports = [query]
    if not reports:
        raise InvalidRequest("this is the OsmAnd endpoint: send id, lat, lon and timestamp; the API is at /api/docs")
    raw = request.url.query.encode("utf-8") + (b"\n" + body if body else b"")

    def run() -> OsmAndAnswer:
        with runtime.database.session() as session:
            return ingest_osmand(
                session=session,
                reports=reports,
                secret=secret,
                raw=raw,
                limits=runtime.settings.limits,
                metrics=runtime.metrics,
                planning=runtime.dispatch_planning(),
            )

    answer = await run_in_threadpool(run)
    if answer.retry is not None and answer.retry.reason is not None:
        raise FixRejected(answer.retry.message or "the report was refused", reason=answer.retry.reason.value)
    if not answer.refused:
        return Response(status_code=200)
    refused = [{"reason": r.reason, "message": r.message} for r in answer.refused]
    return JSONResponse({"refused": refused}, status_code=200)
