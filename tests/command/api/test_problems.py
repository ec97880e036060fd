"""Every error answers in one shape, with a status code chosen for its class."""

from collections.abc import Callable

import pytest
from fastapi import FastAPI

from tests.command.conftest import RunningServer
from vigil.command import errors
from vigil.command.api.problems import HTTP_STATUS, error_code, install_error_handlers
from vigil.command.errors import CommandError, DatabaseUnavailable, UnknownUnit


def _concrete(cls: type[CommandError]) -> set[type[CommandError]]:
    found = set()
    for sub in cls.__subclasses__():
        found |= _concrete(sub) or {sub}
    return found


def test_every_command_error_has_a_status_code() -> None:
    concrete = {cls for cls in _concrete(CommandError) if cls.__module__ == errors.__name__}
    assert concrete == set(HTTP_STATUS)


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
