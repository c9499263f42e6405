"""Event aggregation: windows, watermark and late events, replay, checkpoint reset."""

from __future__ import annotations

from datetime import timedelta

import pytest
from pyspark.sql import functions as F

from dataplat_processing import (
    CheckpointResetError,
    check_event_aggregates_complete,
    check_table_keys,
    reset_stream_job,
    run_event_aggregates,
)
from dataplat_processing._facts import from_spark
from dataplat_processing.silver.event_aggregates import KEYS
from dataplat_processing.tables import EVENT_AGGREGATES_JOB
from tests.spark_fixtures import app_event, ts, uncommit_last_batch


def _windows(spark, layout, minutes: int) -> dict[tuple, tuple]:
    df = spark.read.format("delta").load(layout.silver("event_aggregates")).where(F.col("window_minutes") == minutes)
    return {
        (r.window_start.strftime("%H:%M"), r.event_type, r.platform, r.country): (
            r.events,
            r.unique_users,
            float(r.revenue),
            r.purchases,
        )
        for r in df.collect()
    }


def test_windows_late_events_replay_and_checks(spark, layout, bronze):
    # batch 1: three users over 10:00-10:07, a purchase, an ios event from another country
    bronze.app_events(
        [
            app_event(ts(0), user="a"),
            app_event(ts(0.5), user="b"),
            app_event(ts(0.9), user="a"),
            app_event(ts(3), user="c", event_type="purchase", revenue=12.25),
            app_event(ts(4.5), user="a", event_type="purchase", revenue=7.75),
            app_event(ts(7), user="b", platform="ios", country="DE", city="Berlin", event_type="screen_view"),
        ]
    )
    first = run_event_aggregates(spark, layout)
    assert (first.batches, first.input_rows, first.aggregated_rows, first.late_rows) == (1, 6, 6, 0)
    assert first.watermark is None  # nothing seen before the first batch
    one = _windows(spark, layout, 1)
    assert one[("10:00", "page_view", "web", "US")] == (3, 2, 0.0, 0)
    assert one[("10:03", "purchase", "web", "US")] == (1, 1, 12.25, 1)
    five = _windows(spark, layout, 5)
    assert five[("10:00", "page_view", "web", "US")] == (3, 2, 0.0, 0)
    assert five[("10:00", "purchase", "web", "US")] == (2, 2, 20.0, 2)
    assert five[("10:05", "screen_view", "ios", "DE")] == (1, 1, 0.0, 0)

    # batch 2 moves event time to 10:30 -> the next batch's watermark is 10:20
    bronze.app_events([app_event(ts(30), user="d")])
    assert run_event_aggregates(spark, layout).late_rows == 0
    # batch 3: out of order but on time (10:25, 10:21) and behind the watermark (10:02, 10:19:59)
    bronze.app_events(
        [
            app_event(ts(25), user="e"),
            app_event(ts(21), user="a"),
            app_event(ts(2), user="f"),
            app_event(ts(19.99), user="g", event_type="purchase", revenue=5.0),
        ]
    )
    third = run_event_aggregates(spark, layout)
    assert (third.aggregated_rows, third.late_rows) == (2, 2)
    assert third.watermark == ts(20)
    late = spark.read.format("delta").load(layout.silver("late_events")).collect()
    assert sorted(r.user_id for r in late) == ["f", "g"]
    assert {r.reason for r in late} == {"behind_watermark"}
    assert {from_spark(r.watermark) for r in late} == {ts(20)}
    assert ("10:02", "page_view", "web", "US") not in _windows(spark, layout, 1)  # late: not aggregated
    five = _windows(spark, layout, 5)
    assert five[("10:20", "page_view", "web", "US")] == (1, 1, 0.0, 0)
    assert five[("10:25", "page_view", "web", "US")] == (1, 1, 0.0, 0)

    check = check_event_aggregates_complete(spark, layout)
    assert check.passed, check
    assert check.figures["bronze_events"] == 11
    assert check.figures["late_events"] == 2
    assert check_table_keys(spark, layout.silver("event_aggregates"), KEYS).passed

    # replay: the last batch's writes are done but its commit is lost -> Spark re-runs it
    before = _windows(spark, layout, 1), _windows(spark, layout, 5)
    uncommit_last_batch(EVENT_AGGREGATES_JOB.checkpoint(layout))
    replay = run_event_aggregates(spark, layout)
    assert replay.batches == 1 and replay.input_rows == 4
    assert (_windows(spark, layout, 1), _windows(spark, layout, 5)) == before
    assert spark.read.format("delta").load(layout.silver("late_events")).count() == 2
    assert check_event_aggregates_complete(spark, layout).passed

    # nothing new: no batch, nothing changes
    assert run_event_aggregates(spark, layout).batches == 0

    # failing case: a window counted twice
    spark.sql(
        f"UPDATE delta.`{layout.silver('event_aggregates')}` SET events = events + 1 "
        "WHERE window_minutes = 1 AND event_type = 'screen_view'"
    )
    bad = check_event_aggregates_complete(spark, layout)
    assert not bad.passed
    assert bad.figures["unexplained"] == -1 and bad.figures["mismatched_windows"] == 1


def test_checkpoint_reset_is_refused_then_rebuilt(spark, layout, bronze):
    bronze.app_events([app_event(ts(0)), app_event(ts(40))])
    run_event_aggregates(spark, layout)
    bronze.app_events([app_event(ts(1))])  # behind the watermark of 10:30
    assert run_event_aggregates(spark, layout, allowed_lateness=timedelta(minutes=10)).late_rows == 1

    import shutil

    shutil.rmtree(EVENT_AGGREGATES_JOB.checkpoint(layout))
    with pytest.raises(CheckpointResetError):
        run_event_aggregates(spark, layout)
    deleted = reset_stream_job(spark, layout, "event_aggregates")
    assert len(deleted) == 2  # both tables (the checkpoint was already gone)
    rebuilt = run_event_aggregates(spark, layout)
    assert (rebuilt.input_rows, rebuilt.late_rows) == (3, 0)  # one batch: nothing is late any more
    assert check_event_aggregates_complete(spark, layout).passed


def test_missing_bronze_is_skipped(spark, layout):
    result = run_event_aggregates(spark, layout)
    assert result.skipped and result.batches == 0
    assert result.as_metadata()["skipped"].startswith("bronze table")
