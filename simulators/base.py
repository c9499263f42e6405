"""What every source shares: the message type, lateness, invalid-record injection, serialization.

A source is a plain, deterministic object: same seed, same world and same clock readings give
byte-identical messages. Three independent random streams keep concerns apart:

- ``rng`` draws the content (who does what),
- ``time_rng`` draws delivery delays and lateness,
- ``fault_rng`` decides which records get an invalid twin and how it is broken.

So changing ``invalid_fraction`` or ``late_fraction`` does not change what the valid records say.

Time model: the clock gives the produce time (it becomes the Kafka message timestamp). The
event time is earlier: a normal record was created 20 ms - 2 s before it was produced. A
``late_fraction`` of records (default 5 %) is late: 80 % of those by 2-60 minutes (an app that
was offline, a stalled connector) and 20 % by 10-120 seconds (plain out-of-order arrival).
Anything more than :data:`LATE_THRESHOLD_US` behind its produce time counts as late.

Invalid records (default 1 % of the output) are *extra* copies of a just generated record,
broken in one way (see :mod:`simulators.invalid`) and marked with the header
``dataplat-invalid: <kind>``. Because they are extra, the valid stream stays consistent:
CDC rows keep their history, external batches stay complete.
"""

from __future__ import annotations

import random
from abc import ABC, abstractmethod
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, ClassVar

import orjson

from simulators.timeutil import Clock, WallClock
from simulators.world import World, build_world

SOURCE_HEADER = "dataplat-source"
INVALID_HEADER = "dataplat-invalid"
LATE_THRESHOLD_US = 5_000_000
NORMAL_DELAY_US = (20_000, 2_000_000)
LATE_MINUTES_US = (120_000_000, 3_600_000_000)
OUT_OF_ORDER_US = (10_000_000, 120_000_000)
LATE_LONG_SHARE = 0.8


class SimMessage:
    """One Kafka record, ready for ``Producer.produce``."""

    __slots__ = ("headers", "invalid_kind", "key", "late", "timestamp_ms", "value")

    def __init__(
        self,
        key: bytes,
        value: bytes | None,
        headers: list[tuple[str, bytes]],
        timestamp_ms: int,
        *,
        invalid_kind: str | None = None,
        late: bool = False,
    ) -> None:
        self.key = key
        self.value = value
        self.headers = headers
        self.timestamp_ms = timestamp_ms
        self.invalid_kind = invalid_kind
        self.late = late

    def __repr__(self) -> str:
        size = None if self.value is None else len(self.value)
        return f"SimMessage(key={self.key!r}, bytes={size}, invalid={self.invalid_kind!r}, late={self.late})"

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, SimMessage):
            return NotImplemented
        return (self.key, self.value, self.headers, self.timestamp_ms) == (
            other.key,
            other.value,
            other.headers,
            other.timestamp_ms,
        )

    __hash__ = None  # type: ignore[assignment]


@dataclass(frozen=True, slots=True)
class Unit:
    """What a source emits in one step: one event, one CDC transaction or one external batch.
    ``cost`` is what the continuous-mode rate limiter charges for it (0 for a CDC snapshot)."""

    messages: list[SimMessage]
    cost: float


@dataclass(slots=True)
class Draft:
    """A valid record before serialization."""

    key: bytes
    payload: dict[str, Any]
    produce_us: int
    late: bool = False


