"""Retention API: run the policy now (supervisors and admins); the scheduler runs it on its own too."""

from typing import Annotated

from fastapi import APIRouter, Depends
from starlette.concurrency import run_in_threadpool

from vigil.command.accounts.models import Role
from vigil.command.api.acting import actor_of
from vigil.command.api.dependencies import Principal, RuntimeDep, require
from vigil.command.api.problems import ERROR_RESPONSES
from vigil.command.retention.schemas import RetentionReport
from vigil.command.retention.service import run_retention
from vigil.events import utc_now

router = APIRouter(prefix="/api/v1/retention", tags=["retention"], responses=ERROR_RESPONSES)


@router.post("/run")
async def post_retention_run(
    runtime: RuntimeDep, person: Annotated[Principal, Depends(require(Role.SUPERVISOR, Role.ADMIN))]
) -> RetentionReport:
    """Apply the retention policy now; every deletion is audited."""
    actor = actor_of(person)
    return await run_in_threadpool(
        lambda: run_retention(
            database=runtime.database,
            settings=runtime.settings.retention,
            hold=runtime.retention_hold,
            actor=actor,
            now=utc_now(),
        )
    )
