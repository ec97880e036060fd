"""FastAPI dependencies: the server's runtime, a database session, the calling device, and the signed-in person.

People sign in (``POST /api/v1/auth/login``) and send their session's token either as the HttpOnly cookie
:data:`SESSION_COOKIE` (the browser page) or as ``Authorization: Bearer <token>`` (API clients). Every route that
serves people depends on :func:`require` with the roles it allows (the role sets and why:
:mod:`vigil.command.accounts.roles`); the aliases below cover the usual sets:

* :data:`OperatorDep`: operators and supervisors (the map, alerts and their face crops, the live feed, acting on
  alerts);
* :data:`SupervisorDep`: supervisors only (what needs a senior second person);
* :data:`AdminDep`: administrators (users, devices, metrics);
* :data:`AuditorDep`: auditors (the audit trail);
* :data:`DeviceViewerDep`: operators, supervisors and administrators (the device list);
* :data:`SignedInDep`: anyone signed in (their own account).

A request without a live session is refused with 401 (``not_signed_in``), one whose user holds none of the roles
with 403 (``role_required``), and a cookie-borne state-changing request from elsewhere with 403
(``cross_site_request``, see :mod:`vigil.command.api.csrf`).
"""

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends
from fastapi.openapi.models import APIKey, APIKeyIn
from fastapi.openapi.models import HTTPBearer as HTTPBearerModel
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from fastapi.security.base import SecurityBase
from sqlalchemy.orm import Session
from starlette.requests import HTTPConnection

from vigil.command.accounts.models import Role
from vigil.command.accounts.roles import ADMINISTRATION, ANY_ROLE, DEVICE_VIEWERS, OPERATIONS, OVERSIGHT, SUPERVISION
from vigil.command.accounts.sessions import authenticate_session
from vigil.command.api.csrf import changes_state, check_same_origin
from vigil.command.devices.service import authenticate
from vigil.command.errors import NotAuthenticated, NotSignedIn, RoleRequired
from vigil.command.runtime import ServerRuntime
from vigil.events import utc_now

SESSION_COOKIE = "vigil_session"
"""The session cookie's name."""


def get_runtime(connection: HTTPConnection) -> ServerRuntime:
    """The runtime the app's startup built (for HTTP requests and WebSockets alike)."""
    runtime = connection.app.state.runtime
    if not isinstance(runtime, ServerRuntime):
        raise TypeError("the app has not been started (its lifespan builds the runtime)")
    return runtime


RuntimeDep = Annotated[ServerRuntime, Depends(get_runtime)]


def get_session(runtime: RuntimeDep) -> Iterator[Session]:
    """A database session for one request; database outages become :class:`DatabaseUnavailable` (503)."""
    with runtime.database.session() as session:
        yield session


SessionDep = Annotated[Session, Depends(get_session)]

_bearer = HTTPBearer(auto_error=False, description="The device token `vigil devices register` printed.")


def authenticated_device(
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)], runtime: RuntimeDep
) -> str:
    """The id of the device whose token the request carries.

    It uses a session of its own, closed before the body is read: on SQLite an open transaction holds the
    write lock, which a slow upload must not keep.

    Raises:
        NotAuthenticated: no bearer token, or a wrong or revoked one (401).
    """
    if credentials is None:
        raise NotAuthenticated("send the device token as Authorization: Bearer <token>", device_id="")
    with runtime.database.session() as session:
        return authenticate(session=session, token=credentials.credentials).device_id


DeviceIdDep = Annotated[str, Depends(authenticated_device)]


@dataclass(frozen=True)
class Principal:
    """The signed-in person a request comes from.

    Attributes:
        user_id: their user name (the audit trail's actor).
        display_name: their name as people read it.
        roles: every role they hold.
        address: the client's address as the server saw it (behind a trusted proxy, the forwarded one).
    """

    user_id: str
    display_name: str
    roles: frozenset[Role]
    address: str | None