class BaseSource(ABC):
    """A reproducible stream of records for one topic."""

    name: ClassVar[str]
    topic: ClassVar[str]
    invalid_kinds: ClassVar[tuple[str, ...]]
    # None: a burst replays the recent past (see simulators.registry.burst_clock). A number: a
    # burst runs "live" from its start on a clock that advances about this many microseconds
    # per message, slower than any burst can be generated (so never ahead of real time).
    live_burst_step_us: ClassVar[int | None] = None

    def __init__(
        self,
        *,
        seed: int,
        world: World | None = None,
        clock: Clock | None = None,
        invalid_fraction: float = 0.01,
        late_fraction: float = 0.05,
    ) -> None:
        if not 0.0 <= invalid_fraction < 1.0:
            raise ValueError(f"invalid_fraction must be in [0, 1), got {invalid_fraction}")
        if not 0.0 <= late_fraction <= 1.0:
            raise ValueError(f"late_fraction must be in [0, 1], got {late_fraction}")
        self.seed = seed
        self.world = world if world is not None else build_world(seed)
        self.clock: Clock = clock if clock is not None else WallClock()
        self.invalid_fraction = invalid_fraction
        self.late_fraction = late_fraction
        # An invalid twin follows a valid record with probability p/(1-p): p of the output is invalid.
        self._twin_probability = invalid_fraction / (1.0 - invalid_fraction)
        self.rng = random.Random(f"{seed}:{self.name}:content")
        self.time_rng = random.Random(f"{seed}:{self.name}:time")
        self.fault_rng = random.Random(f"{seed}:{self.name}:faults")
        self._headers = [(SOURCE_HEADER, self.name.encode())]
        self.emitted = 0
        self.invalid_emitted = 0
        self.late_emitted = 0

    # -- to implement ----------------------------------------------------------------------

    @abstractmethod
    def _drafts(self) -> tuple[list[Draft], float]:
        """The valid records of the next unit, and its rate cost."""

    @abstractmethod
    def _corrupt(self, draft: Draft, kind: str) -> SimMessage:
        """An invalid twin of ``draft`` broken in the way ``kind`` says."""

    # -- time helpers ------------------------------------------------------------------------

    def _late_lag_us(self) -> int:
        """How far behind its produce time a late record is."""
        rng = self.time_rng
        low, high = LATE_MINUTES_US if rng.random() < LATE_LONG_SHARE else OUT_OF_ORDER_US
        return rng.randint(low, high)

    def _delay_us(self) -> tuple[int, bool]:
        """How long before its produce time a record was created, and whether it is late."""
        rng = self.time_rng
        if self.late_fraction and rng.random() < self.late_fraction:
            self.late_emitted += 1
            return self._late_lag_us(), True
        return rng.randint(*NORMAL_DELAY_US), False

    def _session_event_us(self, produce_us: int, session: Any) -> tuple[int, bool]:
        """Event time of the next record of a session (an object with ``delay_us`` and ``last_us``).

        A session has one network delay; small jitter on top never makes its event times go
        backwards. Late records are placed earlier on purpose and do not move the session on.
        """
        rng = self.time_rng
        if self.late_fraction and rng.random() < self.late_fraction:
            self.late_emitted += 1
            return produce_us - self._late_lag_us(), True
        event_us = produce_us - session.delay_us - rng.randint(0, 20_000)
        if event_us <= session.last_us:
            event_us = min(session.last_us + 1, produce_us)
        session.last_us = event_us
        return event_us, False

    # -- output ------------------------------------------------------------------------------

    def next_unit(self) -> Unit:
        drafts, cost = self._drafts()
        messages: list[SimMessage] = []
        append = messages.append
        headers = self._headers
        twin = self._twin_probability
        fault = self.fault_rng
        for draft in drafts:
            append(
                SimMessage(draft.key, orjson.dumps(draft.payload), headers, draft.produce_us // 1_000, late=draft.late)
            )
            if twin and fault.random() < twin:
                kind = fault.choice(self.invalid_kinds)
                append(self._corrupt(draft, kind))
                self.invalid_emitted += 1
        self.emitted += len(messages)
        return Unit(messages, cost)

    def messages(self) -> Iterator[SimMessage]:
        """An endless stream (units flattened)."""
        while True:
            yield from self.next_unit().messages

    def take(self, n: int) -> list[SimMessage]:
        """At least ``n`` messages, always ending on a whole unit: a CDC transaction, the CDC
        snapshot or an external batch is never cut, so at most one unit more than asked."""
        out: list[SimMessage] = []
        while len(out) < n:
            out.extend(self.next_unit().messages)
        return out

    def invalid_message(self, draft: Draft, kind: str, value: bytes | None) -> SimMessage:
        return SimMessage(
            draft.key,
            value,
            [*self._headers, (INVALID_HEADER, kind.encode())],
            draft.produce_us // 1_000,
            invalid_kind=kind,
            late=draft.late,
        )
