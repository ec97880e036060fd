"""Every route of the API, called with no session and as a user of each role: 401, 403 or let in, as designed.

The table below is the design (vigil.command.accounts.roles says why); a route the app publishes that is not in
it fails the test, so a new route cannot ship without a decision on who may call it.
"""

import uuid
from typing import Any

from tests.command.conftest import CreateAccount, RunningServer
from vigil.command.accounts.models import Role

OPERATOR, SUPERVISOR, ADMIN, AUDITOR = Role.OPERATOR, Role.SUPERVISOR, Role.ADMIN, Role.AUDITOR
EVERY_ROLE = frozenset(Role)
PUBLIC = "public"
DEVICE = "device token"

WHO_MAY_CALL: dict[tuple[str, str], frozenset[Role] | str] = {
    ("POST", "/api/v1/events"): DEVICE,
    ("GET", "/osmand/{secret}"): PUBLIC,  # the device's OsmAnd secret is in the path
    ("POST", "/osmand/{secret}"): PUBLIC,
    ("POST", "/api/v1/auth/login"): PUBLIC,
    ("POST", "/api/v1/auth/logout"): EVERY_ROLE,
    ("GET", "/api/v1/auth/me"): EVERY_ROLE,
    ("POST", "/api/v1/auth/second-factor"): EVERY_ROLE,  # one's own, with password and code again
    ("GET", "/api/v1/units"): frozenset({OPERATOR, SUPERVISOR}),
    ("GET", "/api/v1/units/{unit_id}/track"): frozenset({OPERATOR, SUPERVISOR}),
    ("POST", "/api/v1/units/in-area"): frozenset({OPERATOR, SUPERVISOR}),
    ("PATCH", "/api/v1/units/{unit_id}"): frozenset({OPERATOR, SUPERVISOR}),
    ("GET", "/api/v1/alerts"): frozenset({OPERATOR, SUPERVISOR}),
    ("GET", "/api/v1/alerts/{alert_id}/probe.jpg"): frozenset({OPERATOR, SUPERVISOR}),
    ("GET", "/api/v1/feed"): frozenset({OPERATOR, SUPERVISOR}),
    ("GET", "/api/v1/devices"): frozenset({OPERATOR, SUPERVISOR, ADMIN}),
    ("GET", "/api/v1/metrics"): frozenset({ADMIN}),
    ("GET", "/api/v1/users"): frozenset({ADMIN}),
    ("POST", "/api/v1/users"): frozenset({ADMIN}),
    ("PUT", "/api/v1/users/{username}/roles"): frozenset({ADMIN}),
    ("POST", "/api/v1/users/{username}/second-factor"): frozenset({ADMIN}),
    ("POST", "/api/v1/users/{username}/password"): frozenset({ADMIN}),
    ("POST", "/api/v1/users/{username}/unlock"): frozenset({ADMIN}),
    ("POST", "/api/v1/users/{username}/disable"): frozenset({ADMIN}),
    ("GET", "/api/v1/audit"): frozenset({AUDITOR}),
    ("GET", "/api/v1/audit/verify"): frozenset({AUDITOR}),
    # Governance (vigil.command.reviews, .watchlists, .retention, .report).
    ("GET", "/api/v1/reviews"): frozenset({OPERATOR, SUPERVISOR}),
    ("GET", "/api/v1/reviews/trial"): frozenset({OPERATOR, SUPERVISOR}),
    # Deployments (vigil.command.deployments).
    ("GET", "/api/v1/deployments"): frozenset({OPERATOR, SUPERVISOR, AUDITOR}),
    ("POST", "/api/v1/deployments"): frozenset({SUPERVISOR}),
    ("GET", "/api/v1/deployments/{deployment_id}"): frozenset({OPERATOR, SUPERVISOR, AUDITOR}),
    ("POST", "/api/v1/deployments/{deployment_id}/decision"): frozenset({SUPERVISOR}),
    ("POST", "/api/v1/deployments/{deployment_id}/end"): frozenset({SUPERVISOR}),
    ("GET", "/api/v1/deployments/{deployment_id}/report"): frozenset({AUDITOR, SUPERVISOR}),
    ("GET", "/api/v1/reviews/{alert_id}"): frozenset({OPERATOR, SUPERVISOR}),
    ("GET", "/api/v1/reviews/{alert_id}/probe.jpg"): frozenset({OPERATOR, SUPERVISOR}),
    ("GET", "/api/v1/reviews/{alert_id}/enrolled.jpg"): frozenset({OPERATOR, SUPERVISOR}),
    ("POST", "/api/v1/reviews/{alert_id}/decision"): frozenset({OPERATOR, SUPERVISOR}),
    ("POST", "/api/v1/reviews/{alert_id}/verification"): frozenset({OPERATOR, SUPERVISOR}),
    ("GET", "/api/v1/watchlists"): frozenset({OPERATOR, SUPERVISOR, AUDITOR}),
    ("POST", "/api/v1/watchlists"): frozenset({SUPERVISOR}),
    ("GET", "/api/v1/watchlists/{watchlist_id}"): frozenset({OPERATOR, SUPERVISOR, AUDITOR}),
    ("POST", "/api/v1/watchlists/{watchlist_id}/subjects"): frozenset({OPERATOR, SUPERVISOR}),
    ("POST", "/api/v1/watchlists/{watchlist_id}/subjects/{subject_id}/approve"): frozenset({SUPERVISOR}),
    ("POST", "/api/v1/watchlists/{watchlist_id}/subjects/{subject_id}/remove"): frozenset({OPERATOR, SUPERVISOR}),
    ("POST", "/api/v1/watchlists/{watchlist_id}/reembed"): frozenset({SUPERVISOR}),
    ("PUT", "/api/v1/watchlists/{watchlist_id}/threshold"): frozenset({SUPERVISOR}),
    ("GET", "/api/v1/watchlists/{watchlist_id}/expectation"): frozenset({OPERATOR, SUPERVISOR, AUDITOR}),
    ("GET", "/api/v1/watchlists/{watchlist_id}/subjects/{subject_id}/templates/{template_id}/chip.jpg"): frozenset(
        {OPERATOR, SUPERVISOR}
    ),
    ("PUT", "/api/v1/watchlists/{watchlist_id}/devices/{device_id}"): frozenset({SUPERVISOR, ADMIN}),
    ("GET", "/api/v1/device/watchlist/{version}"): DEVICE,
    ("POST", "/api/v1/retention/run"): frozenset({SUPERVISOR, ADMIN}),
    ("GET", "/api/v1/report"): frozenset({AUDITOR, SUPERVISOR}),
    # Incidents and dispatch (vigil.command.incidents): those who review alerts act on them.
    ("POST", "/api/v1/incidents"): frozenset({OPERATOR, SUPERVISOR}),
    ("GET", "/api/v1/incidents"): frozenset({OPERATOR, SUPERVISOR}),
    ("GET", "/api/v1/incidents/{incident_id}"): frozenset({OPERATOR, SUPERVISOR}),
    ("PUT", "/api/v1/incidents/{incident_id}/area"): frozenset({OPERATOR, SUPERVISOR}),
    ("POST", "/api/v1/incidents/{incident_id}/dispatches"): frozenset({OPERATOR, SUPERVISOR}),
    ("POST", "/api/v1/incidents/{incident_id}/close"): frozenset({OPERATOR, SUPERVISOR}),
    # Officers' emergencies (vigil.command.emergencies): those who dispatch answer them.
    ("GET", "/api/v1/emergencies"): frozenset({OPERATOR, SUPERVISOR}),
    ("GET", "/api/v1/emergencies/{emergency_id}"): frozenset({OPERATOR, SUPERVISOR}),
    ("POST", "/api/v1/emergencies/{emergency_id}/acknowledge"): frozenset({OPERATOR, SUPERVISOR}),
    ("POST", "/api/v1/emergencies/{emergency_id}/dispatch"): frozenset({OPERATOR, SUPERVISOR}),
    ("POST", "/api/v1/emergencies/{emergency_id}/resolve"): frozenset({OPERATOR, SUPERVISOR}),
    # The control-room page's configuration (vigil.command.control_room): its map and area limits.
    ("GET", "/api/v1/control-room/config"): EVERY_ROLE,
}