class _SessionCookie(SecurityBase):
    """The session cookie (read from HTTP requests and WebSocket handshakes alike)."""

    def __init__(self) -> None:
        self.model = APIKey(
            **{"in": APIKeyIn.cookie},
            name=SESSION_COOKIE,
            description="The browser page's session: set by POST /api/v1/auth/login (HttpOnly, SameSite=Strict).",
        )
        self.scheme_name = "SessionCookie"

    def __call__(self, connection: HTTPConnection) -> str | None:
        return connection.cookies.get(SESSION_COOKIE) or None


class _SessionBearer(SecurityBase):
    """A session token as ``Authorization: Bearer`` (read from HTTP requests and WebSocket handshakes alike)."""

    def __init__(self) -> None:
        self.model = HTTPBearerModel(
            description="An API client's session: the token POST /api/v1/auth/login returns with delivery=bearer."
        )
        self.scheme_name = "SessionBearer"

    def __call__(self, connection: HTTPConnection) -> str | None:
        return _bearer_token(connection)


_session_cookie = _SessionCookie()
_session_bearer = _SessionBearer()


def session_token(connection: HTTPConnection) -> str | None:
    """The session token a request carries: the bearer token if there is one, else the cookie."""
    return _bearer_token(connection) or connection.cookies.get(SESSION_COOKIE) or None


def client_address(connection: HTTPConnection) -> str | None:
    """The client's address as the server saw it."""
    return connection.client.host if connection.client is not None else None


def require(*roles: Role) -> Callable[..., Principal]:
    """A dependency that yields the signed-in :class:`Principal` if they hold at least one of ``roles``.

    A request authenticated by the cookie that changes state (or opens a WebSocket) must come from the server's
    own origin. Each use counts as activity: the session's idle time starts again.

    Args:
        roles: the roles any one of which lets the caller in.

    Returns:
        The dependency, for ``Depends(...)``.

    Raises:
        ValueError: no roles given (a route open to everyone signed in uses every role).
    """
    if not roles:
        raise ValueError("require() needs at least one role")
    allowed = frozenset(roles)

    def signed_in_with_role(
        connection: HTTPConnection,
        runtime: RuntimeDep,
        bearer: Annotated[str | None, Depends(_session_bearer)],
        cookie: Annotated[str | None, Depends(_session_cookie)],
    ) -> Principal:
        """Raises NotSignedIn (401), CrossSiteRequest or RoleRequired (403)."""
        if bearer is not None:
            token = bearer
        elif cookie is not None:
            token = cookie
            if changes_state(connection):
                check_same_origin(connection)
        else:
            raise NotSignedIn(
                "sign in first (POST /api/v1/auth/login), then send the session cookie or Authorization: Bearer"
            )
        with runtime.database.session() as session:
            user = authenticate_session(session=session, token=token, settings=runtime.settings.accounts, now=utc_now())
            principal = Principal(
                user_id=user.user_id,
                display_name=user.display_name,
                roles=user.role_set(),
                address=client_address(connection),
            )
            session.commit()
        if principal.roles.isdisjoint(allowed):
            raise RoleRequired(needed=sorted(allowed))
        return principal

    return signed_in_with_role


OperatorDep = Annotated[Principal, Depends(require(*OPERATIONS))]
SupervisorDep = Annotated[Principal, Depends(require(*SUPERVISION))]
AdminDep = Annotated[Principal, Depends(require(*ADMINISTRATION))]
AuditorDep = Annotated[Principal, Depends(require(*OVERSIGHT))]
DeviceViewerDep = Annotated[Principal, Depends(require(*DEVICE_VIEWERS))]
SignedInDep = Annotated[Principal, Depends(require(*ANY_ROLE))]


def _bearer_token(connection: HTTPConnection) -> str | None:
    scheme, _, token = connection.headers.get("authorization", "").partition(" ")
    return token.strip() or None if scheme.lower() == "bearer" else None
