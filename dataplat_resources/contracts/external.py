"""External data feeds (topic ``topic_external_data``): weather, maps/location, social
trends and market prices, discriminated by ``kind``. They arrive in batches: every record
says which batch it belongs to and its position in it.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Literal, Self

from pydantic import Field, TypeAdapter, model_validator

from dataplat_resources.contracts._base import (
    Contract,
    CountryCode,
    CurrencyCode,
    EventId,
    EventTime,
    Latitude,
    Longitude,
    ShortText,
)


class WeatherCondition(StrEnum):
    CLEAR = "clear"
    CLOUDS = "clouds"
    RAIN = "rain"
    SNOW = "snow"
    STORM = "storm"
    FOG = "fog"


class SocialPlatform(StrEnum):
    X = "x"
    INSTAGRAM = "instagram"
    TIKTOK = "tiktok"
    REDDIT = "reddit"


class PlaceCategory(StrEnum):
    STORE = "store"
    WAREHOUSE = "warehouse"
    PICKUP_POINT = "pickup_point"
    RESTAURANT = "restaurant"
    TRANSIT = "transit"


class _External(Contract):
    event_id: EventId
    event_time: EventTime
    provider: ShortText
    batch_id: Annotated[str, Field(min_length=1, max_length=64)]
    batch_seq: Annotated[int, Field(ge=0, le=100_000)]
    batch_size: Annotated[int, Field(ge=1, le=100_000)]

    @model_validator(mode="after")
    def _in_batch(self) -> Self:
        if self.batch_seq >= self.batch_size:
            raise ValueError(f"batch_seq {self.batch_seq} is outside a batch of {self.batch_size}")
        return self


class WeatherRecord(_External):
    """An observation for a city at ``event_time``."""

    kind: Literal["weather"]
    city: Annotated[str, Field(min_length=1, max_length=85)]
    country: CountryCode
    lat: Latitude
    lon: Longitude
    temperature_c: Annotated[float, Field(ge=-90.0, le=60.0)]
    humidity_pct: Annotated[float, Field(ge=0.0, le=100.0)]
    wind_speed_kmh: Annotated[float, Field(ge=0.0, le=500.0)]
    precipitation_mm: Annotated[float, Field(ge=0.0, le=500.0)]
    condition: WeatherCondition

    @model_validator(mode="after")
    def _physical(self) -> Self:
        if self.condition is WeatherCondition.SNOW and self.temperature_c > 6.0:
            raise ValueError(f"snow at {self.temperature_c} °C is not physical")
        if self.condition is WeatherCondition.CLEAR and self.precipitation_mm > 0.0:
            raise ValueError("clear weather cannot have precipitation")
        return self


class LocationRecord(_External):
    """A place from the maps provider with its current traffic."""

    kind: Literal["location"]
    place_id: ShortText
    name: Annotated[str, Field(min_length=1, max_length=255)]
    category: PlaceCategory
    city: Annotated[str, Field(min_length=1, max_length=85)]
    country: CountryCode
    lat: Latitude
    lon: Longitude
    traffic_index: Annotated[float, Field(ge=0.0, le=10.0)]


class SocialTrendRecord(_External):
    """Mentions of a topic on a social platform in a region."""

    kind: Literal["social_trend"]
    platform: SocialPlatform
    topic: Annotated[str, Field(min_length=1, max_length=100)]
    country: CountryCode
    mentions: Annotated[int, Field(ge=0, le=100_000_000)]
    sentiment: Annotated[float, Field(ge=-1.0, le=1.0)]


class MarketRecord(_External):
    """A price tick; ``low <= price <= high`` always holds."""

    kind: Literal["market"]
    symbol: Annotated[str, Field(pattern=r"^[A-Z][A-Z0-9.\-]{0,11}$")]
    exchange: Annotated[str, Field(min_length=2, max_length=16)]
    currency: CurrencyCode
    price: Annotated[float, Field(gt=0.0, le=10_000_000.0)]
    low: Annotated[float, Field(gt=0.0, le=10_000_000.0)]
    high: Annotated[float, Field(gt=0.0, le=10_000_000.0)]
    volume: Annotated[int, Field(ge=0, le=10_000_000_000)]
    change_pct: Annotated[float, Field(ge=-100.0, le=1000.0)]

    @model_validator(mode="after")
    def _bounds(self) -> Self:
        if not self.low <= self.price <= self.high:
            raise ValueError(f"price {self.price} is outside [low {self.low}, high {self.high}]")
        return self


ExternalRecord = Annotated[
    WeatherRecord | LocationRecord | SocialTrendRecord | MarketRecord,
    Field(discriminator="kind"),
]
EXTERNAL_KINDS = ("weather", "location", "social_trend", "market")
external_record_adapter: TypeAdapter[WeatherRecord | LocationRecord | SocialTrendRecord | MarketRecord] = TypeAdapter(
    ExternalRecord
)
