"""Bronze assets: one multi-asset per topic writes ``bronze_<name>`` and ``quarantine_<name>``.

The asset body is thin: it turns run config (the offset ranges a sensor requested) into a call
to :class:`dataplat_ingestion.batch.TopicIngestor`, which writes Delta itself (exactly once, via
app transactions) and returns the figures reported here as metadata and check results.
"""

from datetime import timedelta

import dagster as dg
from pydantic import Field

from dataplat_assets.keys import OWNERS, TOPIC_TAG, bronze_key, bronze_op_name, quarantine_key, topic_key
from dataplat_ingestion.batch import IngestOptions, open_ingestor
from dataplat_ingestion.metrics import IngestStats
from dataplat_ingestion.offsets import OffsetRanges
from dataplat_resources import topics
from dataplat_resources.contracts import contract_for
from dataplat_resources.resources import DeltaLakeResource, IngestionResource, KafkaResource

BALANCED_CHECK = "consumed_equals_valid_plus_invalid"
# A bronze table nobody has written for this long is stale: the sensor or the service is down.
BRONZE_FRESHNESS = dg.FreshnessPolicy.time_window(fail_window=timedelta(hours=2), warn_window=timedelta(minutes=30))


class PartitionRangeConfig(dg.Config):
    partition: int = Field(ge=0)
    start: int = Field(ge=0, description="First offset to read.")
    end: int = Field(ge=0, description="One past the last offset to read.")


class BronzeRunConfig(dg.Config):
    """What one bronze run ingests. Sensors set ``ranges``; a manual run leaves it empty."""

    ranges: list[PartitionRangeConfig] = Field(
        default_factory=list,
        description="Exact offsets [start, end) per partition. Empty: everything in Kafka now that bronze lacks.",
    )
    max_messages: int = Field(default=0, ge=0, description="Manual runs only: stop after this many (0: no limit).")


def ingestion_metadata(stats: IngestStats, table_uri: str) -> dict[str, dg.MetadataValue]:
    """The run's figures, typed so the Dagster UI plots them over time."""
    s = stats.summary()

    def num(name: str) -> dg.MetadataValue:
        value = s[name]
        if value is None:
            return dg.MetadataValue.null()
        return dg.MetadataValue.float(float(value)) if isinstance(value, float) else dg.MetadataValue.int(int(value))  # type: ignore[arg-type]

    metadata = {
        name: num(name)
        for name in (
            "consumed",
            "valid",
            "invalid",
            "already_committed",
            "bytes",
            "dead_lettered",
            "duration_s",
            "messages_per_s",
            "mb_per_s",
            "error_rate",
            "event_latency_p50_ms",
            "event_latency_p95_ms",
            "event_latency_p99_ms",
            "kafka_latency_p50_ms",
            "kafka_latency_p95_ms",
            "kafka_latency_p99_ms",
            "remaining_lag",
            "commit_conflicts",
        )
    }
    metadata["rejections_by_reason"] = dg.MetadataValue.json(stats.rejections_by_reason)
    metadata["bronze_versions"] = dg.MetadataValue.text(str(s["bronze_versions"]) or "-")
    metadata["dagster/uri"] = dg.MetadataValue.path(table_uri)
    metadata["dagster/row_count_added"] = dg.MetadataValue.int(stats.valid)  # rows written by this run
    return metadata


