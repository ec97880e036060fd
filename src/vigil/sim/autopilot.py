"""The demo's scripted operator: it works the control room through the HTTP API exactly as a person at the page.

For each alert on the live feed it opens the reviewer's view (audited, as a person's look is), then confirms a
true match or dismisses a false one with a reason: the demo knows which is which from the street cameras' ground
truth, where a person would compare the face crop with the enrolled photo. On a confirmed alert it opens an
incident (one per subject at a time: a later sighting moves the open incident's target, which the server does
itself) with a search area drawn around the sighting, asks which units are inside it, widening the circle when
fewer than it needs are available, and dispatches the nearest available ones. When an order is declined or left
unanswered, it sends the unit the server proposes instead. It acts on an identification only once two people
have verified it (EU AI Act Art 14(5)): when the officer on scene verifies the match on their handset (the second
verification, after its own confirmation), it closes the incident with an arrest, which stands the other orders
down and frees the units; when the officer finds it is not the person, it closes it as the wrong person.

Nothing here bypasses a rule: the server checks the roles, the human-review gate and the states as it would for
anyone. A request the server refuses is recorded (see :meth:`Autopilot.counts`) and the operator carries on
with the next entry, as a person would after an error message.
"""

import logging
import queue
import threading
import uuid
from collections.abc import Callable
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from vigil.command.alerts.schemas import AlertSummary
from vigil.command.feed.schemas import (
    AlertEntry,
    AlertVerifiedEntry,
    DispatchEscalatedEntry,
    FeedMessage,
    IncidentChangedEntry,
    IncidentOpenedEntry,
)
from vigil.command.incidents.models import IncidentOutcome, IncidentStatus
from vigil.command.verifications.schemas import IdentityState
from vigil.dispatch.unit import UnitStatus
from vigil.sim.control_api import ControlRoomClient
from vigil.sim.errors import DemoStepRefused

_log = logging.getLogger(__name__)

AlertJudge = Callable[[AlertSummary], bool]
"""Whether an alert is a true match (the camera showed the person it names)."""


