"""Accounts API: signing in and out (``/api/v1/auth``) and user administration for admins (``/api/v1/users``).

Signing in with ``delivery: cookie`` (the default, for the browser page) sets the session as an HttpOnly,
``SameSite=Strict`` cookie (``Secure`` when the request came over HTTPS, the server's own or a TLS-terminating
proxy's: :mod:`vigil.command.api.transport`) and leaves the token out of the answer,
so the page's scripts never hold it; ``delivery: bearer`` returns the token for an API client to send as
``Authorization: Bearer``. Who may call what: :mod:`vigil.command.accounts.roles`.
"""

from typing import Annotated

from fastapi import APIRouter, Path, Request, Response, status
from pydantic import SecretStr
from starlette.concurrency import run_in_threadpool

from vigil.command.accounts.schemas import (
    USERNAME_PATTERN,
    CurrentUser,
    PasswordReset,
    RolesUpdate,
    SecondFactorReplacement,
    SignedIn,
    SignInRequest,
    UserCreate,
    UserEnrolment,
    UserList,
    UserOut,
)
from vigil.command.accounts.service import (
    create_user,
    disable_user,
    list_users,
    reset_own_second_factor,
    reset_password,
    reset_second_factor,
    set_roles,
    unlock_user,
)
from vigil.command.accounts.sessions import revoke_session
from vigil.command.accounts.sign_in import Credentials, sign_in
from vigil.command.api.csrf import refuse_cross_site
from vigil.command.api.dependencies import (
    SESSION_COOKIE,
    AdminDep,
    RuntimeDep,
    SessionDep,
    SignedInDep,
    client_address,
    session_token,
)
from vigil.command.api.problems import ERROR_RESPONSES
from vigil.command.audit.service import record_action
from vigil.events import utc_now

auth_router = APIRouter(prefix="/api/v1/auth", tags=["auth"], responses=ERROR_RESPONSES)
users_router = APIRouter(prefix="/api/v1/users", tags=["users"], responses=ERROR_RESPONSES)

UsernamePath = Annotated[str, Path(pattern=USERNAME_PATTERN, description="The user's name.")]


@auth_router.post("/login")
async def login(body: SignInRequest, request: Request, response: Response, runtime: RuntimeDep) -> SignedIn:
    """Sign in with user name, password and (for accounts with a second factor) the current code.

    Every failure answers 401 ``sign_in_failed`` alike, a source that must wait after too many failures too,
    so that the answer never tells whether a name exists.
    """
    refuse_cross_site(request)
    settings = runtime.settings.accounts
    credentials = Credentials(
        username=body.username, password=body.password, code=body.code, address=client_address(request)
    )
    result = await run_in_threadpool(
        lambda: sign_in(
            database=runtime.database,
            passwords=runtime.passwords,
            sealer=runtime.sealer,
            settings=settings,
            credentials=credentials,
            now=utc_now(),
        )
    )
    if body.delivery == "bearer":
        token = SecretStr(result.token)
    else:
        token = None
        response.set_cookie(
            SESSION_COOKIE,
            result.token,
            max_age=int(settings.session_absolute_s),
            path="/",
            secure=request.url.scheme == "https",
            httponly=True,
            samesite="strict",
        )
    response.headers["Cache-Control"] = "no-store"
    return SignedIn(user=result.user, expires_at=result.expires_at, idle_timeout_s=settings.session_idle_s, token=token)


@auth_router.post("/logout", status_code=status.HTTP_204_NO_CONTENT)
def logout(principal: SignedInDep, request: Request, response: Response, session: SessionDep) -> None:
    """End the session this request carries, and clear its cookie."""
    token = session_token(request)
    now = utc_now()
    if token is not None:
        revoke_session(session=session, token=token, now=now)
    record_action(
        session=session,
        actor=principal.user_id,
        action="user.signed_out",
        record_type="user",
        record_id=principal.user_id,
        address=principal.address,
        now=now,
    )
    session.commit()
    response.delete_cookie(
        SESSION_COOKIE, path="/", secure=request.url.scheme == "https", httponly=True, samesite="strict"
    )


