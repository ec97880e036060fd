"""The demo's set-up, as a force would do it: people, keys, devices, an authorised deployment and its watchlist.

What an installer does on the server's own machine (as ``vigil users create``, ``vigil watchlist keys`` and
``vigil devices register`` do, audited as ``system``): :func:`create_demo_users` makes the demo's people,
:func:`make_package_keys` the centre's signing key and key-wrapping key, :func:`register_demo_devices` each
officer's device with its token and watchlist package key.

What people do at the page, through the HTTP API (:func:`enrol_demo_watchlist`): the supervisor creates the
deployment's watchlist and records the deployment with its (simulated) judicial authorisation, its purpose, the
city as its area and the next twelve hours as its window (EU AI Act Art 5(3): no live face recognition without
one); the operator proposes each subject with their photos, the category, the legal basis and an expiry; the
supervisor, a second person, approves; the supervisor has the body cameras carry it. The server then makes a
signed package per camera, encrypted with that camera's key, and announces it on the bus with the deployment's
scope: the cameras search only inside its area and window.
"""

import base64
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import pyotp
from pydantic import SecretStr

from vigil.command.accounts.models import Role
from vigil.command.accounts.passwords import Passwords
from vigil.command.accounts.sealing import SecretSealer
from vigil.command.accounts.service import create_user
from vigil.command.audit.chain import SYSTEM_ACTOR
from vigil.command.database import Database
from vigil.command.deployments.models import DeploymentPurpose
from vigil.command.devices.service import register_device
from vigil.command.errors import DeviceAlreadyRegistered, UserAlreadyExists
from vigil.command.settings import AccountSettings
from vigil.command.watchlists.keys import issue_package_key
from vigil.events import DeploymentMode, utc_now
from vigil.sim.control_api import ControlRoomClient, DemoUser
from vigil.sim.errors import DemoDatabaseNotEmpty
from vigil.sim.photos import DemoPerson
from vigil.sim.shift import ShiftMember
from vigil.watchlist.keys import create_device_key, create_signing_key
from vigil.watchlist.subject import SubjectCategory

OPERATOR = "demo-operator"
SUPERVISOR = "demo-supervisor"
AUTOPILOT = "demo-autopilot"

WATCHLIST_NAME = "Demo: Westminster patrol"
LEGAL_BASIS = "Demonstration only: a simulated warrant (no real person is sought)"
SUBJECT_VALID_FOR = timedelta(days=7)
DEPLOYMENT_NAME = "Demo: Operation Westminster"
DEPLOYMENT_WINDOW = timedelta(hours=12)
DEMO_AUTHORISATION = {
    "authority": "Westminster Magistrates' Court (simulated for the demo)",
    "reference": "DEMO-LFR-0001",
    "authorised_by_name": "District Judge (simulated)",
}
"""The deployment's authorisation: simulated, and says so wherever it is shown."""
DEMO_PURPOSE_DETAIL = (
    "Locating people wanted on warrant for offences punishable by at least four years' custody "
    "(simulated subjects of the Vigil demo; no real person is sought)"
)


@dataclass(frozen=True)
class DemoDeployment:
    """What :func:`enrol_demo_watchlist` made.

    Attributes:
        watchlist_id: the deployment's watchlist.
        deployment_id: the authorised deployment.
    """

    watchlist_id: str
    deployment_id: str


@dataclass(frozen=True)
class DemoPeople:
    """The demo's people.

    Attributes:
        operator: reviews alerts and dispatches at the page (and proposes the subjects).
        supervisor: creates the watchlist, approves the subjects (the second person) and assigns the cameras.
        autopilot: the demo's own operator screen: it follows the live feed (to time each alert's arrival) and,
            with ``--autopilot``, is the scripted operator (a user of its own, so the audit trail tells the
            script's decisions from a person's).
    """

    operator: DemoUser
    supervisor: DemoUser
    autopilot: DemoUser

    @property
    def everyone(self) -> list[DemoUser]:
        """Every demo user."""
        return [self.operator, self.supervisor, self.autopilot]


@dataclass(frozen=True)
class DemoDevice:
    """A registered device and what it was handed.

    Attributes:
        member: the officer who carries it.
        token: its command-centre token (also its broker password).
        package_key: its watchlist package key (32 bytes).
    """

    member: ShiftMember
    token: str
    package_key: bytes


@dataclass(frozen=True)
class PackageKeyFiles:
    """The centre's package keys in files.

    Attributes:
        signing_key: the Ed25519 private key (PEM).
        verify_key: its public half, which devices hold.
        wrap_key: the key under which devices' package keys are stored.
    """

    signing_key: Path
    verify_key: Path
    wrap_key: Path


def create_demo_users(
    *, database: Database, passwords: Passwords, sealer: SecretSealer, settings: AccountSettings
) -> DemoPeople:
    """Create the demo's people with fresh random passwords (a second factor for the supervisor, sealed by ``sealer``).

    Raises:
        DemoDatabaseNotEmpty: the database already has one of them (a database left from another run).
    """

    def make(username: str, display_name: str, role: Role) -> DemoUser:
        password = secrets.token_urlsafe(12)
        try:
            with database.session() as session:
                enrolment = create_user(
                    session=session,
                    passwords=passwords,
                    sealer=sealer,
                    settings=settings,
                    username=username,
                    display_name=display_name,
                    roles=[role],
                    password=SecretStr(password),
                    second_factor=False,
                    actor=SYSTEM_ACTOR,
                    address=None,
                    now=utc_now(),
                )
        except UserAlreadyExists as exc:
            raise DemoDatabaseNotEmpty(
                f"the database already has the user {username} (from an earlier demo?); give the demo an empty "
                "database, or leave out --db to use a fresh embedded one"
            ) from exc
        uri = enrolment.totp_provisioning_uri
        secret = _totp_secret(uri.get_secret_value()) if uri is not None else None
        return DemoUser(username, display_name, role, password, secret)

    return DemoPeople(
        operator=make(OPERATOR, "Olivia Operator (demo)", Role.OPERATOR),
        supervisor=make(SUPERVISOR, "Sam Supervisor (demo)", Role.SUPERVISOR),
        autopilot=make(AUTOPILOT, "Autopilot (the demo's scripted operator)", Role.OPERATOR),
    )


