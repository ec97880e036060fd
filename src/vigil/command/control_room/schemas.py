"""Shapes the control-room page reads from the API."""

from pydantic import BaseModel, ConfigDict, Field


class MapConfig(BaseModel):
    """How the page draws its map (``MapConfig`` in ``web/src/shared/map.ts``)."""

    model_config = ConfigDict(frozen=True)

    tile_url: str | None = Field(description="XYZ tile URL template; None draws a coordinate grid instead.")
    tile_attribution: str = Field(description="Credit for the tiles, shown on the map.")
    max_zoom: int = Field(description="The deepest zoom level the tiles offer.")


class PageConfig(BaseModel):
    """What the control-room page needs to know of the server's configuration."""

    model_config = ConfigDict(frozen=True)

    map: MapConfig
    default_radius_m: float = Field(description="The circle drawn around a confirmed alert, metres.")
    min_radius_m: float = Field(description="The smallest circle an operator may draw, metres.")
    max_radius_m: float = Field(description="The largest circle an operator may draw, metres.")
    ack_timeout_s: float = Field(description="An order unanswered this long is escalated, seconds.")
