"""The one error shape of the API, ``{"error": {"code", "message", "details"}}``, and the handlers that make it.

Services raise domain errors (:mod:`vigil.command.errors`); :data:`HTTP_STATUS` maps each to a status code and
its class name gives the code (``UnknownUnit`` → ``unknown_unit``). Request validation errors, unknown routes
and unexpected failures answer in the same shape.
"""

import logging
import re
from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException as StarletteHTTPException

from vigil.command.deployments.errors import (
    AuthorisationRequired,
    DeploymentStateConflict,
    InvalidDeployment,
    UnknownDeployment,
    WatchlistAlreadyDeployed,
)
from vigil.command.emergencies.errors import EmergencyResolved, EmergencyWithoutPosition, UnknownEmergency
from vigil.command.errors import (
    BatchTooLarge,
    BodyTooLarge,
    CertificateUnusable,
    CrossSiteRequest,
    DatabaseUnavailable,
    DeviceAlreadyRegistered,
    FixRejected,
    IngestionStopped,
    InvalidAccount,
    InvalidAuditEntry,
    InvalidDeviceId,
    InvalidRequest,
    MigrationFailed,
    NotAuthenticated,
    NotSignedIn,
    OwnAccountRefused,
    ReauthenticationFailed,
    RoleRequired,
    SecondFactorUnreadable,
    SignInFailed,
    UnknownAlert,
    UnknownDevice,
    UnknownUnit,
    UnknownUser,
    UserAlreadyExists,
)
from vigil.command.incidents.errors import (
    AlertAlreadyActedOn,
    AlertWithoutPlace,
    IdentityNotVerified,
    IncidentClosed,
    SubjectAlreadyPursued,
    UnitNotDispatchable,
    UnknownIncident,
)
from vigil.command.report.errors import ReportPeriodInvalid
from vigil.command.reviews.errors import (
    AlertAlreadyReviewed,
    AlertInSilentTrial,
    AlertNotConfirmed,
    ReasonRequired,
    ReviewerRoleMissing,
)
from vigil.command.verifications.errors import ConfirmerCannotVerify, IdentityAlreadySettled, OfficerNotSent
from vigil.command.watchlists.errors import (
    AlreadyOnModel,
    ChipUnusable,
    InvalidDeploymentScope,
    LooserThresholdRefused,
    NoPackage,
    PackageKeyExists,
    PackagesNotConfigured,
    ProposalRefused,
    SubjectIdTaken,
    SubjectStateConflict,
    TwoPersonRuleBroken,
    UnknownSubject,
    UnknownWatchlist,
    WatchlistModelMismatch,
)
from vigil.dispatch.errors import InvalidArea, InvalidCoordinate
from vigil.dispatch.errors import UnknownUnit as UnknownIndexedUnit
from vigil.errors import VigilError

_log = logging.getLogger(__name__)

