"""Control-room API: the page's configuration (its map's tiles, the area limits), for anyone signed in."""

from fastapi import APIRouter

from vigil.command.api.dependencies import RuntimeDep, SignedInDep
from vigil.command.api.problems import ERROR_RESPONSES
from vigil.command.control_room.schemas import MapConfig, PageConfig

router = APIRouter(prefix="/api/v1/control-room", tags=["control room"], responses=ERROR_RESPONSES)


@router.get("/config")
def get_config(runtime: RuntimeDep, principal: SignedInDep) -> PageConfig:
    """The map's base layer (a tile server, or none for a coordinate grid) and the limits of a search area."""
    settings = runtime.settings
    areas = settings.dispatch.areas
    return PageConfig(
        map=MapConfig(
            tile_url=settings.map.tile_url,
            tile_attribution=settings.map.tile_attribution,
            max_zoom=settings.map.max_zoom,
        ),
        default_radius_m=areas.default_radius_m,
        min_radius_m=areas.min_radius_m,
        max_radius_m=areas.max_radius_m,
        ack_timeout_s=settings.dispatch.escalation.ack_timeout_s,
    )
