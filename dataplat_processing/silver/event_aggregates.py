"""Tumbling 1- and 5-minute windows of app events per event_type, platform and country.

Output ``silver/event_aggregates`` (partitioned by ``window_date``), one row per
(window_minutes, window_start, event_type, platform, country): ``events``, ``unique_users``,
``revenue`` (sum of ``properties.revenue`` of purchases), ``purchases``, plus the HyperLogLog
sketch of the users (``users_sketch``) that makes unique users mergeable.

Late data. The watermark is ``max(event_time seen by earlier micro-batches) - allowed_lateness``
(default 10 min), Spark's own definition. A row older than the watermark is not aggregated; it is
written, with the watermark and the batch id, to ``silver/late_events`` in the same micro-batch,
so it is counted and reportable, never silently dropped. The invariant the checks verify is::

    bronze rows read == sum(events of 1-minute windows) + rows in late_events

Why not Spark's stateful ``groupBy(window).withWatermark``: it drops late rows without saying
which (only a per-progress count, lost if the process dies before reading it), and one query
cannot hold both window sizes in update mode. Here the batch's contribution is merged into the
stored windows instead: the 1-minute rows are updated additively (counts and sums add, sketches
union), and the touched 5-minute windows are rebuilt from their five 1-minute rows, so the two
sizes always agree and results are visible after a single availableNow run. The watermark state is
the table itself (``max(max_event_time)`` of committed windows), so it moves atomically with the
data. Because the 1-minute update is additive, the MERGE relies on Delta's transaction guard
(txnAppId/txnVersion = batch id) to make a replayed batch a no-op. The late-events append is made
first and in every batch (empty or not), so whichever of the two writes landed before a crash, the
replay either recomputes the same watermark (the MERGE had not landed) or skips both.

Unique users are HyperLogLog estimates (Apache DataSketches ``hll_sketch_agg``, lgK=12: about 1.6 %
relative error), the streaming equivalent of ``approx_count_distinct`` but mergeable across
batches and windows. Exact unique users are in gold (``hourly_aggregates``).
"""

from __future__ import annotations

import time
from datetime import timedelta
from typing import Any

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from dataplat_processing import _delta
from dataplat_processing._facts import REVENUE_SUM, app_event_facts, from_spark, revenue_sum, ts_literal
from dataplat_processing._stream import run_available_now
from dataplat_processing.results import EventAggregatesResult
from dataplat_processing.tables import EVENT_AGGREGATES, EVENT_AGGREGATES_JOB, LATE_EVENTS
from dataplat_resources.lake import LakeLayout

DEFAULT_ALLOWED_LATENESS = timedelta(minutes=10)
HLL_LG_K = 12
WINDOW_SIZES_MINUTES = (1, 5)
DIMENSIONS = ("event_type", "platform", "country")
KEYS = ("window_minutes", "window_start", *DIMENSIONS)
PARTITION_BY = ("window_date",)
LATE_PARTITION_BY = ("event_date",)
REASON_BEHIND_WATERMARK = "behind_watermark"
REASON_NO_EVENT_TIME = "no_event_time"


def _window_start(ts_col: str, minutes: int) -> F.Column:
    seconds = minutes * 60
    return F.timestamp_seconds((F.unix_seconds(F.col(ts_col)) / seconds).cast("long") * seconds)


def _finish(df: DataFrame, minutes: int, batch_id: int) -> DataFrame:
    """Windows with their sketch -> the table's columns."""
    return df.select(
        F.lit(minutes).alias("window_minutes"),
        "window_start",
        (F.col("window_start") + F.expr(f"INTERVAL {minutes} MINUTES")).alias("window_end"),
        F.to_date("window_start").alias("window_date"),
        *DIMENSIONS,
        F.col("events").cast("long").alias("events"),
        F.hll_sketch_estimate("users_sketch").alias("unique_users"),
        "users_sketch",
        F.col("revenue").cast(REVENUE_SUM).alias("revenue"),
        F.col("purchases").cast("long").alias("purchases"),
        "max_event_time",
        F.current_timestamp().alias("updated_at"),
        F.lit(batch_id).cast("long").alias("batch_id"),
    )


