"""Offset-range bookkeeping: what to read, how to split a backlog, how to name a run.

Offsets follow Kafka's convention: a range is ``[start, end)``; ``end`` is the high watermark
seen when the range was planned. The Delta log stores, per partition, the *last* offset
ingested (an app transaction version), so "next to read" is that version + 1.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass


@dataclass(frozen=True, order=True)
class PartitionRange:
    partition: int
    start: int  # first offset to read
    end: int  # one past the last offset to read

    def __post_init__(self) -> None:
        if self.partition < 0:
            raise ValueError(f"partition must be >= 0, got {self.partition}")
        if self.start < 0 or self.end < self.start:
            raise ValueError(f"invalid offset range [{self.start}, {self.end}) for partition {self.partition}")

    @property
    def count(self) -> int:
        return self.end - self.start

    def __str__(self) -> str:
        return f"{self.partition}:{self.start}-{self.end}"


@dataclass(frozen=True)
class OffsetRanges:
    """The exact slice of one topic that one run ingests."""

    topic: str
    ranges: tuple[PartitionRange, ...]

    def __post_init__(self) -> None:
        partitions = [r.partition for r in self.ranges]
        if len(partitions) != len(set(partitions)):
            raise ValueError(f"a partition appears twice in {self}")

    @property
    def total(self) -> int:
        return sum(r.count for r in self.ranges)

    def non_empty(self) -> OffsetRanges:
        return OffsetRanges(self.topic, tuple(r for r in self.ranges if r.count))

    def __str__(self) -> str:
        return f"{self.topic}[{', '.join(str(r) for r in sorted(self.ranges))}]"

    def run_key(self) -> str:
        """Stable, short key: the same topic and ranges always give the same key."""
        text = str(self.non_empty())
        digest = hashlib.sha256(text.encode()).hexdigest()[:16]
        return f"{self.topic}:{digest}"

    def to_config(self) -> list[dict[str, int]]:
        return [{"partition": r.partition, "start": r.start, "end": r.end} for r in sorted(self.ranges)]

    @classmethod
    def from_config(cls, topic: str, items: list[Mapping[str, int]]) -> OffsetRanges:
        return cls(topic, tuple(PartitionRange(int(i["partition"]), int(i["start"]), int(i["end"])) for i in items))


def next_offsets(committed: Mapping[int, int | None], low_watermarks: Mapping[int, int]) -> dict[int, int]:
    """Where reading resumes: after the last committed offset, never before the log start."""
    resume = {}
    for partition, low in low_watermarks.items():
        last = committed.get(partition)
        resume[partition] = max(low, (last + 1) if last is not None else low)
    return resume


def plan_runs(
    topic: str,
    start: Mapping[int, int],
    end: Mapping[int, int],
    max_messages_per_run: int,
) -> list[OffsetRanges]:
    """Split ``[start, end)`` per partition into runs of at most ``max_messages_per_run``.

    Each run takes an equal share from every partition that still has data, so partitions
    advance together and lag stays even. Deterministic: same input, same runs, same run keys.
    """
    if max_messages_per_run < 1:
        raise ValueError("max_messages_per_run must be >= 1")
    unknown = set(start) - set(end)
    if unknown:
        raise ValueError(f"no end offset for partitions {sorted(unknown)} of {topic}")
    position = {p: start.get(p, end[p]) for p in end}
    for p, offset in position.items():
        if offset > end[p]:
            raise ValueError(f"{topic} partition {p}: start {offset} is past the end {end[p]}")
    runs: list[OffsetRanges] = []
    while True:
        active = sorted(p for p in position if position[p] < end[p])
        if not active:
            return runs
        budget = max_messages_per_run
        share = max(1, budget // len(active))
        ranges = []
        for p in active:
            take = min(share, end[p] - position[p], budget)
            if take <= 0:
                break
            ranges.append(PartitionRange(p, position[p], position[p] + take))
            position[p] += take
            budget -= take
        runs.append(OffsetRanges(topic, tuple(ranges)))


# -- sensor ticks ---------------------------------------------------------------------------


@dataclass(frozen=True)
class SensorCursor:
    """What a topic's sensor has already requested: the next offset to request per partition."""

    requested: dict[int, int]
    repairs: int = 0
    checked_at: float = 0.0  # epoch seconds of the last look at Kafka (for the runtime interval)

    def to_json(self) -> str:
        return json.dumps(
            {
                "requested": {str(p): o for p, o in sorted(self.requested.items())},
                "repairs": self.repairs,
                "checked_at": self.checked_at,
            }
        )

    @classmethod
    def from_json(cls, text: str | None) -> SensorCursor | None:
        if not text:
            return None
        data = json.loads(text)
        return cls(
            {int(p): int(o) for p, o in data.get("requested", {}).items()},
            int(data.get("repairs", 0)),
            float(data.get("checked_at", 0.0)),
        )


