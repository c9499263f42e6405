"""One sensor per Kafka topic: turns new end offsets into bounded, exactly-described bronze runs.

A tick reads only end offsets (never payloads, never commits), compares them with what it has
already requested (its cursor) and what bronze has committed (the Delta log), and emits one
``RunRequest`` per bounded range with a run key derived from topic and range. It also records
an observation of the topic (end offsets, lag) so lag is visible on the topic's asset page.
"""

import time

import dagster as dg

from dataplat_assets.keys import TOPIC_TAG, bronze_key, bronze_op_name, quarantine_key, topic_key
from dataplat_ingestion.arrow_convert import bronze_schema
from dataplat_ingestion.batch import topic_positions
from dataplat_ingestion.delta_store import DeltaAppendTable
from dataplat_ingestion.offsets import OffsetRanges, SensorCursor, plan_tick
from dataplat_resources import topics
from dataplat_resources.contracts import contract_for
from dataplat_resources.lake import BRONZE_PARTITION_COLUMNS
from dataplat_resources.resources import DeltaLakeResource, IngestionResource, KafkaResource

# The daemon evaluates at most this often; the effective interval is INGEST_SENSOR_INTERVAL_SECONDS,
# applied at run time so it can change without a code change.
DAEMON_INTERVAL_SECONDS = 5


def sensor_name(topic: str) -> str:
    return f"{topics.short_name(topic)}_kafka_sensor"


def run_request(topic: str, ranges: OffsetRanges, run_key: str, reason: str) -> dg.RunRequest:
    return dg.RunRequest(
        run_key=run_key,
        run_config={"ops": {bronze_op_name(topic): {"config": {"ranges": ranges.to_config()}}}},
        tags={TOPIC_TAG: topic, "dataplat/ranges": str(ranges)[:1000], "dataplat/reason": reason},
    )


def build_topic_sensor(topic: str) -> dg.SensorDefinition:
    schema = bronze_schema(contract_for(topic))

    @dg.sensor(
        name=sensor_name(topic),
        asset_selection=[bronze_key(topic), quarantine_key(topic)],
        minimum_interval_seconds=DAEMON_INTERVAL_SECONDS,
        default_status=dg.DefaultSensorStatus.RUNNING,
        description=f"Requests bronze runs for new offsets of `{topic}`, bounded by INGEST_MAX_MESSAGES_PER_RUN.",
    )
    def _sensor(
        context: dg.SensorEvaluationContext,
        kafka: KafkaResource,
        lake: DeltaLakeResource,
        ingestion: IngestionResource,
    ) -> dg.SensorResult | dg.SkipReason:
        cursor = SensorCursor.from_json(context.cursor)
        now = time.time()
        if cursor is not None and now - cursor.checked_at < ingestion.sensor_interval_seconds:
            return dg.SkipReason(
                f"checked {now - cursor.checked_at:.0f}s ago; interval is {ingestion.sensor_interval_seconds}s"
            )
        bronze = DeltaAppendTable(lake.layout().bronze(topic), schema, BRONZE_PARTITION_COLUMNS, lake.storage_options())
        positions = topic_positions(topic, kafka.client_config(), bronze)
        in_flight = context.instance.get_runs(
            filters=dg.RunsFilter(tags={TOPIC_TAG: topic}, statuses=list(_IN_PROGRESS)), limit=1
        )
        plan = plan_tick(
            topic,
            cursor,
            positions.low,
            positions.high,
            positions.committed,
            ingestion.max_messages_per_run,
            runs_in_flight=bool(in_flight),
            now=now,
        )
        for note in plan.notes:
            context.log.warning(note)
        requests = [run_request(topic, r, r.run_key(), "new offsets") for r in plan.runs]
        if plan.repair is not None:
            requests.append(
                run_request(topic, plan.repair, f"{plan.repair.run_key()}:repair{plan.cursor.repairs}", "repair")
            )
        observation = dg.AssetObservation(
            asset_key=topic_key(topic),
            metadata={
                "messages_in_topic": dg.MetadataValue.int(sum(h - positions.low[p] for p, h in positions.high.items())),
                "end_offset_total": dg.MetadataValue.int(sum(positions.high.values())),
                "bronze_lag": dg.MetadataValue.int(plan.lag),
                "end_offsets": dg.MetadataValue.json({str(p): h for p, h in sorted(positions.high.items())}),
            },
        )
        return dg.SensorResult(
            run_requests=requests,
            skip_reason=plan.skip_reason if not requests else None,
            cursor=plan.cursor.to_json(),
            asset_events=[observation],
        )

    return _sensor


_IN_PROGRESS = (
    dg.DagsterRunStatus.QUEUED,
    dg.DagsterRunStatus.NOT_STARTED,
    dg.DagsterRunStatus.STARTING,
    dg.DagsterRunStatus.STARTED,
)

topic_sensors = [build_topic_sensor(topic) for topic in topics.SOURCE_TOPICS]
