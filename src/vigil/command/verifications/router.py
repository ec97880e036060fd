"""Second verification API: another person in the control room verifies a confirmed match.

Operators and supervisors verify, other than the one who confirmed the alert. ``same_person`` sends every unit on
an incident acting on the alert a new revision of its order, saying who verified it.
"""

import uuid

from fastapi import APIRouter

from vigil.command.api.acting import actor_of
from vigil.command.api.dependencies import OperatorDep, RuntimeDep, SessionDep
from vigil.command.api.problems import ERROR_RESPONSES
from vigil.command.incidents.service import send_verified_identity
from vigil.command.verifications.schemas import IdentityState, VerificationOut, VerificationRequest
from vigil.command.verifications.service import verify
from vigil.events import utc_now

router = APIRouter(prefix="/api/v1/reviews", tags=["reviews"], responses=ERROR_RESPONSES)


@router.post("/{alert_id}/verification", status_code=201)
def post_verification(
    alert_id: uuid.UUID, request: VerificationRequest, session: SessionDep, runtime: RuntimeDep, reviewer: OperatorDep
) -> VerificationOut:
    """Verify a confirmed match as its second person: same person, not the person (a false alert), or cannot tell.

    409 for the person who confirmed it, an alert not confirmed or of a silent trial, or one already settled.
    """
    now = utc_now()
    out = verify(session=session, alert_id=alert_id, request=request, actor=actor_of(reviewer), now=now)
    if out.identity.state is IdentityState.VERIFIED:
        send_verified_identity(session=session, alert_id=alert_id, now=now, settings=runtime.settings.dispatch)
    session.commit()
    return out