HTTP_STATUS: dict[type[VigilError], HTTPStatus] = {
    DatabaseUnavailable: HTTPStatus.SERVICE_UNAVAILABLE,
    MigrationFailed: HTTPStatus.INTERNAL_SERVER_ERROR,
    CertificateUnusable: HTTPStatus.INTERNAL_SERVER_ERROR,  # raised at start, before any request
    UnknownDevice: HTTPStatus.NOT_FOUND,
    InvalidDeviceId: HTTPStatus.UNPROCESSABLE_ENTITY,
    DeviceAlreadyRegistered: HTTPStatus.CONFLICT,
    NotAuthenticated: HTTPStatus.UNAUTHORIZED,
    UnknownUnit: HTTPStatus.NOT_FOUND,
    UnknownAlert: HTTPStatus.NOT_FOUND,
    IngestionStopped: HTTPStatus.SERVICE_UNAVAILABLE,
    BodyTooLarge: HTTPStatus.REQUEST_ENTITY_TOO_LARGE,
    BatchTooLarge: HTTPStatus.REQUEST_ENTITY_TOO_LARGE,
    InvalidRequest: HTTPStatus.BAD_REQUEST,
    FixRejected: HTTPStatus.BAD_REQUEST,
    UnknownIncident: HTTPStatus.NOT_FOUND,
    IncidentClosed: HTTPStatus.CONFLICT,
    AlertAlreadyActedOn: HTTPStatus.CONFLICT,
    SubjectAlreadyPursued: HTTPStatus.CONFLICT,
    AlertWithoutPlace: HTTPStatus.UNPROCESSABLE_ENTITY,
    UnitNotDispatchable: HTTPStatus.CONFLICT,
    IdentityNotVerified: HTTPStatus.CONFLICT,
    UnknownEmergency: HTTPStatus.NOT_FOUND,
    EmergencyResolved: HTTPStatus.CONFLICT,
    EmergencyWithoutPosition: HTTPStatus.CONFLICT,
    InvalidArea: HTTPStatus.UNPROCESSABLE_ENTITY,
    InvalidCoordinate: HTTPStatus.UNPROCESSABLE_ENTITY,
    UnknownIndexedUnit: HTTPStatus.NOT_FOUND,
    ReviewerRoleMissing: HTTPStatus.FORBIDDEN,
    AlertAlreadyReviewed: HTTPStatus.CONFLICT,
    ReasonRequired: HTTPStatus.UNPROCESSABLE_ENTITY,
    AlertNotConfirmed: HTTPStatus.CONFLICT,
    AlertInSilentTrial: HTTPStatus.CONFLICT,
    ConfirmerCannotVerify: HTTPStatus.CONFLICT,
    IdentityAlreadySettled: HTTPStatus.CONFLICT,
    OfficerNotSent: HTTPStatus.CONFLICT,
    UnknownWatchlist: HTTPStatus.NOT_FOUND,
    UnknownSubject: HTTPStatus.NOT_FOUND,
    SubjectIdTaken: HTTPStatus.CONFLICT,
    TwoPersonRuleBroken: HTTPStatus.FORBIDDEN,
    SubjectStateConflict: HTTPStatus.CONFLICT,
    ProposalRefused: HTTPStatus.UNPROCESSABLE_ENTITY,
    WatchlistModelMismatch: HTTPStatus.CONFLICT,
    AlreadyOnModel: HTTPStatus.CONFLICT,
    ChipUnusable: HTTPStatus.INTERNAL_SERVER_ERROR,
    InvalidDeploymentScope: HTTPStatus.UNPROCESSABLE_ENTITY,
    LooserThresholdRefused: HTTPStatus.UNPROCESSABLE_ENTITY,
    PackagesNotConfigured: HTTPStatus.SERVICE_UNAVAILABLE,
    PackageKeyExists: HTTPStatus.CONFLICT,
    NoPackage: HTTPStatus.NOT_FOUND,
    ReportPeriodInvalid: HTTPStatus.UNPROCESSABLE_ENTITY,
    UnknownDeployment: HTTPStatus.NOT_FOUND,
    AuthorisationRequired: HTTPStatus.UNPROCESSABLE_ENTITY,
    InvalidDeployment: HTTPStatus.UNPROCESSABLE_ENTITY,
    WatchlistAlreadyDeployed: HTTPStatus.CONFLICT,
    DeploymentStateConflict: HTTPStatus.CONFLICT,
    SignInFailed: HTTPStatus.UNAUTHORIZED,
    ReauthenticationFailed: HTTPStatus.FORBIDDEN,
    SecondFactorUnreadable: HTTPStatus.INTERNAL_SERVER_ERROR,
    NotSignedIn: HTTPStatus.UNAUTHORIZED,
    RoleRequired: HTTPStatus.FORBIDDEN,
    CrossSiteRequest: HTTPStatus.FORBIDDEN,
    OwnAccountRefused: HTTPStatus.FORBIDDEN,
    UnknownUser: HTTPStatus.NOT_FOUND,
    UserAlreadyExists: HTTPStatus.CONFLICT,
    InvalidAccount: HTTPStatus.UNPROCESSABLE_ENTITY,
    InvalidAuditEntry: HTTPStatus.INTERNAL_SERVER_ERROR,
}
"""The status code of every error the API expects: the command centre's, and dispatch's."""

