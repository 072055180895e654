"""Places: a facility given as a polygon or as a circle, in WGS 84 ``[lon, lat]``."""

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Discriminator, Field, Tag, field_validator

Longitude = Annotated[float, Field(ge=-180.0, le=180.0)]
Latitude = Annotated[float, Field(ge=-90.0, le=90.0)]
LonLat = tuple[Longitude, Latitude]
MAX_POLYGON_POINTS = 1_000  # a facility's outline; a yard is drawn in tens of points


class _PlaceBase(BaseModel):
    model_config = ConfigDict(strict=True, extra="allow", allow_inf_nan=False, frozen=True)

    facility_id: Annotated[str, Field(min_length=1, max_length=128)]
    name: str | None = None


class PolygonPlace(_PlaceBase):
    """A facility outline: 3 or more ``[lon, lat]`` points, closed or not."""

    shape: Literal["polygon"] = Field(default="polygon", exclude=True)
    polygon: Annotated[list[LonLat], Field(min_length=3, max_length=MAX_POLYGON_POINTS)]

    @field_validator("polygon")
    @classmethod
    def _distinct_vertices(cls, points: list[LonLat]) -> list[LonLat]:
        if len(set(points)) < 3:
            raise ValueError("a polygon needs at least 3 distinct points")
        return points


class CirclePlace(_PlaceBase):
    """A facility as a centre ``[lon, lat]`` and a radius in metres."""

    shape: Literal["circle"] = Field(default="circle", exclude=True)
    center: LonLat
    radius_m: Annotated[float, Field(gt=0.0, le=1_000_000.0)]


def _place_shape(value: Any) -> str | None:
    if isinstance(value, dict):
        return "polygon" if "polygon" in value else "circle"
    if isinstance(value, PolygonPlace | CirclePlace):
        return value.shape
    return None


Place = Annotated[
    Annotated[PolygonPlace, Tag("polygon")] | Annotated[CirclePlace, Tag("circle")],
    Discriminator(_place_shape, custom_error_type="place", custom_error_message="a place must be an object"),
]
