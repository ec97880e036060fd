"""Schemathesis over the whole OpenAPI document, as each role, as a device and with no credentials: never a 5xx.

Two passes, each against a real uvicorn server over a real database:

* generated requests (Schemathesis's positive and negative modes, the same number per operation), once per
  caller on SQLite. Generation is derandomized, so every run sends the same requests and the test cannot fail at
  random; there is no deadline (speed is the benchmarks' business);
* Schemathesis's boundary cases (each bound, one past it, wrong types, missing fields), each operation once, as
  the first caller it lets in, on PostgreSQL: where a value at a schema's bound could still overflow a column.

Every 5xx is collected with its request, so one run names them all, and every answer that is not an error is
checked against the response schema the document declares for it. Signing in and the second factor answer alike
whoever calls them, and each try costs a password hash: only an anonymous caller sends them. Signing out ends the
caller's session, so it goes last. Together about 90 s on a loaded 2-core machine.
"""

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import hypothesis
import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, Phase
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.checks import response_schema_conformance
from schemathesis.schemas import APIOperation, BaseSchema

from tests.command.conftest import CreateAccount, Register, RunningServer
from vigil.command.accounts.models import Role
from vigil.command.app import create_app
from vigil.command.settings import CommandSettings

EXAMPLES_PER_OPERATION = 5
"""Generated requests per operation and caller (some 45 operations, 6 callers)."""

CREDENTIAL_FREE = {("POST", "/api/v1/auth/login"), ("POST", "/api/v1/auth/second-factor")}
LAST = ("POST", "/api/v1/auth/logout")

Caller = Role | str | None
COVERAGE_CALLERS: list[Caller] = [Role.SUPERVISOR, Role.OPERATOR, Role.ADMIN, Role.AUDITOR, "device", None]
"""Each operation's boundary cases are sent once, by the first of these it lets in."""
CALLERS: list[Caller] = [*Role, "device", None]


@dataclass(frozen=True)
class Finding:
    """A generated request and what was wrong with its answer."""

    operation: str
    request: str
    answer: str

    def __str__(self) -> str:
        return f"{self.operation}: {self.request} -> {self.answer}"


@pytest.fixture(scope="module")
def schema(tmp_path_factory: pytest.TempPathFactory) -> BaseSchema:
    """The app's OpenAPI document, loaded once (it is the same whatever the database)."""
    data_dir: Path = tmp_path_factory.mktemp("openapi")
    app = create_app(CommandSettings(data_dir=data_dir, database_url=f"sqlite:///{data_dir / 'unused.sqlite'}"))
    return schemathesis.openapi.from_dict(app.openapi())


def _token(who: Caller, server: RunningServer, accounts: CreateAccount, register: Register) -> str | None:
    if who is None:
        return None
    if who == "device":
        return register("cam-1", "A-12")
    role = Role(who)
    return server.sign_in(accounts(f"{role.value}-1", role))


def _operations(schema: BaseSchema, *, signed_in: bool) -> list[APIOperation]:
    operations = [result.ok() for result in schema.get_all_operations()]
    chosen = [o for o in operations if not (signed_in and (o.method.upper(), o.path) in CREDENTIAL_FREE)]
    return sorted(chosen, key=lambda o: (o.method.upper(), o.path) == LAST)


def _fuzz(operation: APIOperation, *, url: str, headers: dict[str, str]) -> tuple[list[Finding], int]:
    """Send an operation's generated requests; what went wrong, and how many were sent."""
    findings: list[Finding] = []
    sent = 0
    strategy = st.one_of(operation.as_strategy(GenerationMode.POSITIVE), operation.as_strategy(GenerationMode.NEGATIVE))

    @hypothesis.settings(
        max_examples=EXAMPLES_PER_OPERATION,
        derandomize=True,
        deadline=None,
        database=None,
        phases=[Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @hypothesis.given(case=strategy)
    def run(case: schemathesis.Case) -> None:
        nonlocal sent
        findings.extend(_check(operation, case, case.call(base_url=url, headers=headers, timeout=60), headers))
        sent += 1

    run()
    return findings, sent


def _check(
    operation: APIOperation, case: schemathesis.Case, response: requests.Response, headers: dict[str, str]
) -> list[Finding]:
    """What is wrong with an answer: a 5xx, or a success off the operation's response schema."""
    if response.status_code >= 500:
        return [Finding(operation.label, _describe(case), f"{response.status_code} {response.text[:300]}")]
    if response.status_code < 400:
        try:
            case.validate_response(response, checks=[response_schema_conformance], headers=headers)
        except AssertionError as exc:  # how Schemathesis reports a failed check
            return [Finding(operation.label, _describe(case), str(exc)[:500])]
    return []


def _describe(case: schemathesis.Case) -> str:
    parts: dict[str, Any] = {
        "path": case.path_parameters,
        "query": case.query,
        "body": f"<{len(case.body)} bytes>" if isinstance(case.body, bytes) else case.body,
    }
    return repr({key: value for key, value in parts.items() if value})[:300]


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
@pytest.mark.parametrize("who", CALLERS, ids=[str(who) if who is not None else "no-credentials" for who in CALLERS])
def test_no_generated_request_gets_a_server_error_or_an_answer_off_its_schema(
    schema: BaseSchema, server: RunningServer, accounts: CreateAccount, register: Register, who: Caller
) -> None:
    token = _token(who, server, accounts, register)
    headers = {"Authorization": f"Bearer {token}"} if token is not None else {}
    operations = _operations(schema, signed_in=token is not None)
    findings: list[Finding] = []
    sent = 0
    for operation in operations:
        found, count = _fuzz(operation, url=server.url, headers=headers)
        findings += found
        sent += count
    assert [str(finding) for finding in findings] == []
    assert sent == EXAMPLES_PER_OPERATION * len(operations)  # every operation got its share


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_no_boundary_case_gets_a_server_error_or_an_answer_off_its_schema(
    schema: BaseSchema, server: RunningServer, accounts: CreateAccount, register: Register
) -> None:
    tokens = {who: _token(who, server, accounts, register) for who in COVERAGE_CALLERS}
    findings: list[Finding] = []
    covered: dict[str, int] = {}
    for operation in _operations(schema, signed_in=False):
        cases = list(
            schema.iter_coverage_cases(
                operation,
                generation_modes=[GenerationMode.POSITIVE, GenerationMode.NEGATIVE],
                generation_config=schema.config.generation_for(operation=operation),
            )
        )
        # Signing in answers 401 to wrong credentials, whoever asks: only an anonymous caller tries it.
        credential_free = (operation.method.upper(), operation.path) in CREDENTIAL_FREE
        for token in (tokens[who] for who in ([None] if credential_free else COVERAGE_CALLERS)):
            headers = {"Authorization": f"Bearer {token}"} if token is not None else {}
            probe = cases[0].call(base_url=server.url, headers=headers, timeout=60) if cases else None
            if not credential_free and probe is not None and probe.status_code in (401, 403):
                continue  # not this caller's operation
            for case in cases:
                response = case.call(base_url=server.url, headers=headers, timeout=60)
                findings += _check(operation, case, response, headers)
            covered[operation.label] = len(cases)
            break
    assert [str(finding) for finding in findings] == []
    assert set(covered) == {operation.label for operation in _operations(schema, signed_in=False)}
