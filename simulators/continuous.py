"""Continuous mode: every selected source at its own realistic, slowly changing rate.

Each source has a rate range (:data:`simulators.registry.SOURCES`): mobile 30-100, web 20-60,
CDC 10-30, clickstream 40-100 messages per minute and external data 50-100 batches per five
minutes. Every minute a new rate is drawn from the range (seeded), times ``rate_multiplier``.
Arrivals are Poisson: the gap after a unit is exponential with mean ``cost / rate``, where the
cost of a unit is its number of valid messages (a CDC transaction may hold several, an external
batch counts as one, the CDC snapshot as zero).

:class:`RatePlan` is pure scheduling on microsecond timestamps, so it can be tested without
sleeping; :func:`run_continuous` drives it with the wall clock and a :class:`KafkaSink`.
"""

from __future__ import annotations

import heapq
import random
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from dataplat_resources.logging import get_logger
from dataplat_resources.settings import KafkaSettings
from simulators.base import BaseSource
from simulators.producer import KafkaSink
from simulators.registry import SOURCES, RateRange, make_source
from simulators.timeutil import US_PER_S, Clock, WallClock

RATE_PERIOD_US = 60 * US_PER_S
MAX_BACKLOG_US = 2 * US_PER_S
PROGRESS_WINDOW_S = 10.0

log = get_logger(__name__)


class RatePlan:
    """When each source is due next. Rates are redrawn once a minute within their range."""

    def __init__(self, names: Sequence[str], *, seed: int, start_us: int, multiplier: float = 1.0) -> None:
        if multiplier <= 0:
            raise ValueError(f"rate multiplier must be positive, got {multiplier}")
        self.multiplier = multiplier
        self._rng = {name: random.Random(f"{seed}:{name}:rate") for name in names}
        self._ranges: dict[str, RateRange] = {name: SOURCES[name].rate for name in names}
        self._rate: dict[str, float] = {}
        self._next_change: dict[str, int] = {}
        self._heap: list[tuple[int, str]] = []
        for name in names:
            self._redraw(name, start_us)
            heapq.heappush(self._heap, (start_us + self._gap_us(name, 1.0), name))

    def _redraw(self, name: str, now_us: int) -> None:
        span = self._ranges[name]
        per_s = self._rng[name].uniform(span.low, span.high) / span.per_seconds
        self._rate[name] = per_s * self.multiplier
        self._next_change[name] = now_us + RATE_PERIOD_US

    def _gap_us(self, name: str, cost: float) -> int:
        if cost <= 0:
            return 0
        return int(self._rng[name].expovariate(self._rate[name] / cost) * US_PER_S)

    def rate_per_s(self, name: str) -> float:
        """Current target, in units per second."""
        return self._rate[name]

    def peek(self) -> tuple[int, str]:
        """(due time in µs, source name) of the next unit."""
        return self._heap[0]

    def charge(self, cost: float, now_us: int) -> None:
        """The due source emitted a unit of ``cost``: schedule its next one."""
        due, name = heapq.heappop(self._heap)
        if now_us >= self._next_change[name]:
            self._redraw(name, now_us)
        # Behind schedule (a slow broker, a paused laptop): do not burst to catch up.
        base = max(due, now_us - MAX_BACKLOG_US)
        heapq.heappush(self._heap, (base + self._gap_us(name, cost), name))


@dataclass
class SourceProgress:
    """Live totals of one source."""

    name: str
    topic: str
    unit: str = "messages"
    messages: int = 0
    invalid: int = 0
    target_per_s: float = 0.0
    _window: deque[tuple[float, int]] = field(default_factory=deque, repr=False)

    def observe(self, now_s: float) -> None:
        self._window.append((now_s, self.messages))
        while len(self._window) > 2 and now_s - self._window[0][0] > PROGRESS_WINDOW_S:
            self._window.popleft()

    @property
    def rate_per_s(self) -> float:
        """Measured messages per second over the last few seconds."""
        if len(self._window) < 2:
            return 0.0
        (t0, n0), (t1, n1) = self._window[0], self._window[-1]
        return (n1 - n0) / (t1 - t0) if t1 > t0 else 0.0


