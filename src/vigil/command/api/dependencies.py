"""FastAPI dependencies: the server's runtime, a database session, the calling device and the operator seam."""

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.orm import Session

from vigil.command.devices.service import authenticate
from vigil.command.errors import NotAuthenticated
from vigil.command.runtime import ServerRuntime


def get_runtime(request: Request) -> ServerRuntime:
    """The runtime the app's startup built."""
    runtime = request.app.state.runtime
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
class Operator:
    """Whoever calls an operator endpoint (the map, lists, images, metrics).

    Attributes:
        name: the operator's name; ``unauthenticated`` until sign-in exists.
        authenticated: whether the server knows who it is.
    """

    name: str
    authenticated: bool


def current_operator() -> Operator:
    """The seam for operator sign-in and roles: every operator route depends on it.

    Operator authentication is not built yet, so every caller is served as the unauthenticated operator: run
    the server on a trusted network only. The authentication part replaces this function's body (sessions,
    roles, and the audit of who viewed which face) without touching the routes.
    """
    return Operator(name="unauthenticated", authenticated=False)


OperatorDep = Annotated[Operator, Depends(current_operator)]
