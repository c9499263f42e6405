"""External data feeds (topic ``topic_external_data``): weather, location, social trends, market.

Providers deliver batches. One unit is a batch of one kind from one provider: every record in it
shares ``batch_id`` and the observation time, and ``batch_seq`` runs 0..n-1 with
``batch_size`` = n. Kinds are drawn 30 % weather, 20 % location, 20 % social trends, 30 %
market. A batch is late as a whole (the provider delivered an old file), so lateness is decided
per batch.

The values are physically plausible and stateful:

- weather: a per-city temperature that follows latitude, season and time of day with a random
  walk; the condition follows the temperature (snow only at or below 1 degree, rain mostly above
  freezing), clear and cloudy skies have no precipitation, storms have strong wind;
- market: a random walk per symbol with a daily open, ``low <= price <= high`` and a growing
  daily volume;
- location: traffic by local hour and place category;
- social trends: lognormal mentions and a sentiment in [-1, 1].
"""

from __future__ import annotations

import math
from datetime import UTC, datetime
from typing import Any, ClassVar

from dataplat_resources import topics
from simulators.base import BaseSource, Draft, SimMessage
from simulators.invalid import COMMON_KINDS, EXTERNAL_SPEC, corrupt
from simulators.sampling import Weighted
from simulators.timeutil import US_PER_S, iso_us, uuid4_str
from simulators.world import TICKERS, City, World

KINDS = (("weather", 0.3), ("location", 0.2), ("social_trend", 0.2), ("market", 0.3))
PROVIDERS = {"weather": "openweathermap", "location": "mapbox", "social_trend": "trendwatch", "market": "polygon"}
BATCH_SIZES = {"weather": (10, 40), "location": (10, 30), "social_trend": (5, 25), "market": (15, 30)}
SOCIAL_PLATFORMS = ("x", "instagram", "tiktok", "reddit")
# condition: (humidity range, wind km/h range, precipitation mm range)
WEATHER_RANGES: dict[str, tuple[tuple[float, float], tuple[float, float], tuple[float, float]]] = {
    "clear": ((20.0, 60.0), (0.0, 25.0), (0.0, 0.0)),
    "clouds": ((40.0, 85.0), (0.0, 35.0), (0.0, 0.0)),
    "rain": ((70.0, 100.0), (5.0, 45.0), (0.2, 25.0)),
    "snow": ((70.0, 100.0), (0.0, 40.0), (0.1, 15.0)),
    "storm": ((75.0, 100.0), (45.0, 120.0), (5.0, 80.0)),
    "fog": ((90.0, 100.0), (0.0, 10.0), (0.0, 0.0)),
}
SNOW_MAX_C = 1.0
TRAFFIC_BY_CATEGORY = {"store": 1.0, "warehouse": 0.6, "pickup_point": 0.8, "restaurant": 1.1, "transit": 1.3}

_KIND = Weighted.of(KINDS)


