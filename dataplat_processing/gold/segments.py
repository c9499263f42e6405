"""Daily user segmentation: RFM figures and exactly one behaviour segment per user, as of day D.

``gold/user_segments`` (partitioned by ``as_of_date``): one row per (as_of_date, user_id) for every
user with at least one app event in the :data:`LOOKBACK_DAYS` days ending on D (inclusive).

RFM, as of the end of day D (UTC):

- ``recency_days``: D - the last day the user had an event (0 = active on D);
- ``frequency_30d``: days with at least one event among the :data:`RFM_WINDOW_DAYS` days ending on D;
- ``monetary_30d``: purchase revenue in those days; also ``purchases_30d`` and ``events_30d``.

Segments, exclusive and tried in this priority order (the first rule that holds wins):

==============  ==========================================================================
``high_value``  ``monetary_30d >= HIGH_VALUE_MIN_REVENUE_30D`` (500)
``new``         first seen (within the lookback) less than ``NEW_USER_DAYS`` (7) days ago
``active``      ``recency_days < ACTIVE_WITHIN_DAYS`` (7): seen in the last 7 days
``at_risk``     ``recency_days < AT_RISK_WITHIN_DAYS`` (30): seen in the last 30 days, not the last 7
``churned``     everyone else in the lookback: last seen 30 to 89 days ago
==============  ==========================================================================

"First seen" only looks back :data:`LOOKBACK_DAYS` (90): a user returning after a longer absence
counts as new. Shares are of the users segmented that day and sum to 100 %.
"""

from __future__ import annotations

import time
from datetime import date, timedelta

from pyspark.sql import Column, DataFrame, SparkSession
from pyspark.sql import functions as F

from dataplat_processing import _delta
from dataplat_processing._facts import REVENUE_SUM, app_event_facts, dates_between, in_time_range
from dataplat_processing.gold.aggregates import _check_days, day_start, sql_date
from dataplat_processing.results import SegmentsResult
from dataplat_processing.tables import SEGMENTS
from dataplat_resources import topics
from dataplat_resources.lake import LakeLayout

LOOKBACK_DAYS = 90
RFM_WINDOW_DAYS = 30
HIGH_VALUE_MIN_REVENUE_30D = 500.0
NEW_USER_DAYS = 7
ACTIVE_WITHIN_DAYS = 7
AT_RISK_WITHIN_DAYS = 30
SEGMENTS_IN_PRIORITY = ("high_value", "new", "active", "at_risk", "churned")
PARTITION_BY = ("as_of_date",)


def segment_rule() -> Column:
    """The prioritised, exclusive rules above as one expression over the RFM columns."""
    return (
        F.when(F.col("monetary_30d") >= F.lit(HIGH_VALUE_MIN_REVENUE_30D), F.lit("high_value"))
        .when(F.datediff("as_of_date", "first_seen_date") < NEW_USER_DAYS, F.lit("new"))
        .when(F.col("recency_days") < ACTIVE_WITHIN_DAYS, F.lit("active"))
        .when(F.col("recency_days") < AT_RISK_WITHIN_DAYS, F.lit("at_risk"))
        .otherwise(F.lit("churned"))
    )


