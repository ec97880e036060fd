"""Audit API, for auditors: the trail in pages, and its verification.

Reading the trail is itself recorded (``audit.viewed``, ``audit.verified``): who looked at whose actions is
personal data too.
"""

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query
from starlette.concurrency import run_in_threadpool

from vigil.command.api.dependencies import AuditorDep, RuntimeDep, SessionDep
from vigil.command.api.problems import ERROR_RESPONSES
from vigil.command.audit.anchoring import configured_checkpoints
from vigil.command.audit.schemas import AuditPage, ChainReport
from vigil.command.audit.service import read_entries, record_action
from vigil.command.audit.verification import verify_chain
from vigil.command.database import BIGINT_MAX
from vigil.events import utc_now

router = APIRouter(prefix="/api/v1/audit", tags=["audit"], responses=ERROR_RESPONSES)


@router.get("")
def get_audit(
    auditor: AuditorDep,
    session: SessionDep,
    after: Annotated[int, Query(ge=0, le=BIGINT_MAX, description="The last seq already read; entries after it.")] = 0,
    limit: Annotated[int, Query(ge=1, le=5000, description="Most entries returned.")] = 500,
    since: Annotated[datetime | None, Query(description="Only entries at or after this time (RFC 3339).")] = None,
    until: Annotated[datetime | None, Query(description="Only entries at or before this time (RFC 3339).")] = None,
    actor: Annotated[str | None, Query(max_length=80, description="Only this actor's entries.")] = None,
    record_type: Annotated[str | None, Query(max_length=64, description="Only entries about this kind.")] = None,
    record_id: Annotated[str | None, Query(max_length=200, description="Only entries about this record.")] = None,
) -> AuditPage:
    """Audit entries after ``after`` in chain order, each with its hashes; follow ``next_after`` for more."""
    page = read_entries(
        session=session,
        after=after,
        limit=limit,
        since=since,
        until=until,
        actor=actor,
        record_type=record_type,
        record_id=record_id,
    )
    filters = {"actor": actor, "record_type": record_type, "record_id": record_id}
    record_action(
        session=session,
        actor=auditor.user_id,
        action="audit.viewed",
        record_type="audit",
        record_id=None,
        address=auditor.address,
        details={"after": after, "entries": len(page.entries), **{k: v for k, v in filters.items() if v is not None}},
        now=utc_now(),
    )
    session.commit()
    return page


@router.get("/verify")
async def get_audit_verification(auditor: AuditorDep, runtime: RuntimeDep) -> ChainReport:
    """Check every entry's hash and link, and the trail against the server's signed checkpoints when it keeps them.

    Names each entry edited, missing or moved, entries rewritten or cut off since a checkpoint, and checkpoints
    refused (not signed by the server's key, or changed).
    """

    def run() -> ChainReport:
        checkpoints = configured_checkpoints(runtime.settings.audit)
        report = verify_chain(database=runtime.database, checkpoints=checkpoints)
        anchored = {"checkpoints": report.anchor.checkpoints} if report.anchor is not None else {}
        with runtime.database.session() as session:
            record_action(
                session=session,
                actor=auditor.user_id,
                action="audit.verified",
                record_type="audit",
                record_id=None,
                address=auditor.address,
                details={
                    "intact": report.intact,
                    "entries": report.entries,
                    "problems": len(report.problems),
                    **anchored,
                },
                now=utc_now(),
            )
            session.commit()
        return report

    return await run_in_threadpool(run)
