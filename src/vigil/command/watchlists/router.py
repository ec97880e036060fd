"""Watchlists API: deployments' watchlists, proposals with photos, approval by a second person, removal, devices.

Roles (the services enforce the two-person rule again, whatever the route):

====================================================== =====================================
route                                                   roles
====================================================== =====================================
GET  /api/v1/watchlists, /api/v1/watchlists/{id}        operator, supervisor, auditor
POST /api/v1/watchlists                                 supervisor
PUT  /api/v1/watchlists/{id}/threshold                  supervisor
GET  /api/v1/watchlists/{id}/expectation                operator, supervisor, auditor
POST /api/v1/watchlists/{id}/subjects                   operator, supervisor (the proposer)
POST …/subjects/{subject_id}/approve                    supervisor, never the proposer
POST …/subjects/{subject_id}/remove                     supervisor; the proposer may withdraw a proposal
POST /api/v1/watchlists/{id}/reembed                    supervisor
GET  …/subjects/{subject_id}/templates/{n}/chip.jpg     operator, supervisor (audited)
PUT  /api/v1/watchlists/{id}/devices/{device_id}        supervisor, admin
GET  /api/v1/device/watchlist/{version}                 the device itself (its token)
====================================================== =====================================
"""

import uuid
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Request, Response
from fastapi.exceptions import RequestValidationError
from pydantic import ValidationError
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from vigil.command.accounts.models import Role
from vigil.command.api.acting import actor_of
from vigil.command.api.body import read_body
from vigil.command.api.dependencies import DeviceIdDep, Principal, RuntimeDep, SessionDep, require
from vigil.command.api.images import jpeg_response
from vigil.command.api.problems import ERROR_RESPONSES
from vigil.command.audit.service import record_action
from vigil.command.database import BIGINT_MAX, INTEGER_MAX
from vigil.command.runtime import ServerRuntime
from vigil.command.watchlists.reembedding import reembed_watchlist
from vigil.command.watchlists.schemas import (
    ApprovalOut,
    ProposalRequest,
    Reembedded,
    RemovalRequest,
    SubjectOut,
    ThresholdChange,
    ThresholdOut,
    WatchlistCreate,
    WatchlistDetail,
    WatchlistList,
    WatchlistOut,
)
from vigil.command.watchlists.service import (
    assign_device,
    change_threshold,
    create_watchlist,
    get_watchlist,
    list_watchlists,
    watchlist_out,
    watchlist_row,
)
from vigil.command.watchlists.subjects import approve_subject, propose_subject, remove_subject, subject_chip
from vigil.command.watchlists.thresholds import approval_out, preview_threshold
from vigil.command.watchlists.versions import device_package, sync_packages
from vigil.events import utc_now

router = APIRouter(prefix="/api/v1/watchlists", tags=["watchlists"], responses=ERROR_RESPONSES)
device_router = APIRouter(prefix="/api/v1/device", tags=["devices"], responses=ERROR_RESPONSES)

ReaderDep = Annotated[Principal, Depends(require(Role.OPERATOR, Role.SUPERVISOR, Role.AUDITOR))]
ProposerDep = Annotated[Principal, Depends(require(Role.OPERATOR, Role.SUPERVISOR))]
SupervisorOnlyDep = Annotated[Principal, Depends(require(Role.SUPERVISOR))]
AssignerDep = Annotated[Principal, Depends(require(Role.SUPERVISOR, Role.ADMIN))]


def _inlined(schema: Any, definitions: dict[str, Any]) -> Any:
    """``schema`` with each ``{"$ref": "#/$defs/X"}`` replaced by the definition of X (the models nest, never recur).

    A body schema written into the OpenAPI document by hand cannot keep its own ``$defs``: there, ``#/$defs/…``
    would be read from the document's root, where nothing is.
    """
    if isinstance(schema, list):
        return [_inlined(item, definitions) for item in schema]
    if not isinstance(schema, dict):
        return schema
    if "$ref" in schema:
        return _inlined(definitions[schema["$ref"].removeprefix("#/$defs/")], definitions)
    return {key: _inlined(value, definitions) for key, value in schema.items() if key != "$defs"}


_PROPOSAL_SCHEMA = ProposalRequest.model_json_schema()
_PROPOSAL_BODY = {
    "requestBody": {
        "required": True,
        "content": {"application/json": {"schema": _inlined(_PROPOSAL_SCHEMA, _PROPOSAL_SCHEMA.get("$defs", {}))}},
    }
}


@router.get("")
def get_watchlists(session: SessionDep, reader: ReaderDep) -> WatchlistList:
    """Every watchlist, newest first, with its scope, current version, devices and subjects per state."""
    return list_watchlists(session=session)


