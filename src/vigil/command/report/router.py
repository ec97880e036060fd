"""Report API (auditors and supervisors): as JSON, or a self-contained HTML page that prints as the published report.

=============================================== ========================================================
route                                           what
=============================================== ========================================================
GET /api/v1/report?from=&to=                    the public report for a period: every device, deployment
GET /api/v1/deployments/{id}/report             one deployment's report: its authorisation and figures
=============================================== ========================================================

An HTML answer carries the reports' Content-Security-Policy (:data:`~vigil.command.report.page.POLICY`): the
page fetches and runs nothing.
"""

import uuid
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Response
from pydantic import AwareDatetime

from vigil.command.accounts.models import Role
from vigil.command.api.dependencies import Principal, SessionDep, require
from vigil.command.api.problems import ERROR_RESPONSES
from vigil.command.report.deployment_html import render_deployment_html
from vigil.command.report.deployment_schemas import DeploymentReport
from vigil.command.report.deployment_service import build_deployment_report
from vigil.command.report.html import render_html
from vigil.command.report.page import POLICY
from vigil.command.report.schemas import PublicReport
from vigil.command.report.service import build_report
from vigil.events import utc_now

router = APIRouter(tags=["report"], responses=ERROR_RESPONSES)

ReportReaderDep = Annotated[Principal, Depends(require(Role.AUDITOR, Role.SUPERVISOR))]
Format = Annotated[Literal["json", "html"], Query(description="json, or html: a page with charts that prints.")]
_HTML: dict[int | str, dict[str, Any]] = {200: {"content": {"text/html": {}}}}


@router.get("/api/v1/report", response_model=PublicReport, responses=_HTML)
def get_report(
    session: SessionDep,
    reader: ReportReaderDep,
    period_from: Annotated[AwareDatetime, Query(alias="from", description="Start, inclusive (RFC 3339).")],
    period_to: Annotated[AwareDatetime, Query(alias="to", description="End, exclusive (RFC 3339).")],
    format: Format = "json",
) -> Response:
    """Faces processed, alerts, confirmed, dismissed, the false-alert rate and "one false alert in N faces"."""
    report = build_report(session=session, period_from=period_from, period_to=period_to, now=utc_now())
    if format == "html":
        return _html(render_html(report))
    return Response(report.model_dump_json(), media_type="application/json")


@router.get("/api/v1/deployments/{deployment_id}/report", response_model=DeploymentReport, responses=_HTML)
def get_deployment_report(
    deployment_id: uuid.UUID, session: SessionDep, reader: ReportReaderDep, format: Format = "json"
) -> Response:
    """A deployment's authorisation and figures: faces, alerts, each verification, outcomes, false-alert rates.

    Also the thresholds and watchlist sizes it ran with. A silent trial's figures are its true and false matches; a
    refused or lapsed deployment's report says its data was deleted, and gives no figures (404: no such deployment).
    """
    report = build_deployment_report(session=session, deployment_id=deployment_id, now=utc_now())
    if format == "html":
        return _html(render_deployment_html(report))
    return Response(report.model_dump_json(), media_type="application/json")


def _html(page: str) -> Response:
    return Response(page, media_type="text/html; charset=utf-8", headers={"Content-Security-Policy": POLICY})