def _routes(document: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (method.upper(), path, operation)
        for path, operations in document["paths"].items()
        for method, operation in operations.items()
    ]


def _url(path: str, operation: dict[str, Any]) -> str:
    """The path with every parameter filled by a well-formed value of no existing record."""
    for parameter in operation.get("parameters", []):
        if parameter["in"] == "path":
            value = str(uuid.uuid4()) if parameter["schema"].get("format") == "uuid" else "nobody"
            path = path.replace("{" + parameter["name"] + "}", value)
    return path


def test_every_route_lets_in_exactly_the_roles_it_was_designed_for(
    server: RunningServer, accounts: CreateAccount
) -> None:
    people = {role: accounts(f"{role.value}-1", role) for role in Role}
    tokens: dict[Role | None, str | None] = {None: None, **{role: server.sign_in(a) for role, a in people.items()}}
    with server.client() as anonymous:
        document = anonymous.get("/api/v1/openapi.json").json()
    routes = _routes(document)
    assert {(method, path) for method, path, _ in routes} == set(WHO_MAY_CALL)

    outcomes: dict[tuple[str, str, str], int] = {}
    wrong: list[str] = []
    for method, path, operation in sorted(routes, key=lambda r: r[1] == "/api/v1/auth/logout"):
        allowed = WHO_MAY_CALL[(method, path)]
        for role, token in tokens.items():
            if path == "/api/v1/auth/logout" and role is not None:
                token = server.sign_in(people[role])  # signing out ends the session: use a fresh one
            with server.client(token) as client:
                response = client.request(method, _url(path, operation), json={} if method in ("POST", "PUT") else None)
            status, who = response.status_code, role.value if role else "no session"
            outcomes[(method, path, who)] = status
            if allowed == PUBLIC:
                expected_ok = status not in (401, 403)
            elif allowed == DEVICE:
                expected_ok = status == 401 and response.json()["error"]["code"] == "not_authenticated"
            elif role is None:
                expected_ok = status == 401 and response.json()["error"]["code"] == "not_signed_in"
            elif role in allowed:
                expected_ok = status not in (401, 403)
            else:
                expected_ok = status == 403 and response.json()["error"]["code"] == "role_required"
            if not expected_ok:
                wrong.append(f"{method} {path} as {who}: {status} {response.text[:200]}")
    assert wrong == []
    # The walk reached the handlers, not only the guards: a few answers only a handler gives.
    assert outcomes[("GET", "/api/v1/alerts/{alert_id}/probe.jpg", "operator")] == 404
    assert outcomes[("PUT", "/api/v1/users/{username}/roles", "admin")] == 422
    assert outcomes[("GET", "/api/v1/audit/verify", "auditor")] == 200
    assert outcomes[("GET", "/api/v1/reviews", "operator")] == 200
    assert outcomes[("POST", "/api/v1/reviews/{alert_id}/decision", "supervisor")] == 422
    assert outcomes[("GET", "/api/v1/watchlists/{watchlist_id}", "auditor")] == 404
    assert outcomes[("POST", "/api/v1/watchlists/{watchlist_id}/subjects/{subject_id}/approve", "supervisor")] == 404
    assert outcomes[("POST", "/api/v1/watchlists/{watchlist_id}/reembed", "supervisor")] == 404
    assert outcomes[("POST", "/api/v1/retention/run", "admin")] == 200
    assert outcomes[("GET", "/api/v1/report", "auditor")] == 422


def test_every_route_for_people_publishes_both_ways_of_sending_the_session(server: RunningServer) -> None:
    with server.client() as client:
        document = client.get("/api/v1/openapi.json").json()
    for method, path, operation in _routes(document):
        if isinstance(WHO_MAY_CALL[(method, path)], frozenset):
            assert operation["security"] == [{"SessionBearer": []}, {"SessionCookie": []}], f"{method} {path}"
    schemes = document["components"]["securitySchemes"]
    assert schemes["SessionCookie"] == {
        "type": "apiKey",
        "in": "cookie",
        "name": "vigil_session",
        "description": schemes["SessionCookie"]["description"],
    }
