"""The command centre's HTTP API as a person at the control-room page uses it: signed in, one request at a time.

The demo's set-up (the watchlist proposed by one person, approved by another) and its scripted operator act only
through this client, with the same routes, roles and checks as a browser, so everything they do is audited as
that person's.
"""

from contextlib import suppress
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import httpx
import pyotp

from vigil.command.accounts.models import Role
from vigil.events import utc_now
from vigil.sim.errors import DemoStepRefused, ServerUnreachable


@dataclass(frozen=True)
class DemoUser:
    """A person the demo creates, with what they sign in with.

    Attributes:
        username: the sign-in name.
        display_name: the name the audit trail and the page show.
        role: what they may do.
        password: their password (the demo's own, printed for the person trying it).
        totp_secret: the second factor's base32 secret, for roles that need one; None otherwise.
    """

    username: str
    display_name: str
    role: Role
    password: str
    totp_secret: str | None

    def code(self, *, steps_ahead: int = 0) -> str | None:
        """The second-factor code (what an authenticator app shows), or None without a second factor.

        Args:
            steps_ahead: 0 for now's code; 1 for the next 30-second step's, which the server accepts from now on
                while now's has been used (each code is accepted once).
        """
        if self.totp_secret is None:
            return None
        totp = pyotp.TOTP(self.totp_secret)
        return totp.at(utc_now() + timedelta(seconds=totp.interval * steps_ahead))


class ControlRoomClient:
    """One signed-in person's session with the command centre. Close it (or use ``with``) to sign out."""

    def __init__(self, base_url: str, user: DemoUser, *, timeout_s: float = 30.0) -> None:
        """Sign in as ``user`` (password and, when the role needs it, the current second-factor code).

        Args:
            base_url: the server, ``http://host:port``.
            user: who signs in.
            timeout_s: how long one request may take, seconds.

        Raises:
            ServerUnreachable: the server does not answer.
            DemoStepRefused: the sign-in was refused.
        """
        self.base_url = base_url.rstrip("/")
        self.user = user
        self._http = httpx.Client(base_url=self.base_url, timeout=timeout_s)
        body: dict[str, Any] = {"username": user.username, "password": user.password, "delivery": "bearer"}
        code = user.code()
        if code is not None:
            body["code"] = code
        try:
            signed_in = self.call("POST", "/api/v1/auth/login", step=f"signing in as {user.username}", json=body)
        except BaseException:
            self._http.close()
            raise
        self.token: str = signed_in["token"]
        self._http.headers["Authorization"] = f"Bearer {self.token}"

    def call(self, method: str, path: str, *, step: str, json: Any = None) -> Any:
        """Send one request; returns the decoded JSON answer (None for an empty one).

        Args:
            method: GET, POST, PUT …
            path: the route, ``/api/v1/…``.
            step: what the request is for, for the error message.
            json: the body, or None.

        Raises:
            ServerUnreachable: the server does not answer.
            DemoStepRefused: the server answered with an error status.
        """
        try:
            response = self._http.request(method, path, json=json)
        except httpx.HTTPError as exc:
            raise ServerUnreachable(f"{step}: the command centre at {self.base_url} does not answer ({exc})") from exc
        if response.status_code >= 400:
            try:
                detail = response.json().get("error", {}).get("message") or response.text
            except ValueError:
                detail = response.text
            raise DemoStepRefused(str(detail)[:500], step=step, status_code=response.status_code)
        return response.json() if response.content else None

    def close(self) -> None:
        """Sign out and close the connection (a failure to sign out only leaves the session to expire)."""
        # A session left open ends by itself after its idle time; nothing else depends on signing out.
        with suppress(httpx.HTTPError):
            self._http.post("/api/v1/auth/logout")
        self._http.close()

    def __enter__(self) -> "ControlRoomClient":
        """Use as a context manager: signed out at the end."""
        return self

    def __exit__(self, *exc: object) -> None:
        """Sign out."""
        self.close()
