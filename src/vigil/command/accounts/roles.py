"""Who may do what: the role sets every route checks, written down in one place.

A user holds one or more roles; a route names the set of roles any one of which lets a caller in (see
:func:`vigil.command.api.dependencies.require`). The sets follow two principles of information governance for
biometric policing: *least privilege* (each role sees what its duty needs) and *separation of duties* (those who
run the system, those who act on matches and those who check both are different people unless deliberately
given several roles, and every change of roles is audited).

========================================  ==========  ==========  =====  =======
What                                      operator    supervisor  admin  auditor
========================================  ==========  ==========  =====  =======
map: units, tracks, live feed             yes         yes         no     no
alerts and their face crops (audited)     yes         yes         no     no
act on alerts (review, dispatch)          yes         yes         no     no
watchlist approval (second person)        no          yes         no     no
devices: the list                         yes         yes         yes    no
users: create, roles, reset, disable      no          no          yes    no
server metrics                            no          no          yes    no
audit trail: read, verify                 no          no          no     yes
own account: who am I, sign out, own 2FA  yes         yes         yes    yes
========================================  ==========  ==========  =====  =======

* A **supervisor** can do everything an operator can, and also what needs a second, senior person.
* An **admin** runs the system (users, devices, health) but sees no biometric data and reviews no alert unless
  also given the operator role; an admin cannot change their own roles or disable themselves, so one
  administrator cannot quietly grant themselves access (another must, and the audit trail records who).
* An **auditor** reads the audit trail (and the governance report) but cannot act on alerts or see faces.
* Supervisors and admins must use a second factor (TOTP): :data:`SECOND_FACTOR_REQUIRED`. Anyone replaces their
  own second factor only by giving their password and current code again (``POST /api/v1/auth/second-factor``);
  an admin resets another user's (a lost phone) with their session, never their own that way.

Not behind a role: signing in; the OpenAPI document and its docs page (the API's shape is public, as the code
is); devices' own endpoints, which take the device token instead; OsmAnd positions, which take the device's OsmAnd
secret in their path (off unless ``CommandSettings.osmand_enabled``).
"""

from vigil.command.accounts.models import Role

OPERATIONS = frozenset({Role.OPERATOR, Role.SUPERVISOR})
"""Live operations: the map, alerts and their face crops, the live feed, acting on alerts."""

SUPERVISION = frozenset({Role.SUPERVISOR})
"""What needs a senior second person, such as approving a watchlist entry."""

ADMINISTRATION = frozenset({Role.ADMIN})
"""Running the system: users, devices, metrics."""

OVERSIGHT = frozenset({Role.AUDITOR})
"""Reading and verifying the audit trail."""

DEVICE_VIEWERS = OPERATIONS | ADMINISTRATION
"""The device list: operators see their cameras' state; admins manage them."""

ANY_ROLE = frozenset(Role)
"""Any signed-in user: their own account."""

SECOND_FACTOR_REQUIRED = frozenset({Role.SUPERVISOR, Role.ADMIN})
"""Roles that cannot sign in without a second factor."""


def needs_second_factor(roles: frozenset[Role]) -> bool:
    """Whether a user with these roles must sign in with a TOTP code."""
    return not roles.isdisjoint(SECOND_FACTOR_REQUIRED)
