"""Asset checks of silver and gold. The rules are plain functions in :mod:`dataplat_processing`;
these wrappers only pick the table and translate the result. Blocking checks guard gold."""

from datetime import date, timedelta
from typing import Any

import dagster as dg

from dataplat_assets.keys import gold_key, silver_key
from dataplat_resources.resources import DeltaLakeResource, SparkResource


def _to_dagster(result: Any) -> dg.AssetCheckResult:
    return dg.AssetCheckResult(
        passed=result.passed,
        severity=dg.AssetCheckSeverity.ERROR,
        description=result.message or ("passed" if result.passed else "failed"),
        metadata={
            k: v if isinstance(v, int | float | str | bool) else dg.MetadataValue.json(v)
            for k, v in result.as_metadata().items()
        },
    )


def key_check(table: str, keys: tuple[str, ...], tier: str = "silver") -> dg.AssetChecksDefinition:
    asset = silver_key(table) if tier == "silver" else gold_key(table)

    @dg.asset_check(
        asset=asset,
        name="keys_unique_not_null",
        blocking=True,
        description=f"({', '.join(keys)}) is unique and never null.",
    )
    def _check(spark: SparkResource, lake: DeltaLakeResource) -> dg.AssetCheckResult:
        from dataplat_processing import check_table_keys

        layout = lake.layout()
        path = layout.silver(table) if tier == "silver" else layout.gold(table)
        return _to_dagster(check_table_keys(spark.spark_session, path, keys))

    return _check


@dg.asset_check(
    asset=silver_key("event_aggregates"),
    name="every_event_counted_once",
    blocking=True,
    description="Every bronze app event processed so far is in exactly one 1-minute window or in late_events; "
    "5-minute windows add up to the same totals.",
)
def every_event_counted_once(spark: SparkResource, lake: DeltaLakeResource) -> dg.AssetCheckResult:
    from dataplat_processing import check_event_aggregates_complete

    return _to_dagster(check_event_aggregates_complete(spark.spark_session, lake.layout()))


@dg.asset_check(
    asset=silver_key("clickstream_sessions"),
    name="session_invariants",
    blocking=True,
    description=(
        "start <= end, at least one event, consistent bounce/duration, sessions of a user more than the gap apart."
    ),
)
def session_invariants(spark: SparkResource, lake: DeltaLakeResource) -> dg.AssetCheckResult:
    from dataplat_processing import check_session_invariants

    return _to_dagster(check_session_invariants(spark.spark_session, lake.layout()))


@dg.asset_check(
    asset=silver_key("cdc_users_current"),
    name="current_state_equals_replay",
    blocking=True,
    description="users and orders current state equal a batch replay of the whole change log (zero drift).",
    additional_deps=[silver_key("cdc_orders_current")],
)
def cdc_zero_drift(spark: SparkResource, lake: DeltaLakeResource) -> dg.AssetCheckResult:
    from dataplat_processing import check_cdc_zero_drift

    return _to_dagster(check_cdc_zero_drift(spark.spark_session, lake.layout()))


def _days_in(spark: Any, path: str, column: str) -> tuple[date, date] | None:
    from pyspark.sql import functions as F

    from dataplat_processing._delta import is_delta, read_delta

    if not is_delta(spark, path):
        return None
    row = read_delta(spark, path).agg(F.min(column).alias("lo"), F.max(column).alias("hi")).first()
    if row is None or row["lo"] is None:
        return None
    return row["lo"], row["hi"] + timedelta(days=1)


@dg.asset_check(
    asset=gold_key("daily_summary"),
    name="hourly_totals_match_daily",
    blocking=True,
    description=(
        "For every day in the summary, the hourly aggregates add up to the daily events, revenue and purchases."
    ),
)
def hourly_totals_match_daily(spark: SparkResource, lake: DeltaLakeResource) -> dg.AssetCheckResult:
    from dataplat_processing import check_hourly_daily_reconciliation

    layout = lake.layout()
    days = _days_in(spark.spark_session, layout.gold("daily_summary"), "event_date")
    if days is None:
        return dg.AssetCheckResult(passed=True, description="no daily summary yet")
    return _to_dagster(check_hourly_daily_reconciliation(spark.spark_session, layout, *days))


@dg.asset_check(
    asset=gold_key("user_segments"),
    name="segment_shares_sum_to_100",
    blocking=True,
    description="For the latest as-of day, every user is in exactly one segment and the shares sum to 100%.",
)
def segment_shares_sum_to_100(spark: SparkResource, lake: DeltaLakeResource) -> dg.AssetCheckResult:
    from dataplat_processing import check_segment_shares

    layout = lake.layout()
    days = _days_in(spark.spark_session, layout.gold("user_segments"), "as_of_date")
    if days is None:
        return dg.AssetCheckResult(passed=True, description="no segments yet")
    return _to_dagster(check_segment_shares(spark.spark_session, layout, days[1] - timedelta(days=1)))


def processing_checks() -> list[dg.AssetChecksDefinition]:
    from dataplat_processing.silver.cdc import HISTORY_KEYS
    from dataplat_processing.silver.event_aggregates import KEYS as AGGREGATE_KEYS
    from dataplat_processing.silver.sessions import KEYS as SESSION_KEYS

    return [
        every_event_counted_once,
        session_invariants,
        cdc_zero_drift,
        hourly_totals_match_daily,
        segment_shares_sum_to_100,
        key_check("event_aggregates", tuple(AGGREGATE_KEYS)),
        key_check("clickstream_sessions", tuple(SESSION_KEYS)),
        key_check("enriched_app_events", ("event_id",)),
        key_check("cdc_users_current", ("id",)),
        key_check("cdc_orders_current", ("id",)),
        key_check("cdc_history", tuple(HISTORY_KEYS)),
    ]