def build_bronze_asset(topic: str) -> dg.AssetsDefinition:
    contract = contract_for(topic)
    name = topics.short_name(topic)

    @dg.multi_asset(
        name=bronze_op_name(topic),
        specs=[
            dg.AssetSpec(
                key=bronze_key(topic),
                deps=[topic_key(topic)],
                group_name="bronze",
                kinds={"deltalake", "python"},
                owners=OWNERS,
                description=(
                    f"Valid `{contract.title}` events from `{topic}`, exactly once, partitioned by event_date, "
                    "with Kafka topic/partition/offset/timestamp/key and ingest time."
                ),
                freshness_policy=BRONZE_FRESHNESS,
                tags={"dataplat/tier": "bronze"},
            ),
            dg.AssetSpec(
                key=quarantine_key(topic),
                deps=[topic_key(topic)],
                group_name="bronze",
                kinds={"deltalake", "python"},
                owners=OWNERS,
                description=(
                    f"Every rejected message of `{topic}`: raw key and value bytes, the error (stage, class, "
                    f"field paths and reasons) and its origin. The same messages are in `{topics.dlq_topic(topic)}`."
                ),
                tags={"dataplat/tier": "bronze"},
            ),
        ],
        check_specs=[
            dg.AssetCheckSpec(
                BALANCED_CHECK,
                asset=bronze_key(topic),
                blocking=True,
                description="In this run, every message read is valid, invalid, or already committed.",
            )
        ],
        can_subset=False,
        op_tags={TOPIC_TAG: topic},
    )
    def _bronze(
        context: dg.AssetExecutionContext,
        config: BronzeRunConfig,
        kafka: KafkaResource,
        lake: DeltaLakeResource,
        ingestion: IngestionResource,
    ):
        settings = ingestion.settings()
        ingestor = open_ingestor(
            topic,
            kafka.client_config(),
            lake.layout(),
            IngestOptions(
                batch_size=settings.consumer_batch_size,
                max_message_bytes=settings.max_message_bytes,
                enable_validation=settings.enable_validation,
            ),
            contract=contract,
            storage_options=lake.storage_options(),
        )
        try:
            if config.ranges:
                ranges = [OffsetRanges.from_config(topic, [r.model_dump() for r in config.ranges])]
                mode = "sensor" if context.run.tags.get("dagster/sensor_name") else "manual"
            else:
                ranges = ingestor.pending_ranges(max_messages=settings.max_messages_per_run)
                if config.max_messages:
                    ranges = _limit(ranges, config.max_messages)
                mode = "manual"
            context.log.info(
                f"ingesting {sum(r.total for r in ranges)} offsets of {topic}: {'; '.join(map(str, ranges)) or 'none'}"
            )
            stats = ingestor.ingest_range(
                ranges, run_id=context.run.run_id, mode=mode, record=settings.enable_monitoring
            )
        finally:
            ingestor.close()
        expected = sum(r.total for r in ranges)
        balanced = stats.balanced
        yield dg.MaterializeResult(
            asset_key=bronze_key(topic),
            metadata={
                **ingestion_metadata(stats, ingestor.bronze.uri),
                "ranges": dg.MetadataValue.text("; ".join(map(str, ranges)) or "none"),
            },
            check_results=[
                dg.AssetCheckResult(
                    check_name=BALANCED_CHECK,
                    passed=balanced,
                    severity=dg.AssetCheckSeverity.ERROR,
                    metadata={
                        "consumed": stats.consumed,
                        "valid": stats.valid,
                        "invalid": stats.invalid,
                        "already_committed": stats.already_committed,
                        "offsets_requested": expected,
                    },
                    description=(
                        f"{stats.consumed} consumed = {stats.valid} valid + {stats.invalid} invalid + "
                        f"{stats.already_committed} already committed"
                        if balanced
                        else f"{stats.consumed} consumed != {stats.valid} valid + {stats.invalid} invalid + "
                        f"{stats.already_committed} already committed"
                    ),
                )
            ],
        )
        yield dg.MaterializeResult(
            asset_key=quarantine_key(topic),
            metadata={
                "rejected": dg.MetadataValue.int(stats.invalid),
                "dead_lettered": dg.MetadataValue.int(stats.dead_lettered),
                "rejections_by_reason": dg.MetadataValue.json(stats.rejections_by_reason),
                "dagster/uri": dg.MetadataValue.path(ingestor.quarantine.uri),
            },
        )

    _bronze.__doc__ = f"Ingest `{topic}` into bronze_{name} and quarantine_{name}."
    return _bronze


def _limit(ranges: list[OffsetRanges], budget: int) -> list[OffsetRanges]:
    kept = []
    for r in ranges:
        if budget <= 0:
            break
        kept.append(r)
        budget -= r.total
    return kept


bronze_assets = [build_bronze_asset(topic) for topic in topics.SOURCE_TOPICS]

# Written by every bronze run and by the continuous ingest service (not materialized on its own).
ingestion_metrics_spec = dg.AssetSpec(
    key="ingestion_metrics",
    deps=[bronze_key(t) for t in topics.SOURCE_TOPICS],
    group_name="bronze",
    kinds={"deltalake"},
    owners=OWNERS,
    description=(
        "One row per bronze run (and per minute of the ingest service): messages, bytes, duration, "
        "messages/s, p50/p95/p99 latency from event time and from Kafka time to commit, error rate, "
        "dead letters, remaining lag. Delta table at <lake>/ops/ingestion_metrics."
    ),
    tags={"dataplat/tier": "bronze"},
)