class AutopilotSettings(BaseModel):
    """How the scripted operator works."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    units_per_incident: int = Field(2, ge=1, le=20, description="Units dispatched to each incident.")
    area_radius_m: float = Field(
        800.0, gt=0, le=20_000, description="Radius of the search area drawn around a confirmed sighting, metres."
    )
    wide_radius_m: float = Field(
        3_000.0,
        gt=0,
        le=20_000,
        description="Circle around the target searched when the incident's area holds too few available units, metres.",
    )
    dismissal_reason: str = Field(
        "not the person on the watchlist (the face crop does not match the enrolled photo)",
        min_length=1,
        description="The reason given when dismissing a false match.",
    )


class AutopilotCounts(BaseModel):
    """What the scripted operator did."""

    confirmed: int = 0
    dismissed: int = 0
    incidents_opened: int = 0
    units_dispatched: int = 0
    replacements_dispatched: int = 0
    incidents_closed: int = 0
    refused: list[str] = Field(default_factory=list, description="Requests the server refused, and why.")


class Autopilot:
    """The scripted operator; see the module's description. Feed it entries with :meth:`listen`."""

    def __init__(
        self, *, client: ControlRoomClient, judge: AlertJudge, settings: AutopilotSettings | None = None
    ) -> None:
        """Prepare the operator.

        Args:
            client: the operator's signed-in session (it keeps it; close it after :meth:`stop`).
            judge: tells true matches from false ones.
            settings: how it works.
        """
        self._client = client
        self._judge = judge
        self.settings = settings or AutopilotSettings()
        self._inbox: queue.Queue[FeedMessage | None] = queue.Queue()
        self._open: dict[str, uuid.UUID] = {}  # subject id → their open incident
        self._lock = threading.Lock()
        self._counts = AutopilotCounts()
        self._thread = threading.Thread(target=self._work, name="autopilot", daemon=True)

    def listen(self, entry: FeedMessage, arrived_at: datetime) -> None:
        """Take a feed entry (an :class:`~vigil.sim.operator_feed.OperatorFeed` listener); handled in order."""
        self._inbox.put(entry)

    def start(self) -> None:
        """Start working the entries on a thread of its own."""
        self._thread.start()

    def stop(self, timeout_s: float = 30.0) -> None:
        """Finish the entries already taken, then stop."""
        self._inbox.put(None)
        self._thread.join(timeout_s)

    def counts(self) -> AutopilotCounts:
        """What it has done so far."""
        with self._lock:
            return self._counts.model_copy(deep=True)

    def _work(self) -> None:
        while (entry := self._inbox.get()) is not None:
            try:
                self._handle(entry)
            except DemoStepRefused as exc:
                _log.warning("autopilot.refused", extra={"step": exc.step, "status": exc.status_code})
                with self._lock:
                    self._counts.refused.append(str(exc))

    def _handle(self, entry: FeedMessage) -> None:
        match entry:
            case AlertEntry(payload=alert) if alert.review_decision is None:
                self._review(alert)
            case AlertVerifiedEntry(payload=verification) if verification.identity.state in _SETTLED:
                self._close(verification.incident_id, _SETTLED[verification.identity.state])
            case DispatchEscalatedEntry(payload=escalated) if escalated.proposed_unit_id is not None:
                if escalated.incident_id in self._open.values():
                    self._dispatch(escalated.incident_id, [escalated.proposed_unit_id], replacement=True)
            case IncidentOpenedEntry(payload=changed) | IncidentChangedEntry(payload=changed) if (
                changed.incident.subject is not None  # an officer's emergency is for the person at the page
            ):
                # A person at the page may open or close incidents too: keep in step, never open a second one.
                incident, subject_id = changed.incident, changed.incident.subject.subject_id
                if incident.status is IncidentStatus.OPEN:
                    self._open.setdefault(subject_id, incident.incident_id)
                elif self._open.get(subject_id) == incident.incident_id:
                    del self._open[subject_id]
            case _:
                pass

    def _review(self, alert: AlertSummary) -> None:
        path = f"/api/v1/reviews/{alert.alert_id}"
        self._client.call("GET", path, step=f"opening alert {alert.alert_id}")
        if not self._judge(alert):
            decision = {"decision": "dismissed", "reason": self.settings.dismissal_reason}
            self._client.call("POST", f"{path}/decision", step=f"dismissing alert {alert.alert_id}", json=decision)
            self._count("dismissed")
            return
        self._client.call(
            "POST", f"{path}/decision", step=f"confirming alert {alert.alert_id}", json={"decision": "confirmed"}
        )
        self._count("confirmed")
        if alert.subject_id in self._open:
            return  # the open incident's target follows this sighting; the server moves it and tells the units
        opening: dict[str, Any] = {"alert_id": str(alert.alert_id)}
        if alert.lat is not None and alert.lon is not None:
            opening["area"] = _circle(alert.lat, alert.lon, self.settings.area_radius_m)
        incident = self._client.call(
            "POST", "/api/v1/incidents", step=f"opening an incident on {alert.alert_id}", json=opening
        )
        incident_id = uuid.UUID(incident["incident_id"])
        self._open[alert.subject_id] = incident_id
        self._count("incidents_opened")
        units = self._nearest_available(incident)
        if not units:
            with self._lock:
                self._counts.refused.append(f"incident {incident_id}: no available unit within reach")
            return
        self._dispatch(incident_id, units, replacement=False)

    def _nearest_available(self, incident: dict[str, Any]) -> list[str]:
        target = {"lat": incident["target"]["lat"], "lon": incident["target"]["lon"]}
        wide = _circle(target["lat"], target["lon"], self.settings.wide_radius_m)
        chosen: list[str] = []
        for area in (incident["area"], wide):
            found = self._client.call(
                "POST", "/api/v1/units/in-area", step="finding units in the area", json={"area": area, "target": target}
            )
            chosen = [
                unit["unit_id"]
                for unit in found["units"]
                if unit["status"] == UnitStatus.AVAILABLE.value and not unit["stale"]
            ][: self.settings.units_per_incident]
            if len(chosen) == self.settings.units_per_incident:
                break
        return chosen

    def _dispatch(self, incident_id: uuid.UUID, unit_ids: list[str], *, replacement: bool) -> None:
        self._client.call(
            "POST",
            f"/api/v1/incidents/{incident_id}/dispatches",
            step=f"dispatching {', '.join(unit_ids)}",
            json={
                "unit_ids": unit_ids,
                "instructions": "Locate the subject; compare the faces on your handset and verify before any stop.",
            },
        )
        self._count("replacements_dispatched" if replacement else "units_dispatched", len(unit_ids))

    def _close(self, incident_id: uuid.UUID | None, outcome: IncidentOutcome) -> None:
        if incident_id is None or incident_id not in self._open.values():
            return
        self._client.call(
            "POST",
            f"/api/v1/incidents/{incident_id}/close",
            step=f"closing incident {incident_id}",
            json={"outcome": outcome.value, "notes": _CLOSING_NOTES[outcome]},
        )
        self._open = {subject: open_id for subject, open_id in self._open.items() if open_id != incident_id}
        self._count("incidents_closed")

    def _count(self, name: str, by: int = 1) -> None:
        with self._lock:
            setattr(self._counts, name, getattr(self._counts, name) + by)


_SETTLED = {IdentityState.VERIFIED: IncidentOutcome.ARREST, IdentityState.REFUTED: IncidentOutcome.WRONG_PERSON}
"""How the operator closes an incident once a second person has settled its identification."""
_CLOSING_NOTES = {
    IncidentOutcome.ARREST: "Subject detained by the unit on scene after the officer verified the identity.",
    IncidentOutcome.WRONG_PERSON: "The officer on scene found it was not the person: stood down.",
}


def _circle(lat: float, lon: float, radius_m: float) -> dict[str, Any]:
    """A circle as the API takes it: a GeoJSON Point Feature with ``properties.radius_m``."""
    return {
        "type": "Feature",
        "geometry": {"type": "Point", "coordinates": [lon, lat]},
        "properties": {"radius_m": radius_m},
    }
