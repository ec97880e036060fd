"""Devices API: the registered devices and their latest status (registration is `vigil devices register`)."""

from fastapi import APIRouter

from vigil.command.api.dependencies import DeviceViewerDep, SessionDep
from vigil.command.api.problems import ERROR_RESPONSES
from vigil.command.devices.schemas import DeviceList
from vigil.command.devices.service import list_devices

router = APIRouter(prefix="/api/v1/devices", tags=["devices"], responses=ERROR_RESPONSES)


@router.get("")
def get_devices(session: SessionDep, viewer: DeviceViewerDep) -> DeviceList:
    """Every registered device, revoked ones included, by id."""
    return list_devices(session=session)
