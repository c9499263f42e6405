"""Clocks, timestamps and ids that are fast and reproducible.

Time is handled as integer microseconds since the epoch: ints are exact (floats lose
microseconds), cheap to shift, and turn into ISO-8601 strings through a per-second cache that
is several times faster than ``datetime.isoformat``. Ids come from the caller's seeded
``random.Random``, so the same seed gives the same ids.
"""

from __future__ import annotations

import random
import time
from datetime import UTC, datetime
from typing import Protocol

US_PER_S = 1_000_000
US_PER_MS = 1_000
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_ISO_CACHE_MAX = 50_000
_iso_seconds: dict[int, str] = {}

_UUID_CLEAR = ~((0xF000 << 64) | (0xC000 << 48))
_UUID_SET = (0x4000 << 64) | (0x8000 << 48)


def to_us(moment: datetime) -> int:
    """Microseconds since the epoch of an aware datetime (exact, no float rounding)."""
    if moment.tzinfo is None:
        raise ValueError(f"{moment!r} has no timezone; simulators only use aware times")
    delta = moment - _EPOCH
    return (delta.days * 86_400 + delta.seconds) * US_PER_S + delta.microseconds


def from_us(us: int) -> datetime:
    return datetime.fromtimestamp(us // US_PER_S, UTC).replace(microsecond=us % US_PER_S)


def _second_prefix(second: int) -> str:
    prefix = _iso_seconds.get(second)
    if prefix is None:
        if len(_iso_seconds) >= _ISO_CACHE_MAX:
            _iso_seconds.clear()
        prefix = datetime.fromtimestamp(second, UTC).strftime("%Y-%m-%dT%H:%M:%S")
        _iso_seconds[second] = prefix
    return prefix


def iso_us(us: int) -> str:
    """``2026-11-24T10:00:00.123456+00:00``: always microseconds and an explicit UTC offset."""
    second, micro = divmod(us, US_PER_S)
    return f"{_second_prefix(second)}.{micro:06d}+00:00"


def iso_naive_us(us: int) -> str:
    """The same instant without a timezone: what a buggy client sends."""
    second, micro = divmod(us, US_PER_S)
    return f"{_second_prefix(second)}.{micro:06d}"


def uuid4_str(rng: random.Random) -> str:
    """A version-4 UUID string drawn from ``rng``; equals ``str(uuid.UUID(int=bits, version=4))``."""
    n = (rng.getrandbits(128) & _UUID_CLEAR) | _UUID_SET
    h = f"{n:032x}"
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


class Clock(Protocol):
    """Produce time. Each call is one message being handed to Kafka."""

    def now_us(self) -> int: ...


class WallClock:
    """Real time, for continuous mode."""

    def now_us(self) -> int:
        return time.time_ns() // 1_000


class VirtualClock:
    """Simulated time for bursts and tests: starts at ``start`` and advances by a random
    (exponential, mean ``mean_step_us``) gap per call, so bursts look like Poisson traffic
    and the same seed gives the same timestamps.

    Two attributes describe the run the clock belongs to (sources may use them, none must):

    - ``origin_us``: the instant the run is anchored at (by default ``start``). A burst that
      replays the past starts before its real start and sets this to the real start; the CDC
      source derives its row id, LSN and txId ranges from it.
    - ``time_scale``: how many clock microseconds one modelled microsecond takes (1.0 = real
      pace). A clock compressed 50,000 times (``2e-5``) tells a source to compress the
      durations it models (the CDC capture lag) the same way.
    """

    def __init__(
        self,
        start: datetime | int,
        mean_step_us: int = 50_000,
        seed: int | str = 0,
        *,
        origin_us: int | None = None,
        time_scale: float = 1.0,
    ) -> None:
        self._now = start if isinstance(start, int) else to_us(start)
        self._mean = max(1, mean_step_us)
        self._rng = random.Random(f"clock:{seed}")
        self.origin_us = self._now if origin_us is None else origin_us
        if not 0.0 < time_scale <= 1.0:
            raise ValueError(f"time_scale must be in (0, 1], got {time_scale}")
        self.time_scale = time_scale

    def now_us(self) -> int:
        current = self._now
        self._now += 1 + int(self._rng.expovariate(1.0) * self._mean)
        return current

    def peek_us(self) -> int:
        return self._now
