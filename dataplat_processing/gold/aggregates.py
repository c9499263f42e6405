"""Gold hourly aggregates and daily summary: batch (re)builds of a time range, idempotent per range.

Both read bronze app events (the exactly-once system of record, late events included) through
:func:`~dataplat_processing._facts.app_event_facts`, filter ``start <= event_time < end`` the same
way, and count events, purchases and decimal revenue the same way, so the hours of a day always sum
to that day's summary. A run replaces exactly its range's rows (Delta ``replaceWhere``; Delta
refuses rows outside the predicate), so re-running a range is idempotent and never touches its
neighbours; a multi-hour or multi-day range (a backfill) is one Spark job and one commit.

``gold/hourly_aggregates`` (partitioned by ``event_date``): per ``hour`` and event_type/platform/
country: ``events``, ``unique_users`` (exact), ``revenue``, ``purchases``.

``gold/daily_summary`` (partitioned by ``event_date``; a row for every day of the range, zeros on
days without events): ``events``, ``dau`` (exact distinct users), ``revenue``, ``purchases``,
``purchasers``, ``conversion_rate`` (purchasers / dau), ``events_per_user``, and from
``silver/clickstream_sessions`` (sessions attributed to the day they start): ``sessions``,
``avg_session_duration_s``, ``avg_pages_per_session``, ``bounce_rate``, ``funnel_conversion_rate``
(sessions that went product -> cart -> checkout -> confirmation / sessions).
"""

from __future__ import annotations

import time
from datetime import UTC, date, datetime, timedelta
from datetime import time as dtime

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from dataplat_processing import _delta
from dataplat_processing._facts import (
    app_event_facts,
    event_date_range,
    in_time_range,
    revenue_sum,
)
from dataplat_processing.results import GoldResult
from dataplat_processing.tables import DAILY, HOURLY, SESSIONS
from dataplat_resources import topics
from dataplat_resources.lake import LakeLayout

PARTITION_BY = ("event_date",)


def _check_hours(start: datetime, end: datetime) -> None:
    for name, value in (("start", start), ("end", end)):
        if value.tzinfo is None:
            raise ValueError(f"{name} {value!r} must be timezone-aware (UTC)")
        if value.astimezone(UTC) != value.astimezone(UTC).replace(minute=0, second=0, microsecond=0):
            raise ValueError(f"{name} {value.isoformat()} is not on an hour boundary")
    if end <= start:
        raise ValueError(f"empty hour range [{start.isoformat()}, {end.isoformat()})")


def _check_days(start: date, end: date) -> None:
    if isinstance(start, datetime) or isinstance(end, datetime):
        raise TypeError("daily ranges take dates, not datetimes")
    if end <= start:
        raise ValueError(f"empty day range [{start}, {end})")


def day_start(day: date) -> datetime:
    return datetime.combine(day, dtime(0), tzinfo=UTC)


def sql_timestamp(value: datetime) -> str:
    """A SQL literal that means this instant whatever the session time zone."""
    return f"TIMESTAMP'{value.astimezone(UTC).strftime('%Y-%m-%d %H:%M:%S.%f')}Z'"


def sql_date(value: date) -> str:
    return f"DATE'{value.isoformat()}'"


def _facts_in(spark: SparkSession, layout: LakeLayout, start: datetime, end: datetime) -> DataFrame | None:
    path = layout.bronze(topics.APP_EVENTS)
    if not _delta.is_delta(spark, path):
        return None
    bronze = (
        _delta.read_delta(spark, path)
        .where(event_date_range(start, end))
        .where(in_time_range("event_time", start, end))
    )
    return app_event_facts(bronze)


def hourly_rows(facts: DataFrame) -> DataFrame:
    return (
        facts.groupBy(F.date_trunc("hour", "event_time").alias("hour"), "event_type", "platform", "country")
        .agg(
            F.count(F.lit(1)).alias("events"),
            F.countDistinct("user_id").alias("unique_users"),
            revenue_sum().alias("revenue"),
            F.sum(F.col("is_purchase").cast("long")).alias("purchases"),
        )
        .select(
            "hour",
            F.to_date("hour").alias("event_date"),
            "event_type",
            "platform",
            "country",
            "events",
            "unique_users",
            "revenue",
            "purchases",
            F.current_timestamp().alias("updated_at"),
        )
    )


def _totals(df: DataFrame) -> tuple[int, int, float, int]:
    row = df.agg(F.count(F.lit(1)), F.sum("events"), F.sum("revenue"), F.sum("purchases")).first()
    return int(row[0]), int(row[1] or 0), float(row[2] or 0), int(row[3] or 0)