@dataclass
class ContinuousReport:
    """What a continuous run did; ``sink`` holds the per-topic delivery statistics."""

    sources: dict[str, SourceProgress]
    sink: KafkaSink
    elapsed_s: float
    stopped_by: str  # duration | signal | error


def run_continuous(
    sources: Sequence[str],
    *,
    seed: int,
    settings: KafkaSettings,
    rate_multiplier: float = 1.0,
    invalid_fraction: float = 0.01,
    late_fraction: float = 0.05,
    duration_s: float | None = None,
    topics: Mapping[str, str] | None = None,
    stop: threading.Event | None = None,
    on_progress: Callable[[ContinuousReport], None] | None = None,
    progress_interval_s: float = 0.5,
    clock: Clock | None = None,
    producer_overrides: Mapping[str, Any] | None = None,
) -> ContinuousReport:
    """Produce until ``duration_s`` passes or ``stop`` is set, then flush (raising
    :class:`simulators.producer.ProduceError` if anything was not delivered). A failed delivery
    also stops the run at the next progress tick: producing on into a broken topic helps no one."""
    clock = clock or WallClock()
    stop = stop or threading.Event()
    topics = topics or {}
    generators: dict[str, BaseSource] = {
        name: make_source(name, seed=seed, clock=clock, invalid_fraction=invalid_fraction, late_fraction=late_fraction)
        for name in sources
    }
    progress = {
        name: SourceProgress(name, topics.get(name, SOURCES[name].topic), SOURCES[name].rate.unit) for name in sources
    }
    start_us = clock.now_us()
    plan = RatePlan(list(sources), seed=seed, start_us=start_us, multiplier=rate_multiplier)
    deadline_us = None if duration_s is None else start_us + int(duration_s * US_PER_S)
    started = time.monotonic()
    next_progress = started
    stopped_by = "signal"
    sink = KafkaSink(settings, overrides=producer_overrides)
    report = ContinuousReport(progress, sink, 0.0, stopped_by)
    try:
        while not stop.is_set():
            now_us = clock.now_us()
            if deadline_us is not None and now_us >= deadline_us:
                stopped_by = "duration"
                break
            if time.monotonic() >= next_progress:
                next_progress += progress_interval_s
                now_s = time.monotonic()
                for name, state in progress.items():
                    state.target_per_s = plan.rate_per_s(name)
                    state.observe(now_s)
                report.elapsed_s = now_s - started
                if on_progress is not None:
                    on_progress(report)
                if any(s.failed for s in sink.stats.values()):
                    stopped_by = "error"
                    break
            due_us, name = plan.peek()
            if due_us > now_us:
                wait_s = (due_us - now_us) / US_PER_S
                if deadline_us is not None:
                    wait_s = min(wait_s, max(0.0, (deadline_us - now_us) / US_PER_S))
                sink.poll(min(wait_s, 0.1, progress_interval_s))
                continue
            unit = generators[name].next_unit()
            sink.send_many(progress[name].topic, unit.messages)
            state = progress[name]
            state.messages += len(unit.messages)
            state.invalid += sum(1 for m in unit.messages if m.invalid_kind is not None)
            plan.charge(unit.cost, now_us)
    finally:
        report.stopped_by = stopped_by
        log.info("continuous run stopping; flushing", stopped_by=stopped_by, in_flight=sink.in_flight())
        try:
            sink.flush()
        finally:
            sink.close()
            report.elapsed_s = time.monotonic() - started
            now_s = time.monotonic()
            for state in progress.values():
                state.observe(now_s)
            if on_progress is not None:
                on_progress(report)
    return report
