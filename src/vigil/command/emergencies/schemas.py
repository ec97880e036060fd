"""Shapes of officers' emergencies in the API and the feed (``emergency.raised``, ``emergency.changed``)."""

import uuid
from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from vigil.command.emergencies.models import EmergencyStatus
from vigil.command.incidents.schemas import DispatchOut, DispatchRequest
from vigil.dispatch.unit import UnitStatus
from vigil.events import EmergencyTrigger


class EmergencyAcknowledge(BaseModel):
    """``POST /api/v1/emergencies/{emergency_id}/acknowledge``: an operator has it (the body is ``{}``)."""

    model_config = ConfigDict(extra="forbid")


class EmergencyDispatch(DispatchRequest):
    """``POST /api/v1/emergencies/{emergency_id}/dispatch``: send units to the officer, as to an incident."""


class EmergencyResolve(BaseModel):
    """``POST /api/v1/emergencies/{emergency_id}/resolve``: it is over."""

    model_config = ConfigDict(extra="forbid")

    notes: str = Field("", max_length=4000)


class OfficerPosition(BaseModel):
    """Where the officer was last known to be."""

    model_config = ConfigDict(frozen=True)

    lat: float
    lon: float
    accuracy_m: float | None
    at: datetime = Field(description="When the officer was there (UTC).")


class ProposedUnit(BaseModel):
    """A unit proposed to help: available, nearest by estimated arrival first."""

    model_config = ConfigDict(frozen=True)

    unit_id: str
    call_sign: str
    status: UnitStatus
    distance_m: float = Field(description="Great-circle distance to the officer, metres.")
    eta_s: float = Field(description="Estimated time to reach the officer, seconds.")


class EmergencyOut(BaseModel):
    """An officer's emergency as the control room sees it (also the payload of its feed entries)."""

    model_config = ConfigDict(frozen=True)

    emergency_id: uuid.UUID
    unit_id: str
    call_sign: str
    device_id: str
    trigger: EmergencyTrigger
    status: EmergencyStatus
    raised_at: datetime = Field(description="When the officer raised it (UTC, the device's clock).")
    received_at: datetime
    position: OfficerPosition | None = Field(description="The officer's latest known position; None when unknown.")
    acknowledged_by: str | None
    acknowledged_at: datetime | None
    resolved_by: str | None
    resolved_at: datetime | None
    incident_id: uuid.UUID | None = Field(description="The incident opened when units were first sent.")
    proposed: list[ProposedUnit] = Field(
        description="Up to 3 available units to send, nearest arrival first: never the officer's own unit or one "
        "already sent; none once resolved."
    )
    dispatched: list[DispatchOut] = Field(description="The orders sent for it, as the incident lists them.")


class EmergencyList(BaseModel):
    """Emergencies, newest first."""

    emergencies: list[EmergencyOut]