def run_hourly_aggregates(spark: SparkSession, layout: LakeLayout, start: datetime, end: datetime) -> GoldResult:
    """Rebuild ``gold/hourly_aggregates`` for the hours of ``[start, end)`` in one job."""
    started = time.perf_counter()
    _check_hours(start, end)
    hours = int((end - start) / timedelta(hours=1))
    facts = _facts_in(spark, layout, start, end)
    if facts is None:
        return GoldResult(job=HOURLY, duration_s=round(time.perf_counter() - started, 3), start=start, end=end)
    rows = hourly_rows(facts).localCheckpoint(eager=True)
    first_day, last_day = start.astimezone(UTC).date(), (end - timedelta(microseconds=1)).astimezone(UTC).date()
    predicate = (
        f"event_date >= {sql_date(first_day)} AND event_date <= {sql_date(last_day)} "
        f"AND hour >= {sql_timestamp(start)} AND hour < {sql_timestamp(end)}"
    )
    _delta.overwrite_where(rows, layout.gold(HOURLY), predicate, PARTITION_BY)
    count, events, revenue, purchases = _totals(rows)
    return GoldResult(
        job=HOURLY,
        duration_s=round(time.perf_counter() - started, 3),
        start=start,
        end=end,
        partitions=hours,
        rows_written=count,
        events=events,
        revenue=revenue,
        purchases=purchases,
    )


def daily_rows(spark: SparkSession, layout: LakeLayout, facts: DataFrame, start: date, end: date) -> DataFrame:
    days = spark.range((end - start).days).select(F.date_add(F.lit(start), F.col("id").cast("int")).alias("event_date"))
    events = facts.groupBy(F.to_date("event_time").alias("event_date")).agg(
        F.count(F.lit(1)).alias("events"),
        F.countDistinct("user_id").alias("dau"),
        revenue_sum().alias("revenue"),
        F.sum(F.col("is_purchase").cast("long")).alias("purchases"),
        F.countDistinct(F.when(F.col("is_purchase"), F.col("user_id"))).alias("purchasers"),
    )
    sessions_path = layout.silver(SESSIONS)
    if _delta.is_delta(spark, sessions_path):
        sessions = (
            _delta.read_delta(spark, sessions_path)
            .where(F.col("session_date").between(F.lit(start), F.lit(end - timedelta(days=1))))
            .groupBy(F.col("session_date").alias("event_date"))
            .agg(
                F.count(F.lit(1)).alias("sessions"),
                F.avg("duration_s").alias("avg_session_duration_s"),
                F.avg("page_views").alias("avg_pages_per_session"),
                F.avg(F.col("bounce").cast("double")).alias("bounce_rate"),
                F.avg((F.col("funnel_step") >= 4).cast("double")).alias("funnel_conversion_rate"),
            )
        )
    else:
        sessions = spark.createDataFrame(
            [],
            "event_date date, sessions long, avg_session_duration_s double, avg_pages_per_session double, "
            "bounce_rate double, funnel_conversion_rate double",
        )
    joined = days.join(events, "event_date", "left").join(sessions, "event_date", "left")
    return joined.select(
        "event_date",
        F.coalesce("events", F.lit(0)).cast("long").alias("events"),
        F.coalesce("dau", F.lit(0)).cast("long").alias("dau"),
        F.coalesce("revenue", F.lit(0)).cast(events.schema["revenue"].dataType).alias("revenue"),
        F.coalesce("purchases", F.lit(0)).cast("long").alias("purchases"),
        F.coalesce("purchasers", F.lit(0)).cast("long").alias("purchasers"),
        F.when(F.col("dau") > 0, F.col("purchasers") / F.col("dau")).otherwise(F.lit(0.0)).alias("conversion_rate"),
        F.when(F.col("dau") > 0, F.col("events") / F.col("dau")).otherwise(F.lit(0.0)).alias("events_per_user"),
        F.coalesce("sessions", F.lit(0)).cast("long").alias("sessions"),
        "avg_session_duration_s",
        "avg_pages_per_session",
        "bounce_rate",
        "funnel_conversion_rate",
        F.current_timestamp().alias("updated_at"),
    )


def run_daily_summary(spark: SparkSession, layout: LakeLayout, start: date, end: date) -> GoldResult:
    """Rebuild ``gold/daily_summary`` for the days of ``[start, end)`` in one job."""
    started = time.perf_counter()
    _check_days(start, end)
    facts = _facts_in(spark, layout, day_start(start), day_start(end))
    if facts is None:
        return GoldResult(job=DAILY, duration_s=round(time.perf_counter() - started, 3), start=start, end=end)
    rows = daily_rows(spark, layout, facts, start, end).localCheckpoint(eager=True)
    predicate = f"event_date >= {sql_date(start)} AND event_date < {sql_date(end)}"
    _delta.overwrite_where(rows, layout.gold(DAILY), predicate, PARTITION_BY)
    count, events, revenue, purchases = _totals(rows)
    return GoldResult(
        job=DAILY,
        duration_s=round(time.perf_counter() - started, 3),
        start=start,
        end=end,
        partitions=(end - start).days,
        rows_written=count,
        events=events,
        revenue=revenue,
        purchases=purchases,
    )
