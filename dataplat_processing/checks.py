"""Data checks as plain functions: each returns a :class:`CheckResult` (``passed`` + figures).

They re-derive what a job should have produced from its inputs and compare, rather than trusting
the job's own counters. Streaming checks compare against bronze *as of the version the job's
checkpoint says it processed* (Delta time travel), so data ingested after the run is not mistaken
for a gap.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, timedelta

from pyspark.sql import DataFrame, SparkSession, Window
from pyspark.sql import functions as F

from dataplat_processing import _delta
from dataplat_processing._facts import app_event_facts
from dataplat_processing._stream import processed_source_version
from dataplat_processing.results import CheckResult
from dataplat_processing.silver import cdc as cdc_job
from dataplat_processing.silver.event_aggregates import DIMENSIONS
from dataplat_processing.silver.sessions import SESSION_GAP
from dataplat_processing.tables import (
    CDC_CURRENT_TABLES,
    CDC_HISTORY,
    CDC_JOB,
    DAILY,
    EVENT_AGGREGATES,
    EVENT_AGGREGATES_JOB,
    HOURLY,
    LATE_EVENTS,
    SEGMENTS,
    SESSIONS,
    SESSIONS_JOB,
)
from dataplat_resources.lake import LakeLayout

SHARE_TOLERANCE_PCT = 1e-6
REVENUE_TOLERANCE = 1e-6


def _missing(name: str, path: str) -> CheckResult:
    return CheckResult(name, False, {"table": path}, f"{path} is not a Delta table (has the job run?)")


def check_keys(df: DataFrame, keys: Sequence[str], name: str = "keys") -> CheckResult:
    """Every row has non-null ``keys`` and no two rows share them."""
    any_null = F.lit(False)
    for key in keys:
        any_null = any_null | F.col(key).isNull()
    rows, null_rows = df.agg(F.count(F.lit(1)), F.sum(any_null.cast("long"))).first()
    dup = df.groupBy(*keys).count().where(F.col("count") > 1).agg(F.count(F.lit(1)), F.sum("count")).first()
    figures = {
        "rows": int(rows),
        "null_key_rows": int(null_rows or 0),
        "duplicate_keys": int(dup[0] or 0),
        "rows_with_duplicate_keys": int(dup[1] or 0),
    }
    passed = figures["null_key_rows"] == 0 and figures["duplicate_keys"] == 0
    return CheckResult(name, passed, figures, "" if passed else f"keys {list(keys)} are not unique and non-null")


def check_table_keys(spark: SparkSession, path: str, keys: Sequence[str], name: str | None = None) -> CheckResult:
    """:func:`check_keys` on a Delta table."""
    name = name or f"keys:{path.rstrip('/').rsplit('/', 1)[-1]}"
    if not _delta.is_delta(spark, path):
        return _missing(name, path)
    return check_keys(_delta.read_delta(spark, path), keys, name)


def _bronze_version(spark: SparkSession, layout: LakeLayout, checkpoint: str, given: int | None) -> int | None:
    return given if given is not None else processed_source_version(spark, checkpoint)


def check_event_aggregates_complete(
    spark: SparkSession, layout: LakeLayout, bronze_version: int | None = None
) -> CheckResult:
    """Every bronze app event (up to the processed version) is counted exactly once: in one 1-minute
    window of its own type/platform/country, or in ``late_events``; 5-minute windows sum to the same."""
    name = "event_aggregates_complete"
    job = EVENT_AGGREGATES_JOB
    agg_path, late_path = layout.silver(EVENT_AGGREGATES), layout.silver(LATE_EVENTS)
    version = _bronze_version(spark, layout, job.checkpoint(layout), bronze_version)
    if version is None:
        agg_rows = _delta.has_rows(spark, agg_path)
        return CheckResult(
            name, not agg_rows, {"bronze_version": None}, "" if not agg_rows else "cannot tell what was processed"
        )
    facts = app_event_facts(_delta.read_delta(spark, job.source(layout), version))
    bronze_events = facts.count()
    aggs = (
        _delta.read_delta(spark, agg_path)
        if _delta.is_delta(spark, agg_path)
        else spark.createDataFrame(
            [],
            "window_minutes int, window_start timestamp, event_type string, "
            "platform string, country string, events long",
        )
    )
    late = (
        _delta.read_delta(spark, late_path).where(F.col("job") == job.name)
        if _delta.is_delta(spark, late_path)
        else spark.createDataFrame([], "event_time timestamp, event_type string, platform string, country string")
    )
    totals = aggs.groupBy().pivot("window_minutes", [1, 5]).agg(F.sum("events")).first()
    sum_1m, sum_5m = int(totals[0] or 0) if totals else 0, int(totals[1] or 0) if totals else 0
    late_rows = late.count()

    key = [F.date_trunc("minute", "event_time").alias("window_start"), *DIMENSIONS]
    expected = (
        facts.where(F.col("event_time").isNotNull())
        .groupBy(*key)
        .agg(F.count(F.lit(1)).alias("bronze"))
        .join(
            late.where(F.col("event_time").isNotNull()).groupBy(*key).agg(F.count(F.lit(1)).alias("late")),
            ["window_start", *DIMENSIONS],
            "full",
        )
        .select("window_start", *DIMENSIONS, (F.coalesce("bronze", F.lit(0)) - F.coalesce("late", F.lit(0))).alias("n"))
    )
    actual = aggs.where(F.col("window_minutes") == 1).select("window_start", *DIMENSIONS, F.col("events").alias("a"))
    mismatched = (
        expected.join(actual, ["window_start", *DIMENSIONS], "full")
        .where(F.coalesce("n", F.lit(0)) != F.coalesce("a", F.lit(0)))
        .count()
    )
    figures = {
        "bronze_version": version,
        "bronze_events": bronze_events,
        "events_in_1m_windows": sum_1m,
        "events_in_5m_windows": sum_5m,
        "late_events": late_rows,
        "unexplained": bronze_events - sum_1m - late_rows,
        "mismatched_windows": mismatched,
    }
    passed = bronze_events == sum_1m + late_rows and sum_5m == sum_1m and mismatched == 0
    message = "" if passed else "bronze events != events in 1-minute windows + late events (or a window disagrees)"
    return CheckResult(name, passed, figures, message)


def check_session_invariants(spark: SparkSession, layout: LakeLayout, expect_all_bronze: bool = False) -> CheckResult:
    """Sessions are well formed: start <= end, >= 1 event, page views <= events, bounce and duration
    consistent, funnel step in 0..4, unique keys, and a user's sessions more than the gap apart.

    With ``expect_all_bronze`` the sessions must also hold every bronze clickstream event (use it
    when nothing is being ingested, e.g. in tests).
    """
    name = "session_invariants"
    path = layout.silver(SESSIONS)
    if not _delta.is_delta(spark, path):
        return _missing(name, path)
    s = _delta.read_delta(spark, path)
    w = Window.partitionBy("user_id").orderBy("session_start")
    gap_us = int(SESSION_GAP.total_seconds()) * 1_000_000
    next_start = F.lead("session_start").over(w)
    flagged = s.select(
        (F.col("session_start") > F.col("session_end")).alias("start_after_end"),
        (F.col("events") < 1).alias("no_events"),
        ((F.col("page_views") > F.col("events")) | (F.col("page_views") < 0)).alias("bad_page_views"),
        (F.col("bounce") != (F.col("page_views") == 1)).alias("bad_bounce"),
        (
            F.abs(F.col("duration_s") - (F.unix_micros("session_end") - F.unix_micros("session_start")) / 1e6) > 1e-3
        ).alias("bad_duration"),
        (~F.col("funnel_step").between(0, 4)).alias("bad_funnel_step"),
        (F.unix_micros(next_start) - F.unix_micros("session_end") <= F.lit(gap_us)).alias("too_close_to_next"),
        (F.to_date("session_start") != F.col("session_date")).alias("bad_session_date"),
        "events",
    )
    checks = [c for c in flagged.columns if c != "events"]
    row = flagged.agg(
        F.count(F.lit(1)).alias("sessions"),
        F.sum("events").alias("events"),
        *[F.sum(F.coalesce(F.col(c), F.lit(False)).cast("long")).alias(c) for c in checks],
    ).first()
    figures = {k: int(row[k] or 0) for k in ["sessions", "events", *checks]}
    keys = check_keys(s, ["user_id", "session_id"], "session_keys")
    figures["null_key_rows"] = keys.figures["null_key_rows"]
    figures["duplicate_keys"] = keys.figures["duplicate_keys"]
    violations = sum(figures[c] for c in checks) + figures["null_key_rows"] + figures["duplicate_keys"]
    if expect_all_bronze:
        source = SESSIONS_JOB.source(layout)
        bronze = _delta.read_delta(spark, source).where(F.col("user_id").isNotNull() & F.col("event_time").isNotNull())
        figures["bronze_events"] = bronze.count()
        violations += int(figures["bronze_events"] != figures["events"])
    figures["violations"] = violations
    return CheckResult(name, violations == 0, figures, "" if violations == 0 else "session invariants violated")


def check_hourly_daily_reconciliation(spark: SparkSession, layout: LakeLayout, start: date, end: date) -> CheckResult:
    """For each day of ``[start, end)``, the hourly rows sum to the daily summary (events, revenue, purchases)."""
    name = "hourly_daily_reconciliation"
    hourly_path, daily_path = layout.gold(HOURLY), layout.gold(DAILY)
    for path in (hourly_path, daily_path):
        if not _delta.is_delta(spark, path):
            return _missing(name, path)
    in_range = F.col("event_date").between(F.lit(start), F.lit(end - timedelta(days=1)))
    hourly = (
        _delta.read_delta(spark, hourly_path)
        .where(in_range)
        .groupBy("event_date")
        .agg(F.sum("events").alias("h_events"), F.sum("revenue").alias("h_revenue"), F.sum("purchases").alias("h_p"))
    )
    daily = (
        _delta.read_delta(spark, daily_path)
        .where(in_range)
        .select(
            "event_date",
            F.col("events").alias("d_events"),
            F.col("revenue").alias("d_revenue"),
            F.col("purchases").alias("d_p"),
        )
    )
    joined = hourly.join(daily, "event_date", "full").select(
        "event_date",
        F.coalesce("h_events", F.lit(0)).alias("h_events"),
        F.coalesce("d_events", F.lit(0)).alias("d_events"),
        F.coalesce("h_revenue", F.lit(0)).alias("h_revenue"),
        F.coalesce("d_revenue", F.lit(0)).alias("d_revenue"),
        F.coalesce("h_p", F.lit(0)).alias("h_p"),
        F.coalesce("d_p", F.lit(0)).alias("d_p"),
        F.col("d_events").isNull().alias("no_daily_row"),
    )
    bad = (
        (F.col("h_events") != F.col("d_events"))
        | (F.abs(F.col("h_revenue") - F.col("d_revenue")) > REVENUE_TOLERANCE)
        | (F.col("h_p") != F.col("d_p"))
        | F.col("no_daily_row")
    )
    row = joined.agg(
        F.count(F.lit(1)),
        F.sum(bad.cast("long")),
        F.sum("h_events"),
        F.sum("d_events"),
        F.sum("h_revenue"),
        F.sum("d_revenue"),
        F.sum(F.col("no_daily_row").cast("long")),
    ).first()
    days_expected = (end - start).days
    daily_days = _delta.read_delta(spark, daily_path).where(in_range).count()
    figures = {
        "days": days_expected,
        "daily_rows": daily_days,
        "mismatched_days": int(row[1] or 0),
        "hourly_events": int(row[2] or 0),
        "daily_events": int(row[3] or 0),
        "hourly_revenue": float(row[4] or 0),
        "daily_revenue": float(row[5] or 0),
    }
    passed = figures["mismatched_days"] == 0 and daily_days == days_expected
    return CheckResult(name, passed, figures, "" if passed else "hourly totals do not sum to the daily summary")


def check_cdc_zero_drift(spark: SparkSession, layout: LakeLayout, bronze_version: int | None = None) -> CheckResult:
    """The MERGE-maintained current tables equal a one-pass replay of the whole change log (up to the
    processed bronze version), tombstones included; the history has every version once and one
    current version per key."""
    name = "cdc_zero_drift"
    version = _bronze_version(spark, layout, CDC_JOB.checkpoint(layout), bronze_version)
    if version is None:
        return CheckResult(name, False, {"bronze_version": None}, "the CDC job has not processed anything yet")
    flat = cdc_job.changes(_delta.read_delta(spark, CDC_JOB.source(layout), version))
    figures: dict[str, int | None] = {"bronze_version": version}
    drift_total = 0
    for table, silver_name in CDC_CURRENT_TABLES.items():
        expected = cdc_job.replay_current_state(flat, table)
        path = layout.silver(silver_name)
        if _delta.is_delta(spark, path):
            actual = _delta.read_delta(spark, path)
        else:
            actual = spark.createDataFrame([], expected.schema)
        cols = [*cdc_job.TABLE_COLUMNS[table], "is_deleted", "op", "lsn"]
        e = expected.select(*[F.col(c).alias(f"e_{c}") for c in cols])
        a = actual.select(*[F.col(c).alias(f"a_{c}") for c in cols])
        differs = F.lit(False)
        for c in cols:
            differs = differs | ~F.col(f"e_{c}").eqNullSafe(F.col(f"a_{c}"))
        drift = e.join(a, F.col("e_id") == F.col("a_id"), "full").where(differs).count()
        figures[f"{table}_rows"] = actual.count()
        figures[f"{table}_drift"] = drift
        drift_total += drift
    history_path = layout.silver(CDC_HISTORY)
    expected_versions = flat.select("source_table", "id", "lsn").distinct().count()
    if _delta.is_delta(spark, history_path):
        history = _delta.read_delta(spark, history_path)
        versions = history.count()
        distinct_versions = history.select("source_table", "id", "lsn").distinct().count()
        bad_current = (
            history.groupBy("source_table", "id")
            .agg(F.sum(F.col("is_current").cast("int")).alias("n"))
            .where(F.col("n") != 1)
            .count()
        )
    else:
        versions = distinct_versions = bad_current = 0
    figures |= {
        "history_versions": versions,
        "expected_history_versions": expected_versions,
        "keys_without_one_current_version": bad_current,
        "drift": drift_total,
    }
    passed = drift_total == 0 and versions == distinct_versions == expected_versions and bad_current == 0
    return CheckResult(name, passed, figures, "" if passed else "CDC tables drift from a replay of the change log")


def check_segment_shares(spark: SparkSession, layout: LakeLayout, as_of: date) -> CheckResult:
    """As of ``as_of``: one known segment per user, and the segments' shares sum to 100 %."""
    from dataplat_processing.gold.segments import SEGMENTS_IN_PRIORITY

    name = "segment_shares"
    path = layout.gold(SEGMENTS)
    if not _delta.is_delta(spark, path):
        return _missing(name, path)
    df = _delta.read_delta(spark, path).where(F.col("as_of_date") == F.lit(as_of))
    counts = {r["segment"]: int(r["count"]) for r in df.groupBy("segment").count().collect()}
    total = sum(counts.values())
    shares = {s: (100.0 * counts.get(s, 0) / total if total else 0.0) for s in SEGMENTS_IN_PRIORITY}
    unknown = sum(n for s, n in counts.items() if s not in SEGMENTS_IN_PRIORITY)
    duplicates = check_keys(df, ["user_id"], "segment_users").figures
    share_sum = sum(shares.values())
    figures = {
        "as_of_date": as_of.isoformat(),
        "users": total,
        **{f"share_{s}_pct": round(v, 4) for s, v in shares.items()},
        "share_sum_pct": share_sum,
        "unknown_or_null_segment": unknown,
        "duplicate_users": duplicates["duplicate_keys"],
        "null_users": duplicates["null_key_rows"],
    }
    passed = (
        total > 0
        and abs(share_sum - 100.0) <= SHARE_TOLERANCE_PCT
        and unknown == 0
        and duplicates["duplicate_keys"] == 0
        and duplicates["null_key_rows"] == 0
    )
    return CheckResult(name, passed, figures, "" if passed else "segments are not one known segment per user")
