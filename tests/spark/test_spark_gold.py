"""Gold: hourly aggregates and daily summary (ranges, backfill in one commit, idempotency, reconciliation),
user segmentation (every rule reached, shares)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from delta.tables import DeltaTable
from pyspark.sql import functions as F

from dataplat_processing import (
    check_hourly_daily_reconciliation,
    check_segment_shares,
    run_clickstream_sessions,
    run_daily_summary,
    run_hourly_aggregates,
    run_user_segments,
)
from tests.spark_fixtures import DAY0, app_event, click, ts

D0 = datetime(2024, 5, 1, tzinfo=UTC)


def _history_ops(spark, path: str) -> list[str]:
    return [r.operation for r in DeltaTable.forPath(spark, path).history().orderBy("version").collect()]


def test_hourly_daily_backfill_idempotency_and_reconciliation(spark, layout, bronze):
    bronze.app_events(
        [
            app_event(ts(-1), user="a"),  # 09:59
            app_event(ts(0), user="a"),  # 10:00 (hour boundary)
            app_event(ts(1), user="b", event_type="purchase", revenue=0.1),
            app_event(ts(2), user="b", event_type="purchase", revenue=0.2),  # 0.1 + 0.2 must be exactly 0.3
            app_event(ts(59.9), user="c", platform="ios", country="DE", city="Berlin", event_type="screen_view"),
            app_event(ts(60 * 14 + 5), user="a"),  # 2024-05-02 00:05
            app_event(ts(60 * 15), user="d", event_type="purchase", revenue=99.99),  # 2024-05-02 01:00
        ]
    )
    bronze.clicks([click(ts(0), user="a"), click(ts(3), user="a", page_type="product"), click(ts(60), user="b")])
    run_clickstream_sessions(spark, layout)

    # backfill 48 hours in one run: one Delta commit
    hourly = run_hourly_aggregates(spark, layout, D0, D0 + timedelta(days=2))
    assert (hourly.partitions, hourly.events, hourly.purchases) == (48, 7, 3)
    assert hourly.revenue == pytest.approx(100.29)
    path = layout.gold("hourly_aggregates")
    assert _history_ops(spark, path) == ["WRITE"]
    rows = {
        (r.hour.hour, r.event_type, r.platform, r.country): r
        for r in spark.read.format("delta").load(path).where(F.col("event_date") == DAY0).collect()
    }
    assert rows[(9, "page_view", "web", "US")].events == 1
    purchases = rows[(10, "purchase", "web", "US")]
    assert (purchases.events, purchases.unique_users, purchases.revenue, purchases.purchases) == (
        2,
        1,
        Decimal("0.3000"),
        2,
    )

    daily = run_daily_summary(spark, layout, DAY0, DAY0 + timedelta(days=2))
    assert (daily.partitions, daily.rows_written, daily.events) == (2, 2, 7)
    days = {r.event_date: r for r in spark.read.format("delta").load(layout.gold("daily_summary")).collect()}
    d0 = days[DAY0]
    assert (d0.events, d0.dau, d0.purchases, d0.purchasers, d0.revenue) == (5, 3, 2, 1, Decimal("0.3000"))
    assert d0.conversion_rate == pytest.approx(1 / 3)
    assert (d0.sessions, d0.bounce_rate, d0.avg_session_duration_s) == (2, 0.5, 90.0)
    assert days[DAY0 + timedelta(days=1)].sessions == 0
    ok = check_hourly_daily_reconciliation(spark, layout, DAY0, DAY0 + timedelta(days=2))
    assert ok.passed, ok

    # re-running one hour replaces only that hour's rows; the table is unchanged
    before = spark.read.format("delta").load(path).drop("updated_at").collect()
    run_hourly_aggregates(spark, layout, D0 + timedelta(hours=10), D0 + timedelta(hours=11))
    assert sorted(spark.read.format("delta").load(path).drop("updated_at").collect()) == sorted(before)

    # a late event lands in 10:00; only that hour is rebuilt -> the day no longer reconciles ...
    bronze.app_events([app_event(ts(30), user="e", event_type="purchase", revenue=1.0)])
    rerun = run_hourly_aggregates(spark, layout, D0 + timedelta(hours=10), D0 + timedelta(hours=11))
    assert (rerun.events, rerun.rows_written) == (5, 3)
    bad = check_hourly_daily_reconciliation(spark, layout, DAY0, DAY0 + timedelta(days=2))
    assert not bad.passed and bad.figures["mismatched_days"] == 1
    assert bad.figures["hourly_events"] - bad.figures["daily_events"] == 1
    # ... until the day is rebuilt too
    run_daily_summary(spark, layout, DAY0, DAY0 + timedelta(days=1))
    assert check_hourly_daily_reconciliation(spark, layout, DAY0, DAY0 + timedelta(days=2)).passed
    assert spark.read.format("delta").load(layout.gold("daily_summary")).count() == 2

    # a missing day is a failure too
    assert not check_hourly_daily_reconciliation(spark, layout, DAY0, DAY0 + timedelta(days=3)).passed


def test_gold_ranges_are_validated(spark, layout):
    with pytest.raises(ValueError, match="hour boundary"):
        run_hourly_aggregates(spark, layout, D0 + timedelta(minutes=5), D0 + timedelta(hours=2))
    with pytest.raises(ValueError, match="timezone"):
        run_hourly_aggregates(spark, layout, datetime(2024, 5, 1), datetime(2024, 5, 2))
    with pytest.raises(ValueError, match="empty"):
        run_daily_summary(spark, layout, DAY0, DAY0)


def test_user_segments_rules_and_shares(spark, layout, bronze):
    d = DAY0  # as of the end of 2024-05-01

    def at(days_ago: float, **kw):
        return app_event(D0 + timedelta(hours=12) - timedelta(days=days_ago), **kw)

    bronze.app_events(
        [
            at(60, user="hv"),
            at(3, user="hv", event_type="purchase", revenue=450.0),
            at(2, user="hv", event_type="purchase", revenue=60.0),  # 510 in 30 days
            at(2, user="hv_new", event_type="purchase", revenue=800.0),  # new AND high value -> high_value
            at(2, user="nw"),
            at(0, user="nw"),
            at(40, user="ac"),
            at(6, user="ac"),  # seen 6 days ago: active
            at(40, user="ar"),
            at(7, user="ar"),  # 7 days ago: at risk
            at(29, user="ar2"),
            at(45, user="ar2"),  # 29 days ago: at risk
            at(50, user="ch"),  # 50 days ago: churned
            at(30, user="ch2"),
            at(31, user="ch2"),  # 30 days ago: churned
            at(100, user="gone"),  # beyond the 90-day lookback: not segmented
            at(40, user="old_hv", event_type="purchase", revenue=5000.0),  # revenue outside 30 days: churned
            at(-1, user="future"),  # after the as-of day: not segmented
        ]
    )
    result = run_user_segments(spark, layout, d)
    segments = {
        r.user_id: r
        for r in spark.read.format("delta").load(layout.gold("user_segments")).where(F.col("as_of_date") == d).collect()
    }
    assert {u: r.segment for u, r in segments.items()} == {
        "hv": "high_value",
        "hv_new": "high_value",
        "nw": "new",
        "ac": "active",
        "ar": "at_risk",
        "ar2": "at_risk",
        "ch": "churned",
        "ch2": "churned",
        "old_hv": "churned",
    }
    hv = segments["hv"]
    assert (hv.recency_days, hv.frequency_30d, hv.monetary_30d, hv.purchases_30d) == (2, 2, Decimal("510.0000"), 2)
    assert segments["nw"].recency_days == 0
    sizes = result.sizes[d.isoformat()]
    assert sizes == {"high_value": 2, "new": 1, "active": 1, "at_risk": 2, "churned": 3}
    assert sum(result.shares[d.isoformat()].values()) == pytest.approx(100.0)
    check = check_segment_shares(spark, layout, d)
    assert check.passed, check
    assert check.figures["users"] == 9

    # a range of as-of days in one run; the day before, "nw" had been seen the day before (recency 1)
    ranged = run_user_segments(spark, layout, d - timedelta(days=2), d + timedelta(days=1))
    assert set(ranged.sizes) == {(d - timedelta(days=i)).isoformat() for i in range(3)}
    assert ranged.sizes[d.isoformat()] == sizes  # the same day recomputed in a range: same result
    prev = spark.read.format("delta").load(layout.gold("user_segments"))
    prev = {r.user_id: r for r in prev.where(F.col("as_of_date") == d - timedelta(days=1)).collect()}
    assert (prev["nw"].segment, prev["nw"].recency_days) == ("new", 1)
    assert (prev["ac"].segment, prev["ac"].recency_days) == ("active", 5)

    # failing case: a user in two segments and an unknown segment
    path = layout.gold("user_segments")
    extra = (
        spark.read.format("delta")
        .load(path)
        .where((F.col("as_of_date") == d) & (F.col("user_id") == "ac"))
        .withColumn("segment", F.lit("vip"))
    )
    extra.write.format("delta").mode("append").save(path)
    bad = check_segment_shares(spark, layout, d)
    assert not bad.passed
    assert bad.figures["unknown_or_null_segment"] == 1 and bad.figures["duplicate_users"] == 1
    assert bad.figures["share_sum_pct"] < 100