def segment_rows(spark: SparkSession, facts: DataFrame, start: date, end: date) -> DataFrame:
    user_days = facts.groupBy("user_id", F.to_date("event_time").alias("day")).agg(
        F.count(F.lit(1)).alias("events"),
        F.sum(F.col("is_purchase").cast("long")).alias("purchases"),
        F.coalesce(F.sum("revenue"), F.lit(0)).alias("revenue"),
    )
    as_of = spark.range((end - start).days).select(
        F.date_add(F.lit(start), F.col("id").cast("int")).alias("as_of_date")
    )
    in_lookback = (F.col("day") <= F.col("as_of_date")) & (F.col("day") > F.date_sub("as_of_date", LOOKBACK_DAYS))
    in_rfm = F.col("day") > F.date_sub("as_of_date", RFM_WINDOW_DAYS)
    rfm = (
        user_days.join(F.broadcast(as_of), in_lookback)
        .groupBy("as_of_date", "user_id")
        .agg(
            F.min("day").alias("first_seen_date"),
            F.max("day").alias("last_seen_date"),
            F.sum(F.when(in_rfm, 1).otherwise(0)).cast("long").alias("frequency_30d"),
            F.coalesce(F.sum(F.when(in_rfm, F.col("revenue"))), F.lit(0)).cast(REVENUE_SUM).alias("monetary_30d"),
            F.coalesce(F.sum(F.when(in_rfm, F.col("purchases"))), F.lit(0)).cast("long").alias("purchases_30d"),
            F.coalesce(F.sum(F.when(in_rfm, F.col("events"))), F.lit(0)).cast("long").alias("events_30d"),
        )
        .withColumn("recency_days", F.datediff("as_of_date", "last_seen_date"))
    )
    return rfm.select(
        "as_of_date",
        "user_id",
        segment_rule().alias("segment"),
        "recency_days",
        "frequency_30d",
        "monetary_30d",
        "purchases_30d",
        "events_30d",
        "first_seen_date",
        "last_seen_date",
        F.current_timestamp().alias("updated_at"),
    )


def segment_shares(df: DataFrame) -> tuple[dict[str, dict[str, int]], dict[str, dict[str, float]]]:
    """Sizes and percentage shares per as-of date (every segment listed, zero when empty)."""
    sizes: dict[str, dict[str, int]] = {}
    for row in df.groupBy("as_of_date", "segment").count().collect():
        day = row["as_of_date"].isoformat()
        sizes.setdefault(day, dict.fromkeys(SEGMENTS_IN_PRIORITY, 0))[row["segment"]] = int(row["count"])
    shares = {
        day: {s: (100.0 * n / total if (total := sum(counts.values())) else 0.0) for s, n in counts.items()}
        for day, counts in sizes.items()
    }
    return sizes, shares


def run_user_segments(spark: SparkSession, layout: LakeLayout, start: date, end: date | None = None) -> SegmentsResult:
    """Segment users as of each day of ``[start, end)`` (default: just ``start``) in one job."""
    started = time.perf_counter()
    end = end or start + timedelta(days=1)
    _check_days(start, end)
    path = layout.bronze(topics.APP_EVENTS)
    if not _delta.is_delta(spark, path):
        return SegmentsResult(job=SEGMENTS, duration_s=round(time.perf_counter() - started, 3), start=start, end=end)
    first = start - timedelta(days=LOOKBACK_DAYS - 1)
    bronze = (
        _delta.read_delta(spark, path)
        .where(F.col("event_date").between(F.lit(first), F.lit(end - timedelta(days=1))))
        .where(in_time_range("event_time", day_start(first), day_start(end)))
    )
    rows = segment_rows(spark, app_event_facts(bronze), start, end).localCheckpoint(eager=True)
    predicate = f"as_of_date >= {sql_date(start)} AND as_of_date < {sql_date(end)}"
    _delta.overwrite_where(rows, layout.gold(SEGMENTS), predicate, PARTITION_BY)
    sizes, shares = segment_shares(rows)
    for day in dates_between(start, end):  # days with nobody to segment still get an entry
        sizes.setdefault(day.isoformat(), dict.fromkeys(SEGMENTS_IN_PRIORITY, 0))
        shares.setdefault(day.isoformat(), dict.fromkeys(SEGMENTS_IN_PRIORITY, 0.0))
    return SegmentsResult(
        job=SEGMENTS,
        duration_s=round(time.perf_counter() - started, 3),
        start=start,
        end=end,
        rows_written=sum(sum(v.values()) for v in sizes.values()),
        sizes=sizes,
        shares=shares,
    )