@dataclass(frozen=True)
class TickPlan:
    runs: list[OffsetRanges]
    repair: OffsetRanges | None
    cursor: SensorCursor
    skip_reason: str | None
    lag: int
    notes: list[str]


def plan_tick(
    topic: str,
    cursor: SensorCursor | None,
    low: Mapping[int, int],
    high: Mapping[int, int],
    committed: Mapping[int, int],
    max_messages_per_run: int,
    runs_in_flight: bool,
    max_runs_per_tick: int = 20,
    now: float = 0.0,
) -> TickPlan:
    """Decide what one sensor tick requests. Pure: all inputs are passed in.

    - New data: ``[cursor, high)`` split into bounded runs; the cursor moves to their end.
    - Repair: when no run is in flight and the Delta progress is behind the cursor (a run
      failed for good), the missing range is requested again under a new run key.
    - Nothing new: a skip reason that says where every partition stands.
    """
    notes: list[str] = []
    ingested_next = next_offsets(committed, low)
    requested = dict(cursor.requested) if cursor else dict(ingested_next)
    for p in high:
        if p not in requested:  # a partition added since the last tick
            requested[p] = ingested_next.get(p, low.get(p, 0))
        if requested[p] > high[p]:
            notes.append(f"partition {p}: requested offset {requested[p]} is past the end {high[p]}; topic recreated?")
            requested[p] = min(ingested_next.get(p, 0), high[p])
        first_needed = min(requested[p], committed[p] + 1) if p in committed else requested[p]
        if first_needed < low.get(p, 0):
            notes.append(
                f"partition {p}: offsets {first_needed}..{low[p] - 1} were deleted by retention before ingestion"
            )
        # Whatever is already in Delta (e.g. written by the continuous service) is never requested.
        requested[p] = max(requested[p], low.get(p, 0), min(ingested_next.get(p, 0), high[p]))
    repairs = cursor.repairs if cursor else 0
    repair = None
    if cursor is not None and not runs_in_flight:
        behind = {p: ingested_next.get(p, 0) for p in high if ingested_next.get(p, 0) < requested[p]}
        if behind:
            repair_runs = plan_runs(topic, behind, {p: requested[p] for p in behind}, max_messages_per_run)
            repair = repair_runs[0]
            repairs += 1
            notes.append(f"re-requesting {repair}: Delta progress is behind what was requested (a run failed)")
    runs = plan_runs(topic, requested, high, max_messages_per_run)[:max_runs_per_tick]
    for run in runs:
        for r in run.ranges:
            requested[r.partition] = max(requested[r.partition], r.end)
    lag = sum(max(0, high[p] - ingested_next.get(p, 0)) for p in high)
    skip = None
    if not runs and repair is None:
        where = ", ".join(f"{p}@{high[p]}" for p in sorted(high))
        skip = f"no new messages in {topic} since the last request (end offsets {where}; lag {lag})"
    return TickPlan(runs, repair, SensorCursor(requested, repairs, now), skip, lag, notes)
