"""Report API: the public report for a period, as JSON or a self-contained HTML page (auditors and supervisors)."""

from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query, Response
from pydantic import AwareDatetime

from vigil.command.accounts.models import Role
from vigil.command.api.dependencies import Principal, SessionDep, require
from vigil.command.api.problems import ERROR_RESPONSES
from vigil.command.report.html import render_html
from vigil.command.report.schemas import PublicReport
from vigil.command.report.service import build_report
from vigil.events import utc_now

router = APIRouter(prefix="/api/v1/report", tags=["report"], responses=ERROR_RESPONSES)

ReportReaderDep = Annotated[Principal, Depends(require(Role.AUDITOR, Role.SUPERVISOR))]


@router.get("", response_model=PublicReport, responses={200: {"content": {"text/html": {}}}})
def get_report(
    session: SessionDep,
    reader: ReportReaderDep,
    period_from: Annotated[AwareDatetime, Query(alias="from", description="Start, inclusive (RFC 3339).")],
    period_to: Annotated[AwareDatetime, Query(alias="to", description="End, exclusive (RFC 3339).")],
    format: Annotated[Literal["json", "html"], Query(description="json, or html with charts.")] = "json",
) -> Response:
    """Faces processed, alerts, confirmed, dismissed, the false-alert rate and "one false alert in N faces"."""
    report = build_report(session=session, period_from=period_from, period_to=period_to, now=utc_now())
    if format == "html":
        return Response(render_html(report), media_type="text/html; charset=utf-8")
    return Response(report.model_dump_json(), media_type="application/json")
