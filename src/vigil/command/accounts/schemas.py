"""Shapes of users, sign-in and sessions in the API and the command line."""

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_serializer

from vigil.command.accounts.models import Role
from vigil.command.accounts.passwords import MAX_PASSWORD_LENGTH

USERNAME_PATTERN = r"^[a-z0-9][a-z0-9._-]{1,63}$"
"""User names: 2 to 64 lower-case letters, digits, ``.``, ``_`` or ``-`` (a collar or staff number works well)."""

RolesField = Field(min_length=1, max_length=len(Role), description="One or more roles.")


class UserOut(BaseModel):
    """A user as administrators see them (never their password hash or second-factor secret)."""

    model_config = ConfigDict(frozen=True)

    username: str = Field(description="The user's id: fixed for the account's life, never reused.")
    display_name: str
    roles: list[Role]
    second_factor: bool = Field(description="Whether a second factor (TOTP) is set up.")
    created_at: datetime
    created_by: str = Field(description="The administrator (or `system`, from the command line) who created it.")
    disabled_at: datetime | None
    locked_until: datetime | None = Field(
        description=(
            "After failed sign-ins from many addresses: until when the user can sign in only from addresses they "
            "signed in from before (UTC; may be past). An administrator's unlock clears it."
        )
    )
    last_signed_in_at: datetime | None


class UserList(BaseModel):
    """Every user, disabled ones included."""

    users: list[UserOut]


class UserCreate(BaseModel):
    """A new user."""

    model_config = ConfigDict(extra="forbid")

    username: str = Field(pattern=USERNAME_PATTERN, description="2–64 of a–z, 0–9, `.`, `_`, `-`.")
    display_name: str = Field(min_length=1, max_length=200)
    roles: list[Role] = RolesField
    password: SecretStr = Field(max_length=MAX_PASSWORD_LENGTH, description="The first password.")
    second_factor: bool = Field(
        False, description="Set up a second factor even when the roles do not need one (supervisors, admins do)."
    )


class RolesUpdate(BaseModel):
    """A user's new set of roles (replacing the old one)."""

    model_config = ConfigDict(extra="forbid")

    roles: list[Role] = RolesField


class PasswordReset(BaseModel):
    """A user's new password, set by an administrator."""

    model_config = ConfigDict(extra="forbid")

    password: SecretStr = Field(max_length=MAX_PASSWORD_LENGTH)


class UserEnrolment(BaseModel):
    """A user, and the second factor's provisioning URI when one was just set up: shown this once.

    The URI holds the secret: give it to the user alone (as a QR code for their authenticator app), then forget it.
    """

    user: UserOut
    totp_provisioning_uri: SecretStr | None = Field(
        description="`otpauth://totp/…` when a second factor was set up by this request; else null."
    )

    @field_serializer("totp_provisioning_uri", when_used="json")
    def _reveal(self, uri: SecretStr | None) -> str | None:
        return uri.get_secret_value() if uri is not None else None


class SecondFactorReplacement(BaseModel):
    """A signed-in user's password and current code, given again to replace their own second factor."""

    model_config = ConfigDict(extra="forbid")

    password: SecretStr = Field(max_length=MAX_PASSWORD_LENGTH, description="Your password.")
    code: str | None = Field(
        None, max_length=16, description="Your authenticator app's current code (needed when you have one)."
    )


class SignInRequest(BaseModel):
    """User name, password and, for accounts with a second factor, the current code."""

    model_config = ConfigDict(extra="forbid")

    username: str = Field(min_length=1, max_length=64)
    password: SecretStr = Field(max_length=MAX_PASSWORD_LENGTH)
    code: str | None = Field(None, max_length=16, description="The authenticator app's six-digit code.")
    delivery: Literal["cookie", "bearer"] = Field(
        "cookie",
        description=(
            "`cookie`: the session comes as an HttpOnly cookie (the browser page); `bearer`: its token comes in "
            "the answer, to send as `Authorization: Bearer <token>` (API clients)."
        ),
    )


class CurrentUser(BaseModel):
    """Who is signed in."""

    model_config = ConfigDict(frozen=True)

    username: str
    display_name: str
    roles: list[Role]


class SignedIn(BaseModel):
    """A new session."""

    user: CurrentUser
    expires_at: datetime = Field(description="When the session ends however it is used (UTC).")
    idle_timeout_s: float = Field(description="It ends sooner after this long unused, seconds.")
    token: SecretStr | None = Field(description="With `delivery: bearer`: the session token, shown this once.")

    @field_serializer("token", when_used="json")
    def _reveal(self, token: SecretStr | None) -> str | None:
        return token.get_secret_value() if token is not None else None