RETRY_AFTER_S = 5


class ErrorDetail(BaseModel):
    """What went wrong."""

    code: str = Field(description="Stable, machine-readable: the error's name in snake_case.")
    message: str = Field(description="For a person: what happened and what to do.")
    details: dict[str, Any] = Field(default_factory=dict, description="Context, such as the id concerned.")


class ErrorBody(BaseModel):
    """Every error response."""

    error: ErrorDetail


ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    code: {"model": ErrorBody} for code in (400, 401, 403, 404, 409, 413, 422, 503)
}
"""For routes' ``responses=``: the error shape in the OpenAPI document."""


def install_error_handlers(app: FastAPI) -> None:
    """Answer every error in the one shape."""
    app.add_exception_handler(VigilError, _vigil_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(Exception, _unexpected_error)


def error_code(exc: BaseException) -> str:
    """An error's code: its class name in snake_case."""
    return re.sub(r"(?<!^)(?=[A-Z])", "_", type(exc).__name__).lower()


def status_of(exc: VigilError) -> HTTPStatus:
    """The status code for a Vigil error (500 for one the API does not expect)."""
    for cls in type(exc).__mro__:
        if cls in HTTP_STATUS:
            return HTTP_STATUS[cls]
    return HTTPStatus.INTERNAL_SERVER_ERROR


def _response(status_code: int, code: str, message: str, details: dict[str, Any]) -> JSONResponse:
    body = ErrorBody(error=ErrorDetail(code=code, message=message, details=jsonable_encoder(details)))
    headers = {}
    if status_code == HTTPStatus.UNAUTHORIZED:
        headers["WWW-Authenticate"] = "Bearer"
    if status_code == HTTPStatus.SERVICE_UNAVAILABLE:
        headers["Retry-After"] = str(RETRY_AFTER_S)
    return JSONResponse(body.model_dump(mode="json"), status_code=status_code, headers=headers)


async def _vigil_error(request: Request, exc: Exception) -> JSONResponse:
    if not isinstance(exc, VigilError):
        raise TypeError(f"expected a VigilError, got {type(exc).__name__}")
    status_code = status_of(exc)
    code = error_code(exc)
    _log.info("http.error", extra={"path": request.url.path, "status": status_code, "code": code})
    details = {key: value for key, value in vars(exc).items() if not key.startswith("_")}
    return _response(status_code, code, str(exc), details)


async def _validation_error(request: Request, exc: Exception) -> JSONResponse:
    if not isinstance(exc, RequestValidationError):
        raise TypeError(f"expected a RequestValidationError, got {type(exc).__name__}")
    problems = [
        {"loc": list(error.get("loc", ())), "msg": error.get("msg", ""), "type": error.get("type", "")}
        for error in exc.errors()
    ]
    first = problems[0] if problems else {"loc": [], "msg": "invalid request"}
    where = ".".join(str(part) for part in first["loc"])
    return _response(
        HTTPStatus.UNPROCESSABLE_ENTITY,
        "invalid_request",
        f"{where}: {first['msg']}" if where else str(first["msg"]),
        {"errors": problems},
    )


async def _http_error(request: Request, exc: Exception) -> JSONResponse:
    if not isinstance(exc, StarletteHTTPException):
        raise TypeError(f"expected an HTTPException, got {type(exc).__name__}")
    code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "http_error")
    return _response(exc.status_code, code, str(exc.detail), {})


async def _unexpected_error(request: Request, exc: Exception) -> JSONResponse:
    _log.error("http.unexpected_error", extra={"path": request.url.path, "type": type(exc).__name__})
    return _response(
        HTTPStatus.INTERNAL_SERVER_ERROR, "internal_error", "the server failed; its log has the details", {}
    )