def climate_c(city: City, moment_us: int) -> float:
    """Typical temperature for a city at a moment: latitude, season (flipped south of the
    equator) and local time of day."""
    moment = datetime.fromtimestamp(moment_us // US_PER_S, UTC)
    season = math.cos((moment.timetuple().tm_yday - 200) / 365.25 * 2 * math.pi)  # 1 in mid July
    if city.lat < 0:
        season = -season
    local_hour = (moment.hour + city.lon / 15.0) % 24
    daily = math.cos((local_hour - 15.0) / 24.0 * 2 * math.pi)  # warmest at 15:00
    # Roughly right for the annual mean (Singapore 28, Barcelona/Boston 13) and the seasonal swing.
    return 28.0 - 0.35 * abs(city.lat) + 0.25 * abs(city.lat) * season + 3.0 * daily


_FREEZING = Weighted.of((("snow", 0.35), ("clouds", 0.30), ("clear", 0.20), ("fog", 0.10), ("storm", 0.05)))
_COLD = Weighted.of((("rain", 0.30), ("clouds", 0.35), ("clear", 0.20), ("fog", 0.15)))
_MILD = Weighted.of((("clear", 0.40), ("clouds", 0.30), ("rain", 0.20), ("storm", 0.07), ("fog", 0.03)))


def pick_condition(rng: Any, temperature_c: float) -> str:
    """A condition that fits the temperature: snow only at or below freezing, mostly rain above."""
    if temperature_c <= SNOW_MAX_C:
        return _FREEZING.pick(rng)
    if temperature_c <= 6.0:
        return _COLD.pick(rng)
    return _MILD.pick(rng)


class _Ticker:
    __slots__ = ("currency", "day", "exchange", "high", "low", "open", "price", "symbol", "volume")

    def __init__(self, symbol: str, exchange: str, currency: str, price: float) -> None:
        self.symbol, self.exchange, self.currency = symbol, exchange, currency
        self.price = self.open = self.low = self.high = price
        self.volume = 0
        self.day = -1


class ExternalDataSource(BaseSource):
    """Batches from four external providers."""

    name: ClassVar[str] = "external_data"
    topic: ClassVar[str] = topics.EXTERNAL_DATA
    invalid_kinds: ClassVar[tuple[str, ...]] = COMMON_KINDS

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        world: World = self.world
        self._weather_offset: dict[str, float] = {}
        self._tickers = [_Ticker(*t) for t in TICKERS]
        self._pairs = [(topic, platform) for topic in world.social_topics for platform in SOCIAL_PLATFORMS]
        self._topic_scale = {topic: self.rng.lognormvariate(7.0, 1.2) for topic in world.social_topics}
        self.batches_emitted = 0

    def _weather(self, batch_us: int, size: int) -> list[tuple[str, dict[str, Any]]]:
        rng = self.rng
        out = []
        for city in rng.sample(self.world.cities, size):
            drift = self._weather_offset.get(city.name, 0.0) * 0.9 + rng.gauss(0.0, 1.2)
            self._weather_offset[city.name] = drift
            temperature = round(max(-60.0, min(55.0, climate_c(city, batch_us) + drift)), 1)
            condition = pick_condition(rng, temperature)
            humidity, wind, rain = WEATHER_RANGES[condition]
            out.append(
                (
                    city.name,
                    {
                        "city": city.name,
                        "country": city.country,
                        "lat": city.lat,
                        "lon": city.lon,
                        "temperature_c": temperature,
                        "humidity_pct": round(rng.uniform(*humidity), 1),
                        "wind_speed_kmh": round(rng.uniform(*wind), 1),
                        "precipitation_mm": round(rng.uniform(*rain), 1) if rain[1] > 0 else 0.0,
                        "condition": condition,
                    },
                )
            )
        return out

    def _location(self, batch_us: int, size: int) -> list[tuple[str, dict[str, Any]]]:
        rng = self.rng
        hour = datetime.fromtimestamp(batch_us // US_PER_S, UTC).hour
        out = []
        for place in rng.sample(self.world.places, size):
            local_hour = (hour + place.lon / 15.0) % 24
            busy = 0.5 + 0.5 * math.sin((local_hour - 6.0) / 24.0 * 2 * math.pi)  # peaks mid-day, low at night
            traffic = busy * 7.0 * TRAFFIC_BY_CATEGORY[place.category] + rng.gauss(0.0, 0.8)
            out.append(
                (
                    place.place_id,
                    {
                        "place_id": place.place_id,
                        "name": place.name,
                        "category": place.category,
                        "city": place.city.name,
                        "country": place.city.country,
                        "lat": place.lat,
                        "lon": place.lon,
                        "traffic_index": round(max(0.0, min(10.0, traffic)), 2),
                    },
                )
            )
        return out

    def _social(self, _batch_us: int, size: int) -> list[tuple[str, dict[str, Any]]]:
        rng = self.rng
        out = []
        for topic, platform in rng.sample(self._pairs, size):
            mentions = int(min(100_000_000, self._topic_scale[topic] * rng.lognormvariate(0.0, 0.5)))
            out.append(
                (
                    topic,
                    {
                        "platform": platform,
                        "topic": topic,
                        "country": rng.choice(self.world.cities).country,
                        "mentions": mentions,
                        "sentiment": round(max(-1.0, min(1.0, rng.gauss(0.1, 0.35))), 3),
                    },
                )
            )
        return out

    def _market(self, batch_us: int, size: int) -> list[tuple[str, dict[str, Any]]]:
        rng = self.rng
        day = batch_us // (86_400 * US_PER_S)
        out = []
        for ticker in rng.sample(self._tickers, size):
            if ticker.day != day:  # a new trading day: open at the last price
                ticker.day, ticker.open, ticker.low, ticker.high, ticker.volume = (
                    day,
                    ticker.price,
                    ticker.price,
                    ticker.price,
                    0,
                )
            price = round(max(0.01, ticker.price * math.exp(rng.gauss(0.0, 0.002))), 2)
            ticker.price = price
            ticker.low = min(ticker.low, price)
            ticker.high = max(ticker.high, price)
            ticker.volume += rng.randint(100, 50_000)
            out.append(
                (
                    ticker.symbol,
                    {
                        "symbol": ticker.symbol,
                        "exchange": ticker.exchange,
                        "currency": ticker.currency,
                        "price": price,
                        "low": ticker.low,
                        "high": ticker.high,
                        "volume": ticker.volume,
                        "change_pct": round((price / ticker.open - 1.0) * 100.0, 3),
                    },
                )
            )
        return out

    def _drafts(self) -> tuple[list[Draft], float]:
        rng = self.rng
        kind = _KIND.pick(rng)
        size = rng.randint(*BATCH_SIZES[kind])
        first_produce = self.clock.now_us()
        delay, late = self._delay_us()
        batch_us = first_produce - delay
        records = getattr(self, f"_{'social' if kind == 'social_trend' else kind}")(batch_us, size)
        batch_id = uuid4_str(rng)
        provider = PROVIDERS[kind]
        event_time = iso_us(batch_us)
        drafts = []
        for seq, (entity, body) in enumerate(records):
            produce = first_produce if seq == 0 else self.clock.now_us()
            payload = {
                "event_id": uuid4_str(rng),
                "event_time": event_time,
                "provider": provider,
                "batch_id": batch_id,
                "batch_seq": seq,
                "batch_size": size,
                "kind": kind,
                **body,
            }
            drafts.append(Draft(f"{kind}:{entity}".encode(), payload, produce, late))
        if late:
            self.late_emitted += size - 1
        self.batches_emitted += 1
        return drafts, 1.0

    def _corrupt(self, draft: Draft, kind: str) -> SimMessage:
        return self.invalid_message(
            draft, kind, corrupt(draft.payload, kind, EXTERNAL_SPEC, self.fault_rng, draft.produce_us)
        )
