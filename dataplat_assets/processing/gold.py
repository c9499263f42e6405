"""Gold assets: hourly, daily and segmentation outputs, time-partitioned and scheduled.

A partition (or a backfill range, run as ONE Spark job thanks to ``BackfillPolicy.single_run``)
replaces exactly its own rows, so re-running is always safe. ``end_offset=1`` lets the current,
still-open hour/day be materialized too; its schedule re-runs it once it has closed.
"""

from typing import Any

import dagster as dg

from dataplat_assets.keys import OWNERS, gold_key, silver_key
from dataplat_assets.processing.preview import markdown_preview
from dataplat_resources.resources import DeltaLakeResource, SparkResource

PARTITIONS_START = "2026-01-01"
HOURLY = dg.HourlyPartitionsDefinition(start_date=f"{PARTITIONS_START}-00:00", end_offset=1, timezone="UTC")
DAILY = dg.DailyPartitionsDefinition(start_date=PARTITIONS_START, end_offset=1, timezone="UTC")
# What every gold asset shares: a backfill of any range is one Spark run (one session), not one per partition.
GOLD_ASSET: dict[str, Any] = {
    "backfill_policy": dg.BackfillPolicy.single_run(),
    "group_name": "gold",
    "kinds": {"spark", "deltalake"},
    "owners": OWNERS,
    "tags": {"dataplat/tier": "gold"},
}


def _result(result: Any, spark: Any, path: str, order_by: list[str]) -> dg.MaterializeResult:
    from dataplat_processing._delta import is_delta, read_delta

    metadata: dict[str, Any] = {
        k: v if isinstance(v, int | float | str | bool) else dg.MetadataValue.json(v)
        for k, v in result.as_metadata().items()
    }
    metadata["dagster/uri"] = dg.MetadataValue.path(path)
    if is_delta(spark, path):
        metadata["preview"] = dg.MetadataValue.md(markdown_preview(read_delta(spark, path), order_by=order_by))
    return dg.MaterializeResult(metadata=metadata)


@dg.asset(
    key=gold_key("hourly_aggregates"),
    deps=[silver_key("enriched_app_events")],
    partitions_def=HOURLY,
    **GOLD_ASSET,
    description="Per hour, event type, platform and country: events, exact unique users, revenue, purchases.",
)
def gold_hourly_aggregates(
    context: dg.AssetExecutionContext, spark: SparkResource, lake: DeltaLakeResource
) -> dg.MaterializeResult:
    from dataplat_processing import run_hourly_aggregates

    window = context.partition_time_window
    result = run_hourly_aggregates(spark.spark_session, lake.layout(), window.start, window.end)
    context.log.info(f"hourly aggregates {window.start}..{window.end}: {result.rows_written} rows")
    return _result(result, spark.spark_session, lake.layout().gold("hourly_aggregates"), ["hour"])


@dg.asset(
    key=gold_key("daily_summary"),
    deps=[gold_key("hourly_aggregates"), silver_key("clickstream_sessions"), silver_key("enriched_app_events")],
    partitions_def=DAILY,
    **GOLD_ASSET,
    description="Per day: events, DAU, revenue, purchases, conversion, sessions, session duration, bounce rate.",
)
def gold_daily_summary(
    context: dg.AssetExecutionContext, spark: SparkResource, lake: DeltaLakeResource
) -> dg.MaterializeResult:
    from dataplat_processing import run_daily_summary

    window = context.partition_time_window
    result = run_daily_summary(spark.spark_session, lake.layout(), window.start.date(), window.end.date())
    return _result(result, spark.spark_session, lake.layout().gold("daily_summary"), ["event_date"])


@dg.asset(
    key=gold_key("user_segments"),
    deps=[silver_key("enriched_app_events")],
    partitions_def=DAILY,
    **GOLD_ASSET,
    description=(
        "Users as of each day: RFM figures and one behaviour segment (high_value > new > active > at_risk > churned)."
    ),
)
def gold_user_segments(
    context: dg.AssetExecutionContext, spark: SparkResource, lake: DeltaLakeResource
) -> dg.MaterializeResult:
    from dataplat_processing import run_user_segments

    window = context.partition_time_window
    result = run_user_segments(spark.spark_session, lake.layout(), window.start.date(), window.end.date())
    materialized = _result(result, spark.spark_session, lake.layout().gold("user_segments"), ["as_of_date", "user_id"])
    latest = max(result.sizes) if result.sizes else None
    if latest is not None:
        extra = {f"segment_{name}": dg.MetadataValue.int(size) for name, size in sorted(result.sizes[latest].items())}
        materialized = dg.MaterializeResult(metadata={**(materialized.metadata or {}), **extra})
    return materialized


gold_assets = [gold_hourly_aggregates, gold_daily_summary, gold_user_segments]
