"""The five sources by name, their topics and their default continuous-mode rates."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from dataplat_resources import topics
from simulators.app_events import MobileAppSource, WebSource
from simulators.base import BaseSource
from simulators.cdc import PostgresCdcSource
from simulators.clickstream import ClickstreamSource
from simulators.external import ExternalDataSource
from simulators.timeutil import Clock, VirtualClock, WallClock, to_us
from simulators.world import World, build_world


@dataclass(frozen=True)
class RateRange:
    """Continuous-mode rate: between ``low`` and ``high`` units per ``per_seconds``.
    The unit is a message, except for external data where it is a whole batch."""

    low: float
    high: float
    per_seconds: float = 60.0
    unit: Literal["messages", "batches"] = "messages"


@dataclass(frozen=True)
class SourceInfo:
    name: str
    cls: type[BaseSource]
    topic: str
    rate: RateRange


SOURCES: dict[str, SourceInfo] = {
    info.name: info
    for info in (
        SourceInfo("mobile_app", MobileAppSource, topics.APP_EVENTS, RateRange(30, 100)),
        SourceInfo("web", WebSource, topics.APP_EVENTS, RateRange(20, 60)),
        SourceInfo("postgres_cdc", PostgresCdcSource, topics.CDC_CHANGES, RateRange(10, 30)),
        SourceInfo("clickstream", ClickstreamSource, topics.CLICKSTREAM, RateRange(40, 100)),
        SourceInfo("external_data", ExternalDataSource, topics.EXTERNAL_DATA, RateRange(50, 100, 300.0, "batches")),
    )
}
SOURCE_NAMES: tuple[str, ...] = tuple(SOURCES)
# Virtual time between two messages of one source in a burst (bursts replay recent history;
# CDC bursts run live on a compressed clock instead, see burst_clock).
BURST_STEP_US = 50_000
BURST_MAX_SPAN_US = 3_600_000_000


def parse_sources(spec: str) -> list[str]:
    """``all`` or a comma-separated list of source names, validated."""
    if spec.strip().lower() == "all":
        return list(SOURCE_NAMES)
    names = [part.strip() for part in spec.split(",") if part.strip()]
    unknown = [n for n in names if n not in SOURCES]
    if unknown or not names:
        raise ValueError(f"unknown source(s) {unknown or spec!r}; choose from: all, {', '.join(SOURCE_NAMES)}")
    return list(dict.fromkeys(names))


def make_source(
    name: str,
    *,
    seed: int,
    clock: Clock | None = None,
    world: World | None = None,
    invalid_fraction: float = 0.01,
    late_fraction: float = 0.05,
    **options: Any,
) -> BaseSource:
    """A source by name. ``clock`` defaults to the wall clock (continuous mode)."""
    try:
        info = SOURCES[name]
    except KeyError:
        raise ValueError(f"unknown source {name!r}; choose from: {', '.join(SOURCE_NAMES)}") from None
    return info.cls(
        seed=seed,
        world=world if world is not None else build_world(seed),
        clock=clock,
        invalid_fraction=invalid_fraction,
        late_fraction=late_fraction,
        **options,
    )


def burst_clock(
    name: str, seed: int, events: int, start: datetime | int | None = None, *, now_us: int | None = None
) -> VirtualClock:
    """The virtual clock of a burst of ``events`` messages of source ``name``.

    ``now_us`` is the burst's real start (default: the wall clock now; tests inject it), ``start``
    pins the clock instead (same seed + same start = byte-identical messages). The clock's
    ``origin_us`` is the pinned start, else the real start: the CDC source derives its row id,
    LSN and txId ranges from it, so they increase from one burst to the next.

    - Most sources replay the recent past: the clock starts ``events`` steps (``BURST_STEP_US``,
      at most an hour in all) before the real start, so its last messages are about then.
      Event times of consecutive bursts may overlap.
    - A source with ``live_burst_step_us`` (Postgres CDC) runs live instead: the clock starts at
      the real start (or ``start``) and advances ~1.6 µs per message with ``time_scale``
      ``live_burst_step_us / BURST_STEP_US``, i.e. the usual burst compressed 50,000 times. Since
      generating a message takes far longer (about 15 µs), the clock never runs ahead of real
      time, and a burst started after an earlier one finished has all its times after the
      earlier one's (see :mod:`simulators.cdc`).
    """
    info = SOURCES.get(name)
    live_step = info.cls.live_burst_step_us if info is not None else None
    pinned = None if start is None else start if isinstance(start, int) else to_us(start)
    if live_step is not None:
        begin = pinned if pinned is not None else (now_us if now_us is not None else WallClock().now_us())
        return VirtualClock(
            begin, live_step, seed=f"{seed}:{name}", origin_us=begin, time_scale=live_step / BURST_STEP_US
        )
    step = max(1, min(BURST_STEP_US, BURST_MAX_SPAN_US // max(1, events)))
    if pinned is not None:
        return VirtualClock(pinned, step, seed=f"{seed}:{name}")
    real_start = now_us if now_us is not None else WallClock().now_us()
    return VirtualClock(real_start - step * events, step, seed=f"{seed}:{name}", origin_us=real_start)
