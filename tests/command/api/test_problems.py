"""Every error answers in one shape, with a status code chosen for its class."""

from collections.abc import Callable

import pytest
from fastapi import FastAPI

from tests.command.conftest import RunningServer
from vigil.command import errors
from vigil.command.api.problems import HTTP_STATUS, error_code, install_error_handlers, status_of
from vigil.command.deployments import errors as deployment_errors
from vigil.command.emergencies import errors as emergency_errors
from vigil.command.errors import CommandError, DatabaseUnavailable, UnknownUnit
from vigil.command.incidents import errors as incident_errors
from vigil.command.report import errors as report_errors
from vigil.command.reviews import errors as review_errors
from vigil.command.verifications import errors as verification_errors
from vigil.command.watchlists import errors as watchlist_errors
from vigil.dispatch import errors as dispatch_errors

API_ERROR_MODULES = {
    m.__name__
    for m in (
        errors,
        review_errors,
        watchlist_errors,
        report_errors,
        dispatch_errors,
        incident_errors,
        emergency_errors,
        deployment_errors,
        verification_errors,
    )
}


def _concrete(cls: type[CommandError]) -> set[type[CommandError]]:
    found = set()
    for sub in cls.__subclasses__():
        found |= _concrete(sub) or {sub}
    return found


def test_every_command_error_has_a_status_code() -> None:
    concrete = {cls for cls in _concrete(CommandError) if cls.__module__ in API_ERROR_MODULES}
    unmapped = {cls.__name__ for cls in concrete if not any(base in HTTP_STATUS for base in cls.__mro__)}
    assert {review_errors.AlertDismissed, watchlist_errors.NoPackage, report_errors.ReportPeriodInvalid} <= concrete
    assert {emergency_errors.UnknownEmergency, emergency_errors.EmergencyResolved} <= concrete
    assert {verification_errors.ConfirmerCannotVerify, incident_errors.IdentityNotVerified} <= concrete
    assert unmapped == set()
    assert {cls.__module__ for cls in HTTP_STATUS} <= API_ERROR_MODULES


@pytest.mark.parametrize(
    ("error", "status"),
    [
        (review_errors.AlertUnreviewed("x", alert_id="a"), 409),
        (review_errors.AlertDismissed("x", alert_id="a"), 409),
        (watchlist_errors.TwoPersonRuleBroken("x"), 403),
        (errors.MigrationFailed("x"), 500),
    ],
)
def test_subclasses_take_their_bases_status(error: CommandError, status: int) -> None:
    assert status_of(error) == status


@pytest.mark.parametrize(
    ("error", "code"),
    [(UnknownUnit("x"), "unknown_unit"), (DatabaseUnavailable("x"), "database_unavailable")],
)
def test_the_code_is_the_class_name_in_snake_case(error: Exception, code: str) -> None:
    assert error_code(error) == code


@pytest.fixture
def failing(serve: Callable[[FastAPI], RunningServer]) -> RunningServer:
    app = FastAPI()
    install_error_handlers(app)

    @app.get("/unavailable")
    def unavailable() -> None:
        raise DatabaseUnavailable("the database is unavailable (connection refused); try again shortly")

    @app.get("/bug")
    def bug() -> None:
        raise KeyError("no such thing")

    @app.get("/items/{number}")
    def item(number: int) -> int:
        return number

    return serve(app)


def test_an_unavailable_database_answers_503_with_retry_after(failing: RunningServer) -> None:
    with failing.client() as client:
        response = client.get("/unavailable")
    assert (response.status_code, response.headers["retry-after"]) == (503, "5")
    assert response.json() == {
        "error": {
            "code": "database_unavailable",
            "message": "the database is unavailable (connection refused); try again shortly",
            "details": {},
        }
    }


@pytest.mark.parametrize(
    ("path", "status", "code", "message"),
    [
        ("/nowhere", 404, "not_found", "Not Found"),
        ("/items/seven", 422, "invalid_request", "path.number: Input should be a valid integer"),
        ("/bug", 500, "internal_error", "the server failed; its log has the details"),
    ],
)
def test_routing_validation_and_unexpected_errors_share_the_shape(
    failing: RunningServer, path: str, status: int, code: str, message: str
) -> None:
    with failing.client() as client:
        response = client.get(path)
    assert response.status_code == status
    body = response.json()
    assert (body["error"]["code"], body["error"]["message"].split(",")[0]) == (code, message)
    assert set(body["error"]) == {"code", "message", "details"}