@router.post("", status_code=201)
def post_watchlist(
    request: WatchlistCreate, session: SessionDep, supervisor: SupervisorOnlyDep, runtime: RuntimeDep
) -> WatchlistOut:
    """Create a watchlist for a deployment (optionally an area and a time window), made with the server's face model."""
    model = runtime.enroller.model().model_id
    created = create_watchlist(
        session=session,
        request=request,
        model=model,
        vision=runtime.settings.watchlists.vision,
        actor=actor_of(supervisor),
        now=utc_now(),
    )
    session.commit()
    return created


@router.put("/{watchlist_id}/threshold")
def put_threshold(
    watchlist_id: uuid.UUID,
    request: ThresholdChange,
    session: SessionDep,
    supervisor: SupervisorOnlyDep,
    runtime: RuntimeDep,
) -> WatchlistOut:
    """Choose the watchlist's threshold (null: by its face model and size); a new version goes to the devices.

    A threshold looser than the one for the watchlist's model and live size needs looser_threshold_reason (422
    without it, with the threshold by size and what it expects).
    """
    now = utc_now()
    changed = change_threshold(
        session=session,
        watchlist_id=watchlist_id,
        request=request,
        actor=actor_of(supervisor),
        settings=runtime.settings.watchlists,
        now=now,
    )
    _sync(session, runtime, watchlist_id, now)
    session.commit()
    return changed


@router.get("/{watchlist_id}/expectation")
def get_expectation(
    watchlist_id: uuid.UUID,
    session: SessionDep,
    reader: ReaderDep,
    runtime: RuntimeDep,
    size: Annotated[
        int | None,
        Query(ge=0, le=1_000_000, description="People on the watchlist; default: one more than live now."),
    ] = None,
) -> ThresholdOut:
    """The threshold the watchlist would run at with ``size`` people, and what it would be expected to do.

    By default the size after approving one more entry: what the approver is shown before approving.
    """
    return preview_threshold(
        session=session, watchlist_id=watchlist_id, size=size, vision=runtime.settings.watchlists.vision, now=utc_now()
    )


@router.get("/{watchlist_id}")
def get_watchlist_detail(
    watchlist_id: uuid.UUID, session: SessionDep, reader: ReaderDep, runtime: RuntimeDep
) -> WatchlistDetail:
    """A watchlist, every subject with its record and quality verdicts, and every version."""
    return get_watchlist(session=session, watchlist_id=watchlist_id, packages_enabled=runtime.package_keys is not None)


@router.post("/{watchlist_id}/subjects", status_code=201, openapi_extra=_PROPOSAL_BODY)
async def post_proposal(
    watchlist_id: uuid.UUID, request: Request, proposer: ProposerDep, runtime: RuntimeDep
) -> SubjectOut:
    """Propose a subject with photos; each must show one face that passes the quality bar (422 says why not).

    Only the templates are kept, never the photos. Nobody searches for the subject until a supervisor other
    than the proposer approves it.
    """
    body = await read_body(request, limit_bytes=runtime.settings.watchlists.max_enrolment_bytes)
    try:
        proposal = ProposalRequest.model_validate_json(body)
    except ValidationError as exc:
        raise RequestValidationError(exc.errors()) from exc
    photos = proposal.photos[: runtime.settings.watchlists.max_photos + 1]
    if len(photos) > runtime.settings.watchlists.max_photos:
        raise RequestValidationError(
            [
                {
                    "loc": ("body", "photos"),
                    "msg": f"at most {runtime.settings.watchlists.max_photos} photos",
                    "type": "too_long",
                }
            ]
        )
    actor = actor_of(proposer)

    def run() -> SubjectOut:
        faces = runtime.enroller.enrol(photos, subject_id=proposal.subject.subject_id)
        with runtime.database.session() as session:
            proposed = propose_subject(
                session=session,
                watchlist_id=watchlist_id,
                proposal=proposal.subject,
                faces=faces,
                sources=[photo.name for photo in photos],
                actor=actor,
                now=utc_now(),
            )
            session.commit()
        return proposed

    return await run_in_threadpool(run)


@router.post("/{watchlist_id}/subjects/{subject_id}/approve")
def post_approval(
    watchlist_id: uuid.UUID, subject_id: str, session: SessionDep, supervisor: SupervisorOnlyDep, runtime: RuntimeDep
) -> ApprovalOut:
    """Approve a proposal (a supervisor who did not propose it): a new version goes to the devices.

    The answer says what the new version's threshold is expected to do at its size.
    """
    now = utc_now()
    subject, version = approve_subject(
        session=session,
        watchlist_id=watchlist_id,
        subject_id=subject_id,
        actor=actor_of(supervisor),
        settings=runtime.settings.watchlists,
        now=now,
    )
    _sync(session, runtime, watchlist_id, now)
    session.commit()
    return approval_out(subject, version)


