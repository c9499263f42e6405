"""Offset-range planning and sensor ticks (pure logic, no servers)."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import given
from hypothesis import strategies as st

from dataplat_ingestion.offsets import (
    OffsetRanges,
    PartitionRange,
    SensorCursor,
    next_offsets,
    plan_runs,
    plan_tick,
)


def test_range_validation_rejects_nonsense() -> None:
    with pytest.raises(ValueError, match="invalid offset range"):
        PartitionRange(0, 10, 5)
    with pytest.raises(ValueError, match="partition must be"):
        PartitionRange(-1, 0, 1)
    with pytest.raises(ValueError, match="appears twice"):
        OffsetRanges("t", (PartitionRange(0, 0, 1), PartitionRange(0, 1, 2)))


def test_run_key_is_stable_and_ignores_order_and_empty_ranges() -> None:
    a = OffsetRanges("t", (PartitionRange(0, 0, 10), PartitionRange(1, 5, 9), PartitionRange(2, 3, 3)))
    b = OffsetRanges("t", (PartitionRange(1, 5, 9), PartitionRange(0, 0, 10)))
    assert a.run_key() == b.run_key()
    assert a.run_key() != OffsetRanges("t", (PartitionRange(0, 0, 11), PartitionRange(1, 5, 9))).run_key()
    assert a.run_key() != OffsetRanges("u", a.ranges).run_key()


def test_config_round_trip() -> None:
    ranges = OffsetRanges("t", (PartitionRange(1, 5, 9), PartitionRange(0, 0, 10)))
    assert OffsetRanges.from_config("t", ranges.to_config()).run_key() == ranges.run_key()


def test_next_offsets_resumes_after_commit_and_respects_retention() -> None:
    assert next_offsets({0: 9, 1: 2}, {0: 0, 1: 5, 2: 3}) == {0: 10, 1: 5, 2: 3}


def test_backlog_is_split_into_bounded_runs() -> None:
    runs = plan_runs("t", {0: 0, 1: 0}, {0: 1000, 1: 100}, max_messages_per_run=300)
    assert all(run.total <= 300 for run in runs)
    covered = {p: [] for p in (0, 1)}
    for run in runs:
        for r in run.ranges:
            covered[r.partition].append((r.start, r.end))
    for p, end in ((0, 1000), (1, 100)):
        spans = sorted(covered[p])
        assert spans[0][0] == 0 and spans[-1][1] == end
        assert all(a[1] == b[0] for a, b in itertools.pairwise(spans))


@given(
    start=st.dictionaries(st.integers(0, 7), st.integers(0, 1000), min_size=1, max_size=8),
    extra=st.lists(st.integers(0, 5000), min_size=8, max_size=8),
    bound=st.integers(1, 2000),
)
def test_plan_runs_covers_everything_exactly_once(start: dict[int, int], extra: list[int], bound: int) -> None:
    end = {p: s + extra[p] for p, s in start.items()}
    runs = plan_runs("t", start, end, bound)
    seen: dict[int, list[tuple[int, int]]] = {p: [] for p in start}
    for run in runs:
        assert 0 < run.total <= bound
        for r in run.ranges:
            seen[r.partition].append((r.start, r.end))
    for p, spans_seen in seen.items():
        spans = sorted(spans_seen)
        total = sum(e - s for s, e in spans)
        assert total == end[p] - start[p]
        assert all(a[1] == b[0] for a, b in itertools.pairwise(spans))
    assert plan_runs("t", start, end, bound) == runs  # deterministic


def test_first_tick_starts_from_delta_progress_then_skips_when_nothing_new() -> None:
    plan = plan_tick(
        "t",
        None,
        low={0: 0, 1: 0},
        high={0: 100, 1: 40},
        committed={0: 49},
        max_messages_per_run=1000,
        runs_in_flight=False,
    )
    assert [str(r) for r in plan.runs] == ["t[0:50-100, 1:0-40]"]
    assert plan.cursor.requested == {0: 100, 1: 40}
    assert plan.skip_reason is None
    again = plan_tick("t", plan.cursor, {0: 0, 1: 0}, {0: 100, 1: 40}, {0: 49}, 1000, runs_in_flight=True)
    assert again.runs == [] and again.repair is None
    assert again.skip_reason is not None and "no new messages in t" in again.skip_reason


def test_cursor_round_trip_and_new_partitions() -> None:
    cursor = SensorCursor({0: 10}, repairs=2, checked_at=5.0)
    assert SensorCursor.from_json(cursor.to_json()) == cursor
    assert SensorCursor.from_json(None) is None
    plan = plan_tick("t", cursor, {0: 0, 1: 0}, {0: 10, 1: 7}, {0: 9}, 100, runs_in_flight=False)
    assert [str(r) for r in plan.runs] == ["t[1:0-7]"]


def test_failed_run_is_repaired_under_a_new_key_only_when_nothing_is_in_flight() -> None:
    cursor = SensorCursor({0: 100})
    busy = plan_tick("t", cursor, {0: 0}, {0: 100}, {0: 49}, 1000, runs_in_flight=True)
    assert busy.repair is None
    idle = plan_tick("t", cursor, {0: 0}, {0: 100}, {0: 49}, 1000, runs_in_flight=False)
    assert idle.repair is not None and str(idle.repair) == "t[0:50-100]"
    assert idle.cursor.repairs == 1


def test_progress_made_elsewhere_is_never_requested_again() -> None:
    """The continuous service may be ahead of the sensor: its offsets are not requested."""
    plan = plan_tick("t", SensorCursor({0: 10}), {0: 0}, {0: 100}, {0: 79}, 1000, runs_in_flight=False)
    assert [str(r) for r in plan.runs] == ["t[0:80-100]"]


def test_retention_and_recreated_topics_are_reported() -> None:
    gone = plan_tick("t", SensorCursor({0: 5}), {0: 50}, {0: 60}, {}, 1000, runs_in_flight=True)
    assert any("deleted by retention" in n for n in gone.notes)
    assert [str(r) for r in gone.runs] == ["t[0:50-60]"]
    reset = plan_tick("t", SensorCursor({0: 500}), {0: 0}, {0: 60}, {}, 1000, runs_in_flight=True)
    assert any("recreated" in n for n in reset.notes)
    assert [str(r) for r in reset.runs] == ["t[0:0-60]"]
