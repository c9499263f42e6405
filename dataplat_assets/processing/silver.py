"""Silver assets: Spark Structured Streaming micro-batches over bronze (availableNow, one
checkpoint each), run when their bronze parents update (``AutomationCondition.eager``).

Each asset is a thin call into :mod:`dataplat_processing`; the job writes its Delta tables
itself, exactly once, and returns the figures reported here.
"""

from collections.abc import Callable, Iterator, Sequence
from typing import Any

import dagster as dg

from dataplat_assets.keys import OWNERS, bronze_key, silver_key
from dataplat_assets.processing.preview import markdown_preview
from dataplat_resources import topics
from dataplat_resources.resources import DeltaLakeResource, SparkResource

SILVER_AUTOMATION = dg.AutomationCondition.eager()


def _metadata(result: Any, spark: Any, path: str, preview_order: list[str] | None = None) -> dict[str, Any]:
    from dataplat_processing._delta import is_delta, read_delta

    metadata: dict[str, Any] = {
        k: v if isinstance(v, int | float | str | bool) else dg.MetadataValue.json(v)
        for k, v in result.as_metadata().items()
    }
    metadata["dagster/uri"] = dg.MetadataValue.path(path)
    if is_delta(spark, path):
        table = read_delta(spark, path)
        metadata["dagster/row_count"] = dg.MetadataValue.int(table.count())
        metadata["preview"] = dg.MetadataValue.md(markdown_preview(table, order_by=preview_order))
    return metadata


def silver_multi_asset(
    name: str,
    tables: Sequence[tuple[str, str]],  # (silver table, description)
    parents: Sequence[str],  # source topics
    run: Callable[[Any, Any], Any],
    preview_order: dict[str, list[str]] | None = None,
) -> dg.AssetsDefinition:
    @dg.multi_asset(
        name=name,
        specs=[
            dg.AssetSpec(
                key=silver_key(table),
                deps=[bronze_key(t) for t in parents],
                group_name="silver",
                kinds={"spark", "deltalake"},
                owners=OWNERS,
                description=description,
                automation_condition=SILVER_AUTOMATION,
                tags={"dataplat/tier": "silver"},
            )
            for table, description in tables
        ],
        can_subset=False,
    )
    def _silver(
        context: dg.AssetExecutionContext, spark: SparkResource, lake: DeltaLakeResource
    ) -> Iterator[dg.MaterializeResult]:
        session = spark.spark_session
        layout = lake.layout()
        result = run(session, layout)
        if getattr(result, "skipped", None):
            context.log.info(f"{name}: {result.skipped}")
        for table, _ in tables:
            yield dg.MaterializeResult(
                asset_key=silver_key(table),
                metadata=_metadata(result, session, layout.silver(table), (preview_order or {}).get(table)),
            )

    return _silver


def _event_aggregates(spark: Any, layout: Any) -> Any:
    from dataplat_processing import run_event_aggregates

    return run_event_aggregates(spark, layout)


def _sessions(spark: Any, layout: Any) -> Any:
    from dataplat_processing import run_clickstream_sessions

    return run_clickstream_sessions(spark, layout)


def _enrichment(spark: Any, layout: Any) -> Any:
    from dataplat_processing import run_enrichment

    return run_enrichment(spark, layout)


def _cdc(spark: Any, layout: Any) -> Any:
    from dataplat_processing import run_cdc

    return run_cdc(spark, layout)


silver_assets = [
    silver_multi_asset(
        "event_aggregation",
        [
            (
                "event_aggregates",
                "1- and 5-minute tumbling windows of app events per event type, platform and country: "
                "events, unique users (approximate, HyperLogLog), revenue. A watermark bounds lateness.",
            ),
            (
                "late_events",
                "App events that arrived behind the aggregation watermark: counted and kept here, "
                "never silently dropped.",
            ),
        ],
        [topics.APP_EVENTS],
        _event_aggregates,
        {"event_aggregates": ["window_start"]},
    ),
    silver_multi_asset(
        "clickstream_sessionization",
        [
            (
                "clickstream_sessions",
                "Sessions per user with a 30-minute inactivity gap: pages, duration, bounce, "
                "entry and exit pages, funnel steps reached.",
            ),
            ("clickstream_funnel", "Per session date: sessions reaching each funnel step and step conversion."),
        ],
        [topics.CLICKSTREAM],
        _sessions,
    ),
    silver_multi_asset(
        "app_event_enrichment",
        [
            (
                "enriched_app_events",
                "Every app event with the weather and market context valid at its time and place "
                "(AS-OF join); unmatched events are kept and flagged.",
            ),
        ],
        [topics.APP_EVENTS, topics.EXTERNAL_DATA],
        _enrichment,
    ),
    silver_multi_asset(
        "cdc_transformation",
        [
            (
                "cdc_users_current",
                "Current state of public.users from the Debezium changes, applied in LSN order "
                "with MERGE; deletes kept as tombstones (is_deleted) so older changes cannot resurrect a row.",
            ),
            ("cdc_orders_current", "Current state of public.orders, as for users."),
            ("cdc_history", "SCD2 history: every version of every users/orders row with valid_from/valid_to."),
        ],
        [topics.CDC_CHANGES],
        _cdc,
    ),
]
