"""Integers in paths, queries and bodies are bounded by the columns they meet: past them, 422, never a 500.

Before the bounds, ``feed?after=2**63``, ``audit?after=2**63`` and a template id of 2**63 failed in the database
driver (SQLite: "Python int too large to convert to SQLite INTEGER"; PostgreSQL: out of range for bigint), and a
package version of 2**31 on PostgreSQL (an ``integer`` column): each a 500. At the bound, each is an ordinary query.
Schemathesis seldom generates such numbers (tests/command/api/test_schemathesis.py sends each bound and one past
it), so every integer the API takes must declare both bounds.
"""

import json
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from tests.command.conftest import CreateAccount, Register, RunningServer
from vigil.command.accounts.models import Role
from vigil.command.app import create_app
from vigil.command.database import BIGINT_MAX, INTEGER_MAX
from vigil.command.settings import CommandSettings
from vigil.events import MAX_COUNT, DeviceStatus, encode_event

CHIP = f"/api/v1/watchlists/{uuid.uuid4()}/subjects/s-1/templates/{{}}/chip.jpg"

CASES = [
    # (who, path with {} for the integer, the integer, the status expected)
    (Role.OPERATOR, "/api/v1/feed?after={}", BIGINT_MAX, 200),
    (Role.OPERATOR, "/api/v1/feed?after={}", BIGINT_MAX + 1, 422),
    (Role.OPERATOR, "/api/v1/feed?after={}", 10**40, 422),
    (Role.OPERATOR, "/api/v1/feed?after={}", -1, 422),
    (Role.AUDITOR, "/api/v1/audit?after={}", BIGINT_MAX, 200),
    (Role.AUDITOR, "/api/v1/audit?after={}", BIGINT_MAX + 1, 422),
    (Role.AUDITOR, "/api/v1/audit?after={}", 10**40, 422),
    (Role.OPERATOR, CHIP, BIGINT_MAX, 404),
    (Role.OPERATOR, CHIP, BIGINT_MAX + 1, 422),
    (Role.OPERATOR, CHIP, 0, 422),
    ("device", "/api/v1/device/watchlist/{}", INTEGER_MAX, 404),
    ("device", "/api/v1/device/watchlist/{}", INTEGER_MAX + 1, 422),
    ("device", "/api/v1/device/watchlist/{}", BIGINT_MAX + 1, 422),
]


def test_an_integer_past_its_column_is_refused_and_one_at_it_is_an_ordinary_query(
    server: RunningServer, accounts: CreateAccount, register: Register
) -> None:
    tokens: dict[Role | str, str] = {
        Role.OPERATOR: server.sign_in(accounts("op-1", Role.OPERATOR)),
        Role.AUDITOR: server.sign_in(accounts("aud-1", Role.AUDITOR)),
        "device": register("cam-1", "A-12"),
    }
    answers = []
    for who, path, number, _ in CASES:
        with server.client(tokens[who]) as client:
            answers.append((path.format(number), client.get(path.format(number)).status_code))
    assert answers == [(path.format(number), status) for _, path, number, status in CASES]


def _integers(schema: dict[str, Any], components: dict[str, Any], where: str) -> Iterator[tuple[str, dict[str, Any]]]:
    """Every integer schema inside ``schema``, with where it is."""
    if "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[-1]
        yield from _integers(components[name], components, f"{where}<{name}>")
        return
    if schema.get("type") == "integer":
        yield where, schema
    for key in ("anyOf", "oneOf", "allOf", "prefixItems"):
        for part in schema.get(key, []):
            yield from _integers(part, components, where)
    for name, part in schema.get("properties", {}).items():
        yield from _integers(part, components, f"{where}.{name}")
    for key in ("items", "additionalProperties"):
        if isinstance(schema.get(key), dict):
            yield from _integers(schema[key], components, f"{where}[]")


def test_every_integer_the_api_takes_has_bounds_a_64_bit_column_holds(tmp_path: Path) -> None:
    settings = CommandSettings(data_dir=tmp_path, database_url=f"sqlite:///{tmp_path / 'unused.sqlite'}")
    document = create_app(settings).openapi()
    components = document.get("components", {}).get("schemas", {})
    taken: list[tuple[str, dict[str, Any]]] = []
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            label = f"{method.upper()} {path}"
            for parameter in operation.get("parameters", []):
                taken += _integers(parameter["schema"], components, f"{label} {parameter['name']}")
            for media_type, content in operation.get("requestBody", {}).get("content", {}).items():
                taken += _integers(content.get("schema", {}), components, f"{label} body {media_type}")
    unbounded = [
        where
        for where, schema in taken
        if schema.get("minimum", -(2**64)) < -BIGINT_MAX - 1 or schema.get("maximum", 2**64) > BIGINT_MAX
    ]
    assert unbounded == []
    assert len(taken) >= 10  # the walk found the API's integers (feed, audit, limits, template ids, versions)


def test_a_device_event_with_a_count_past_its_column_is_refused_and_one_at_it_stored(
    server: RunningServer, register: Register
) -> None:
    token = register("cam-1", "A-12")
    answers = []
    for faces in (MAX_COUNT, MAX_COUNT + 1, 2**63):
        status = json.loads(encode_event(DeviceStatus(device_id="cam-1", faces_processed=0, watchlist_version=1)))
        status["faces_processed"] = faces
        with server.client(token) as client:
            response = client.post("/api/v1/events", json=status)
        answers.append([(r["outcome"], r["reason"]) for r in response.json()["results"]])
    # Before the bound, PostgreSQL failed the request (500); SQLite stored 2**31 and failed at 2**63.
    assert answers == [[("accepted", None)], [("rejected", "malformed")], [("rejected", "malformed")]]