@auth_router.post("/second-factor")
async def post_own_second_factor(
    body: SecondFactorReplacement, principal: SignedInDep, request: Request, response: Response, runtime: RuntimeDep
) -> UserEnrolment:
    """Replace your own second factor (a new phone), giving your password and current code again.

    The answer carries the new provisioning URI, this once. Every session of yours ends, this one too: sign in
    again with a code from the new secret. A wrong password or code answers 403 ``reauthentication_failed`` and
    counts as a failed sign-in.
    """
    enrolment = await run_in_threadpool(
        lambda: reset_own_second_factor(
            database=runtime.database,
            passwords=runtime.passwords,
            sealer=runtime.sealer,
            settings=runtime.settings.accounts,
            username=principal.user_id,
            password=body.password,
            code=body.code,
            address=principal.address,
            now=utc_now(),
        )
    )
    response.headers["Cache-Control"] = "no-store"
    response.delete_cookie(
        SESSION_COOKIE, path="/", secure=request.url.scheme == "https", httponly=True, samesite="strict"
    )
    return enrolment


@auth_router.get("/me")
def me(principal: SignedInDep) -> CurrentUser:
    """Who is signed in, with their roles."""
    return CurrentUser(username=principal.user_id, display_name=principal.display_name, roles=sorted(principal.roles))


@users_router.post("", status_code=status.HTTP_201_CREATED)
def post_user(body: UserCreate, admin: AdminDep, session: SessionDep, runtime: RuntimeDep) -> UserEnrolment:
    """Create a user. When a second factor is set up, the answer carries its provisioning URI: this once."""
    return create_user(
        session=session,
        passwords=runtime.passwords,
        sealer=runtime.sealer,
        settings=runtime.settings.accounts,
        username=body.username,
        display_name=body.display_name,
        roles=body.roles,
        password=body.password,
        second_factor=body.second_factor,
        actor=admin.user_id,
        address=admin.address,
        now=utc_now(),
    )


@users_router.get("")
def get_users(admin: AdminDep, session: SessionDep) -> UserList:
    """Every user, disabled ones included, by name."""
    return list_users(session=session)


@users_router.put("/{username}/roles")
def put_roles(
    username: UsernamePath, body: RolesUpdate, admin: AdminDep, session: SessionDep, runtime: RuntimeDep
) -> UserEnrolment:
    """Replace a user's roles (not your own). A new role that needs a second factor sets one up: its URI, once."""
    return set_roles(
        session=session,
        sealer=runtime.sealer,
        settings=runtime.settings.accounts,
        username=username,
        roles=body.roles,
        actor=admin.user_id,
        address=admin.address,
        now=utc_now(),
    )


@users_router.post("/{username}/second-factor")
def post_second_factor(
    username: UsernamePath, admin: AdminDep, session: SessionDep, runtime: RuntimeDep
) -> UserEnrolment:
    """Give another user a new second factor (a lost phone): the old one stops working, their sessions end.

    Not your own: replace that with your password and code at ``POST /api/v1/auth/second-factor``.
    """
    return reset_second_factor(
        session=session,
        sealer=runtime.sealer,
        settings=runtime.settings.accounts,
        username=username,
        actor=admin.user_id,
        address=admin.address,
        now=utc_now(),
    )


@users_router.post("/{username}/password")
def post_password(
    username: UsernamePath, body: PasswordReset, admin: AdminDep, session: SessionDep, runtime: RuntimeDep
) -> UserOut:
    """Set a user's password (a forgotten one); their sessions end."""
    return reset_password(
        session=session,
        passwords=runtime.passwords,
        username=username,
        password=body.password,
        actor=admin.user_id,
        address=admin.address,
        now=utc_now(),
    )


@users_router.post("/{username}/unlock")
def post_unlock(username: UsernamePath, admin: AdminDep, session: SessionDep) -> UserOut:
    """Forget the failed sign-ins counted against a user from every address: any wait they caused ends."""
    return unlock_user(session=session, username=username, actor=admin.user_id, address=admin.address, now=utc_now())


@users_router.post("/{username}/disable")
def post_disable(username: UsernamePath, admin: AdminDep, session: SessionDep) -> UserOut:
    """Disable a user for good (not yourself): they cannot sign in and their sessions end."""
    return disable_user(session=session, username=username, actor=admin.user_id, address=admin.address, now=utc_now())
