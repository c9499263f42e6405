"""Shared building blocks of every event contract.

Contracts are strict: JSON types must match exactly (no "12" for 12), unknown fields are
refused rather than silently dropped, and timestamps must carry a timezone. The same models
drive the simulators (producers), the ingestion validators, the JSON Schemas and the Delta
bronze schemas, so a rule lives in exactly one place.
"""

from __future__ import annotations

import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import Annotated

from pydantic import AfterValidator, AwareDatetime, BaseModel, ConfigDict, Field

# Clients' clocks drift; anything further ahead than this is a bug or an attack, not skew.
MAX_FUTURE_SKEW = timedelta(hours=1)
# Nothing this platform ingests predates it; older timestamps are corrupt (e.g. epoch zero).
EARLIEST_EVENT_TIME = datetime(2000, 1, 1, tzinfo=UTC)


class Contract(BaseModel):
    """Base of every contract model: strict types, no unknown fields, immutable."""

    model_config = ConfigDict(strict=True, extra="forbid", frozen=True)


_latest_cache: list[float | datetime] = [0.0, EARLIEST_EVENT_TIME]


def latest_plausible_time() -> datetime:
    """Now + the allowed skew, refreshed at most every 100 ms (validation runs ~100k times/s)."""
    tick = time.monotonic()
    if tick - _latest_cache[0] > 0.1:  # type: ignore[operator]
        _latest_cache[0] = tick
        _latest_cache[1] = datetime.now(UTC) + MAX_FUTURE_SKEW
    return _latest_cache[1]  # type: ignore[return-value]


def _not_in_future(value: datetime) -> datetime:
    if value > latest_plausible_time():
        raise ValueError(f"timestamp {value.isoformat()} is more than {MAX_FUTURE_SKEW} in the future")
    return value


EventTime = Annotated[
    AwareDatetime,
    Field(ge=EARLIEST_EVENT_TIME),  # checked in pydantic-core; only the moving bound needs Python
    AfterValidator(_not_in_future),
    Field(description="ISO-8601 with a timezone; not before 2000, at most 1 hour ahead."),
]
EventId = Annotated[uuid.UUID, Field(description="Globally unique id of the event (UUID).")]
UserId = Annotated[str, Field(min_length=1, max_length=255, description="Stable user id.")]
SessionId = Annotated[str, Field(min_length=1, max_length=128)]
CountryCode = Annotated[str, Field(pattern=r"^[A-Z]{2}$", description="ISO-3166 alpha-2.")]
CurrencyCode = Annotated[str, Field(pattern=r"^[A-Z]{3}$", description="ISO-4217.")]
Latitude = Annotated[float, Field(ge=-90.0, le=90.0)]
Longitude = Annotated[float, Field(ge=-180.0, le=180.0)]
ShortText = Annotated[str, Field(min_length=1, max_length=64)]
Text = Annotated[str, Field(min_length=1, max_length=255)]
Money = Annotated[float, Field(ge=0.0, le=1_000_000.0)]