@router.post("/{watchlist_id}/subjects/{subject_id}/remove")
def post_removal(
    watchlist_id: uuid.UUID,
    subject_id: str,
    request: RemovalRequest,
    session: SessionDep,
    person: ProposerDep,
    runtime: RuntimeDep,
) -> SubjectOut:
    """Remove a live subject (a new version goes to the devices), or decline or withdraw a proposal."""
    now = utc_now()
    subject, version = remove_subject(
        session=session,
        watchlist_id=watchlist_id,
        subject_id=subject_id,
        reason=request.reason,
        actor=actor_of(person),
        settings=runtime.settings.watchlists,
        now=now,
    )
    if version is not None:
        _sync(session, runtime, watchlist_id, now)
    session.commit()
    return subject


@router.post("/{watchlist_id}/reembed")
def post_reembedding(
    watchlist_id: uuid.UUID, session: SessionDep, supervisor: SupervisorOnlyDep, runtime: RuntimeDep
) -> Reembedded:
    """Embed the watchlist again from its stored face chips with the server's face model (after a model change).

    A new version (reason model_change) goes to the devices. Templates whose chips retention deleted, and the
    subjects left with none, are reported: those subjects must be proposed again with new photos.
    """
    # The engine is ready before the transaction begins: on SQLite a transaction holds the write lock.
    with runtime.enroller.embedder() as embedder:
        now = utc_now()
        done = reembed_watchlist(
            session=session,
            watchlist_id=watchlist_id,
            embedder=embedder,
            actor=actor_of(supervisor),
            settings=runtime.settings.watchlists,
            now=now,
        )
    _sync(session, runtime, watchlist_id, now)
    session.commit()
    return done


@router.get(
    "/{watchlist_id}/subjects/{subject_id}/templates/{template_id}/chip.jpg",
    response_class=Response,
    responses={200: {"content": {"image/jpeg": {}}, "description": "The enrolled face chip."}},
)
def get_chip(
    watchlist_id: uuid.UUID,
    subject_id: str,
    template_id: Annotated[int, Path(ge=1, le=BIGINT_MAX, description="The template's id.")],
    session: SessionDep,
    viewer: ProposerDep,
) -> Response:
    """An enrolled face chip (biometric data: the view is audited, never cached)."""
    chip = subject_chip(session=session, watchlist_id=watchlist_id, subject_id=subject_id, template_id=template_id)
    actor = actor_of(viewer)
    record_action(
        session=session,
        actor=actor.user_id,
        action="watchlist.chip_viewed",
        record_type="watchlist_subject",
        record_id=f"{watchlist_id}/{subject_id}",
        address=actor.address,
        details={"template_id": template_id},
        now=utc_now(),
    )
    session.commit()
    return jpeg_response(chip)


@router.put("/{watchlist_id}/devices/{device_id}")
def put_device(
    watchlist_id: uuid.UUID, device_id: str, session: SessionDep, person: AssignerDep, runtime: RuntimeDep
) -> WatchlistOut:
    """Have a device carry this watchlist; its package is made and announced at once (window and keys allowing)."""
    now = utc_now()
    assign_device(session=session, watchlist_id=watchlist_id, device_id=device_id, actor=actor_of(person), now=now)
    _sync(session, runtime, watchlist_id, now)
    session.commit()
    return watchlist_out(session=session, watchlist=watchlist_row(session, watchlist_id))


@device_router.get(
    "/watchlist/{version}",
    response_class=Response,
    responses={200: {"content": {"application/octet-stream": {}}, "description": "The signed, encrypted package."}},
)
def get_device_package(
    version: Annotated[int, Path(ge=1, le=INTEGER_MAX, description="The watchlist version.")],
    device_id: DeviceIdDep,
    runtime: RuntimeDep,
) -> Response:
    """The package of ``version`` made for the device whose token the request carries."""
    with runtime.database.session() as session:
        data = device_package(session=session, device_id=device_id, version=version)
    return Response(data, media_type="application/octet-stream", headers={"Cache-Control": "no-store"})


def _sync(session: Session, runtime: ServerRuntime, watchlist_id: uuid.UUID, now: datetime) -> None:
    sync_packages(
        session=session,
        keys=runtime.package_keys,
        public_url=runtime.settings.public_url(),
        now=now,
        watchlist_id=watchlist_id,
    )
