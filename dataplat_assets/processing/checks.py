"""Asset checks of silver and gold. The rules are plain functions in :mod:`dataplat_processing`;
these wrappers only pick the table and translate the result. Blocking checks guard gold.

``matches_source_database`` compares silver's CDC current state with the shop database itself
(:mod:`dataplat_resources.postgres`), so it lives here, next to the one resource that reaches it.
"""

from datetime import date, timedelta
from functools import reduce
from typing import TYPE_CHECKING, Any

import dagster as dg

from dataplat_assets.keys import gold_key, silver_key
from dataplat_resources.resources import DeltaLakeResource, PostgresResource, SparkResource

if TYPE_CHECKING:
    from dataplat_processing.results import CheckResult
    from dataplat_resources.lake import LakeLayout
    from dataplat_resources.postgres import ShopDatabase


def _to_dagster(result: Any, severity: dg.AssetCheckSeverity = dg.AssetCheckSeverity.ERROR) -> dg.AssetCheckResult:
    return dg.AssetCheckResult(
        passed=result.passed,
        severity=severity,
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


# Rows of silver and the database that disagree, by kind (the figures' names).
MISMATCHES = ("missing_in_database", "deleted_in_lake_only", "differing")
SAMPLE_IDS = 5


def compare_with_shop_database(spark: Any, layout: "LakeLayout", shop: "ShopDatabase") -> "CheckResult":
    """Live rows of silver's CDC current state == the database's rows, for the ids the lake knows.

    Per table, every id of silver (live or tombstone) is matched with the database:

    - ``matching``: live in silver, same columns in the database;
    - ``missing_in_database``: live in silver, absent from the database;
    - ``deleted_in_lake_only``: a tombstone in silver, still in the database;
    - ``differing``: live in both, some column differs (``..._lake_behind``: the database's
      ``updated_at`` is newer, i.e. silver has not caught up yet);
    - ``not_in_lake``: database rows silver has not seen (ingestion lag, or rows that were never
      streamed): not compared, only counted.

    Passes when no table has a row of the three mismatch kinds.
    """
    from pyspark.sql import functions as F

    from dataplat_processing._delta import is_delta
    from dataplat_processing.results import CheckResult
    from dataplat_processing.silver.cdc import TABLE_COLUMNS, current_state
    from dataplat_processing.tables import CDC_CURRENT_TABLES

    figures: dict[str, Any] = {"shop_database": shop.target}
    samples: dict[str, dict[str, list[int]]] = {}
    summary: list[str] = []
    status = shop.inspect()  # reachable, and shaped as the contracts say, even while the lake is empty
    if status.problems:
        message = f"the shop schema on {shop.target} does not match the CDC contracts: {'; '.join(status.problems)}"
        return CheckResult("matches_source_database", False, figures, message)
    if status.missing_tables:
        figures["database_missing_tables"] = list(status.missing_tables)
    for table, name in CDC_CURRENT_TABLES.items():
        if not is_delta(spark, layout.silver(name)):
            summary.append(f"{table}: no current state yet")
            continue
        columns = list(TABLE_COLUMNS[table])
        lake = current_state(spark, layout, table, include_deleted=True).select(*columns, "is_deleted")
        types = {field.name: field.dataType for field in lake.schema.fields}
        rows = shop.read_table(table) if table in status.row_counts else []
        if rows:
            import pyarrow as pa

            arrow = pa.table({c: pa.array([r[c] for r in rows]) for c in columns})
            db = spark.createDataFrame(arrow).select(*[F.col(c).cast(types[c]) for c in columns])
        else:
            db = spark.createDataFrame([], lake.select(*columns).schema)
        joined = lake.alias("l").join(db.alias("d"), F.col("l.id") == F.col("d.id"), "full_outer")
        in_lake, in_db = F.col("l.id").isNotNull(), F.col("d.id").isNotNull()
        live = in_lake & ~F.col("l.is_deleted")
        differs = reduce(
            lambda a, b: a | b, [~F.col(f"l.{c}").eqNullSafe(F.col(f"d.{c}")) for c in columns if c != "id"]
        )
        kind = (
            F.when(live & ~in_db, "missing_in_database")
            .when(in_lake & F.col("l.is_deleted") & in_db, "deleted_in_lake_only")
            .when(live & differs, "differing")
            .when(live, "matching")
            .when(in_db, "not_in_lake")
            .otherwise("deleted_in_both")
        )
        classified = joined.select(
            F.coalesce("l.id", "d.id").alias("id"),
            kind.alias("kind"),
            (live & in_db & differs & (F.col("d.updated_at") > F.col("l.updated_at"))).alias("lake_behind"),
        ).localCheckpoint(eager=True)
        counts = {
            r["kind"]: (int(r["n"]), int(r["behind"] or 0))
            for r in classified.groupBy("kind")
            .agg(F.count(F.lit(1)).alias("n"), F.sum(F.col("lake_behind").cast("long")).alias("behind"))
            .collect()
        }
        figures[f"{table}_database_rows"] = len(rows)
        for k in ("matching", *MISMATCHES, "not_in_lake"):
            figures[f"{table}_{k}"] = counts.get(k, (0, 0))[0]
        figures[f"{table}_differing_lake_behind"] = counts.get("differing", (0, 0))[1]
        bad = {k: counts[k][0] for k in MISMATCHES if k in counts}
        if bad:
            samples[table] = {
                k: [r["id"] for r in classified.where(F.col("kind") == k).orderBy("id").limit(SAMPLE_IDS).collect()]
                for k in bad
            }
            summary.append(f"{table}: " + ", ".join(f"{n} {k.replace('_', ' ')}" for k, n in bad.items()))
        else:
            summary.append(f"{table}: {figures[f'{table}_matching']} live rows match")
    if samples:
        figures["sample_ids"] = samples
    passed = not samples
    verdict = "silver matches" if passed else "silver differs from"
    hint = "" if passed else " (right after a burst this is ingestion lag; if it persists, the two have drifted)"
    return CheckResult(
        "matches_source_database", passed, figures, f"{verdict} {shop.target}: {'; '.join(summary)}{hint}"
    )


@dg.asset_check(
    asset=silver_key("cdc_users_current"),
    name="matches_source_database",
    blocking=False,
    description=(
        "Live rows of silver users/orders current state equal the shop database's rows (Postgres) for the ids "
        "the lake knows. WARN, not blocking: the database runs ahead of the lake until ingestion catches up, "
        "and an unreachable source database must not stop the lake's own pipeline."
    ),
    additional_deps=[silver_key("cdc_orders_current")],
)
def matches_source_database(
    spark: SparkResource, lake: DeltaLakeResource, postgres: PostgresResource
) -> dg.AssetCheckResult:
    warn = dg.AssetCheckSeverity.WARN
    if not postgres.configured:
        return dg.AssetCheckResult(
            passed=True,
            severity=warn,
            description="no shop database configured (POSTGRES_HOST is empty): nothing to compare",
            metadata={"shop_database": "not configured"},
        )
    from dataplat_resources.postgres import ShopDatabaseError

    shop = postgres.shop()
    try:
        result = compare_with_shop_database(spark.spark_session, lake.layout(), shop)
    except ShopDatabaseError as exc:
        return dg.AssetCheckResult(
            passed=False, severity=warn, description=str(exc), metadata={"shop_database": shop.target}
        )
    return _to_dagster(result, severity=warn)


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
        matches_source_database,
        hourly_totals_match_daily,
        segment_shares_sum_to_100,
        key_check("event_aggregates", tuple(AGGREGATE_KEYS)),
        key_check("clickstream_sessions", tuple(SESSION_KEYS)),
        key_check("enriched_app_events", ("event_id",)),
        key_check("cdc_users_current", ("id",)),
        key_check("cdc_orders_current", ("id",)),
        key_check("cdc_history", tuple(HISTORY_KEYS)),
    ]