def _totp_secret(uri: str) -> str:
    secret: str = pyotp.parse_uri(uri).secret
    return secret


def make_package_keys(directory: Path) -> PackageKeyFiles:
    """Create the centre's signing key pair and key-wrapping key in ``directory`` (owner-only files)."""
    directory.mkdir(parents=True, exist_ok=True)
    files = PackageKeyFiles(
        signing_key=directory / "signing.pem", verify_key=directory / "signing.pub", wrap_key=directory / "wrap.key"
    )
    create_signing_key(files.signing_key, files.verify_key)
    create_device_key(files.wrap_key)
    return files


def register_demo_devices(
    *, database: Database, members: Sequence[ShiftMember], wrap_key: bytes
) -> dict[str, DemoDevice]:
    """Register every officer's device to their unit and issue its package key; returns them by device id.

    Raises:
        DemoDatabaseNotEmpty: a device is already registered (a database left from another run).
    """
    devices = {}
    for member in members:
        now = utc_now()
        try:
            with database.session() as session:
                registration = register_device(
                    session=session,
                    device_id=member.device_id,
                    unit_id=member.unit_id,
                    call_sign=member.call_sign,
                    radio_id=member.radio_id,
                    kind=member.kind,
                    actor=SYSTEM_ACTOR,
                    address=None,
                    now=now,
                )
                key = issue_package_key(
                    session=session, device_id=member.device_id, wrap_key=wrap_key, replace=False, now=now
                )
                session.commit()
        except DeviceAlreadyRegistered as exc:
            raise DemoDatabaseNotEmpty(
                f"the database already has the device {member.device_id} (from an earlier demo?); give the demo an "
                "empty database, or leave out --db to use a fresh embedded one"
            ) from exc
        devices[member.device_id] = DemoDevice(
            member=member, token=registration.token.get_secret_value(), package_key=key
        )
    return devices


def enrol_demo_watchlist(
    *,
    base_url: str,
    people: DemoPeople,
    subjects: Sequence[DemoPerson],
    cameras: Sequence[str],
    area: dict[str, Any],
) -> DemoDeployment:
    """Authorise a deployment, put the subjects on its watchlist under two-person approval, give it to the cameras.

    All over HTTP, as people at the page would. The deployment covers ``area`` for the next twelve hours.

    Returns:
        The watchlist's and the deployment's ids.

    Raises:
        DemoStepRefused: the server refused a step (a photo without a usable face, say: its message says why).
        ServerUnreachable: the server does not answer.
    """
    with (
        ControlRoomClient(base_url, people.supervisor) as supervisor,
        ControlRoomClient(base_url, people.operator) as operator,
    ):
        created = supervisor.call(
            "POST",
            "/api/v1/watchlists",
            step="creating the demo watchlist",
            json={"name": WATCHLIST_NAME},
        )
        watchlist_id: str = created["watchlist_id"]
        now = utc_now()
        deployment = supervisor.call(
            "POST",
            "/api/v1/deployments",
            step="recording the deployment's authorisation",
            json={
                "name": DEPLOYMENT_NAME,
                "purpose": DeploymentPurpose.SUSPECT_LOCALISATION.value,
                "purpose_detail": DEMO_PURPOSE_DETAIL,
                "mode": DeploymentMode.LIVE.value,
                "area": area,
                "ends_at": (now + DEPLOYMENT_WINDOW).isoformat(),
                "watchlist_ids": [watchlist_id],
                "authorisation": {**DEMO_AUTHORISATION, "decided_at": (now - timedelta(minutes=1)).isoformat()},
            },
        )
        base = f"/api/v1/watchlists/{watchlist_id}"
        expires_at = (utc_now() + SUBJECT_VALID_FOR).isoformat()
        for person in subjects:
            operator.call(
                "POST",
                f"{base}/subjects",
                step=f"proposing {person.person_id}",
                json={
                    "subject": {
                        "subject_id": person.person_id,
                        "display_name": person.person_id.replace("_", " ").title(),
                        "category": SubjectCategory.WANTED_ON_WARRANT.value,
                        "legal_basis": LEGAL_BASIS,
                        "expires_at": expires_at,
                        "notes": "Simulated subject of the Vigil demo.",
                    },
                    "photos": [
                        {"name": photo.name, "image_base64": base64.b64encode(photo.read_bytes()).decode()}
                        for photo in person.enrolment_photos
                    ],
                },
            )
            supervisor.call("POST", f"{base}/subjects/{person.person_id}/approve", step=f"approving {person.person_id}")
        for device_id in cameras:
            supervisor.call("PUT", f"{base}/devices/{device_id}", step=f"giving {device_id} the watchlist")
    return DemoDeployment(watchlist_id=watchlist_id, deployment_id=deployment["deployment_id"])