def _process(
    layout: LakeLayout, allowed_lateness: timedelta, batch: DataFrame, batch_id: int, rows: int
) -> dict[str, Any]:
    spark = batch.sparkSession
    agg_path, late_path = layout.silver(EVENT_AGGREGATES), layout.silver(LATE_EVENTS)
    job = EVENT_AGGREGATES_JOB.name
    facts = app_event_facts(batch)

    exists = _delta.is_delta(spark, agg_path)
    max_seen = None
    if exists:
        max_seen = from_spark(
            _delta.read_delta(spark, agg_path).where("window_minutes = 1").agg(F.max("max_event_time")).first()[0]
        )
    watermark = max_seen - allowed_lateness if max_seen is not None else None
    late_cond = F.col("event_time").isNull()
    if watermark is not None:
        late_cond = late_cond | (F.col("event_time") < ts_literal(watermark))
    facts = facts.withColumn("_late", late_cond)
    stats = facts.agg(
        F.sum(F.col("_late").cast("int")).alias("late"),
        F.min(F.when(~F.col("_late"), F.col("event_time"))).alias("lo"),
        F.max(F.when(~F.col("_late"), F.col("event_time"))).alias("hi"),
    ).first()
    late_rows = int(stats["late"] or 0)

    # Written first and always (even empty), so both writes of the batch carry its txn guard: a replay
    # after a crash between them recomputes the same watermark (the MERGE had not landed), and a replay
    # after both landed skips both (it may see a later watermark, but writes nothing).
    late = facts.where("_late").select(
        F.lit(job).alias("job"),
        F.lit(batch_id).cast("long").alias("batch_id"),
        "event_id",
        "event_type",
        "event_time",
        "event_date",
        "user_id",
        "platform",
        "country",
        "revenue",
        (ts_literal(watermark) if watermark else F.lit(None).cast("timestamp")).alias("watermark"),
        F.when(F.col("event_time").isNull(), F.lit(REASON_NO_EVENT_TIME))
        .otherwise(F.lit(REASON_BEHIND_WATERMARK))
        .alias("reason"),
        F.current_timestamp().alias("detected_at"),
    )
    _delta.append_idempotent(late, late_path, f"{job}:{LATE_EVENTS}", batch_id, LATE_PARTITION_BY)

    figures: dict[str, Any] = {"late_rows": late_rows, "watermark": watermark}
    if stats["lo"] is None:  # nothing on time
        return figures | {"aggregated_rows": 0}

    ontime = facts.where(~F.col("_late"))
    batch_1m = ontime.groupBy(_window_start("event_time", 1).alias("window_start"), *DIMENSIONS).agg(
        F.count(F.lit(1)).alias("events"),
        F.hll_sketch_agg("user_id", HLL_LG_K).alias("users_sketch"),
        revenue_sum().alias("revenue"),
        F.sum(F.col("is_purchase").cast("long")).alias("purchases"),
        F.max("event_time").alias("max_event_time"),
    )
    value_cols = ["events", "users_sketch", "revenue", "purchases", "max_event_time"]
    if exists:
        lo_date, hi_date = from_spark(stats["lo"]).date(), from_spark(stats["hi"]).date()
        stored = (
            _delta.read_delta(spark, agg_path)
            .where(F.col("window_minutes") == 1)
            .where(F.col("window_date").between(F.lit(lo_date), F.lit(hi_date)))
            .select("window_start", *DIMENSIONS, *value_cols)
        )
        old = stored.select("window_start", *DIMENSIONS, *[F.col(c).alias(f"_old_{c}") for c in value_cols])
        new_1m = batch_1m.join(old, ["window_start", *DIMENSIONS], "left").select(
            "window_start",
            *DIMENSIONS,
            (F.col("events") + F.coalesce("_old_events", F.lit(0))).alias("events"),
            F.when(F.col("_old_users_sketch").isNull(), F.col("users_sketch"))
            .otherwise(F.hll_union("users_sketch", "_old_users_sketch", True))
            .alias("users_sketch"),
            (F.col("revenue") + F.coalesce("_old_revenue", F.lit(0))).cast(REVENUE_SUM).alias("revenue"),
            (F.col("purchases") + F.coalesce("_old_purchases", F.lit(0))).alias("purchases"),
            F.greatest("max_event_time", "_old_max_event_time").alias("max_event_time"),
        )
        # 5-minute windows touched by the batch are rebuilt from all their 1-minute rows
        new_1m = new_1m.withColumn("_w5", _window_start("window_start", 5))
        touched_5m = new_1m.select("_w5", *DIMENSIONS).distinct()
        untouched_1m = (
            stored.withColumn("_w5", _window_start("window_start", 5))
            .join(touched_5m, ["_w5", *DIMENSIONS], "left_semi")
            .join(new_1m.select("window_start", *DIMENSIONS), ["window_start", *DIMENSIONS], "left_anti")
        )
        all_1m = new_1m.unionByName(untouched_1m.select(*new_1m.columns))
    else:
        new_1m = batch_1m.withColumn("_w5", _window_start("window_start", 5))
        all_1m = new_1m
    new_5m = all_1m.groupBy(F.col("_w5").alias("window_start"), *DIMENSIONS).agg(
        F.sum("events").alias("events"),
        F.hll_union_agg("users_sketch", True).alias("users_sketch"),
        revenue_sum().alias("revenue"),
        F.sum("purchases").alias("purchases"),
        F.max("max_event_time").alias("max_event_time"),
    )
    upserts = (
        _finish(new_1m.drop("_w5"), 1, batch_id).unionByName(_finish(new_5m, 5, batch_id)).localCheckpoint(eager=True)
    )
    sizes = {r[0]: r[1] for r in upserts.groupBy("window_minutes").count().collect()}
    _delta.upsert(
        spark,
        upserts,
        agg_path,
        KEYS,
        app_id=f"{job}:{EVENT_AGGREGATES}",
        version=batch_id,
        partition_by=PARTITION_BY,
    )
    return figures | {
        "aggregated_rows": rows - late_rows,
        "windows_1m_upserted": int(sizes.get(1, 0)),
        "windows_5m_upserted": int(sizes.get(5, 0)),
    }


def run_event_aggregates(
    spark: SparkSession,
    layout: LakeLayout,
    *,
    allowed_lateness: timedelta = DEFAULT_ALLOWED_LATENESS,
    max_files_per_trigger: int | None = None,
) -> EventAggregatesResult:
    """Aggregate every app event committed to bronze since the last run (availableNow, exactly once)."""
    started = time.perf_counter()
    run = run_available_now(
        spark,
        layout,
        EVENT_AGGREGATES_JOB,
        lambda df, batch_id, rows: _process(layout, allowed_lateness, df, batch_id, rows),
        max_files_per_trigger=max_files_per_trigger,
    )
    f = run.figures
    return EventAggregatesResult(
        job=EVENT_AGGREGATES_JOB.name,
        duration_s=round(time.perf_counter() - started, 3),
        batches=len(run.batch_ids),
        input_rows=run.input_rows,
        source_version=run.source_version,
        skipped=run.skipped,
        aggregated_rows=int(f.get("aggregated_rows", 0)),
        late_rows=int(f.get("late_rows", 0)),
        windows_1m_upserted=int(f.get("windows_1m_upserted", 0)),
        windows_5m_upserted=int(f.get("windows_5m_upserted", 0)),
        watermark=f.get("watermark"),
    )
