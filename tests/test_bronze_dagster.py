"""Bronze assets, their checks and the Kafka sensors, run by Dagster against the real broker."""

from __future__ import annotations

import dagster as dg
import pytest
from deltalake import DeltaTable

from dataplat.definitions import RESOURCES, defs
from dataplat_assets.ingestion.assets import BALANCED_CHECK
from dataplat_assets.keys import bronze_key, quarantine_key, topic_key
from dataplat_ingestion.offsets import SensorCursor
from dataplat_resources import topics
from dataplat_resources.lake import LakeLayout
from dataplat_sensors.ingestion import sensor_name
from tests import factories as f
from tests.conftest import KafkaCluster
from tests.corpus import produce_corpus, read_all

pytestmark = pytest.mark.kafka
APP = topics.APP_EVENTS


def bronze_job_assets(topic: str) -> list:
    key = bronze_key(topic)
    graph = defs.resolve_asset_graph()
    assets = [a for a in defs.assets if isinstance(a, dg.AssetsDefinition) and key in a.keys]
    checks = [c for c in defs.asset_checks if any(ck.asset_key == key for ck in c.check_keys)]
    assert graph.has(key)
    return assets + checks


def check_results(result: dg.ExecuteInJobResult) -> dict[str, dg.AssetCheckEvaluation]:
    return {e.check_name: e for e in result.get_asset_check_evaluations()}


def test_manual_bronze_run_ingests_everything_and_all_checks_pass(platform_env: dict, kafka: KafkaCluster) -> None:
    produce_corpus(kafka.bootstrap, APP, valid=1_200, partitions=4, bad_every=60)
    in_topic = read_all(kafka.bootstrap, APP, 4)
    with dg.instance_for_test() as instance:
        result = dg.materialize(bronze_job_assets(APP), resources=RESOURCES, instance=instance)
    assert result.success
    metadata = result.asset_materializations_for_node("ingest_app_events")[0].metadata
    assert metadata["consumed"].value == len(in_topic)
    assert metadata["valid"].value + metadata["invalid"].value == len(in_topic)
    assert metadata["remaining_lag"].value == 0
    for name in ("event_latency_p99_ms", "kafka_latency_p50_ms", "messages_per_s", "error_rate"):
        assert name in metadata
    checks = check_results(result)
    assert set(checks) == {
        BALANCED_CHECK,
        "offsets_contiguous",
        "no_duplicate_event_id",
        "schema_matches_contract",
        "error_rate",
    }
    assert all(c.passed for c in checks.values()), {n: c.description for n, c in checks.items() if not c.passed}
    bronze = DeltaTable(LakeLayout(platform_env["DATAPLAT_LAKE_URI"]).bronze(APP))
    assert bronze.to_pyarrow_table().num_rows == metadata["valid"].value


def test_sensor_requests_exact_ranges_once_then_skips(platform_env: dict, kafka: KafkaCluster) -> None:
    produce_corpus(kafka.bootstrap, APP, valid=400, partitions=4, bad_every=100)
    sensor = defs.get_sensor_def(sensor_name(APP))
    with dg.instance_for_test() as instance:
        context = dg.build_sensor_context(instance=instance, resources=RESOURCES, definitions=defs)
        first = sensor.evaluate_tick(context)
        assert first.run_requests, first.skip_message
        observation = first.asset_events[0]
        assert observation.asset_key == topic_key(APP) and "bronze_lag" in observation.metadata
        requested = sum(
            r["end"] - r["start"]
            for rr in first.run_requests
            for r in rr.run_config["ops"]["ingest_app_events"]["config"]["ranges"]
        )
        cursor = SensorCursor.from_json(first.cursor)
        end_offsets = {int(p): h for p, h in observation.metadata["end_offsets"].value.items()}
        assert cursor is not None and cursor.requested == end_offsets
        assert len({rr.run_key for rr in first.run_requests}) == len(first.run_requests)

        # Running what the sensor asked for ingests exactly that much.
        for request in first.run_requests:
            result = dg.materialize(
                bronze_job_assets(APP), resources=RESOURCES, instance=instance, run_config=request.run_config
            )
            assert result.success
        total = sum(
            m.metadata["consumed"].value
            for m in instance.fetch_materializations(bronze_key(APP), limit=100).records
            for m in [m.asset_materialization]
        )
        assert total == requested

        second = sensor.evaluate_tick(
            dg.build_sensor_context(instance=instance, resources=RESOURCES, cursor=first.cursor, definitions=defs)
        )
        assert not second.run_requests
        assert "no new messages" in (second.skip_message or "")


def test_large_backlog_is_split_into_bounded_runs(
    platform_env: dict, kafka: KafkaCluster, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("INGEST_MAX_MESSAGES_PER_RUN", "150")
    produce_corpus(kafka.bootstrap, APP, valid=900, partitions=4, bad_every=1_000)
    sensor = defs.get_sensor_def(sensor_name(APP))
    with dg.instance_for_test() as instance:
        tick = sensor.evaluate_tick(dg.build_sensor_context(instance=instance, resources=RESOURCES, definitions=defs))
    sizes = [
        sum(r["end"] - r["start"] for r in rr.run_config["ops"]["ingest_app_events"]["config"]["ranges"])
        for rr in tick.run_requests
    ]
    assert len(sizes) > 1 and max(sizes) <= 150


def test_duplicate_event_ids_fail_the_blocking_check_and_stop_downstream(
    platform_env: dict, kafka: KafkaCluster
) -> None:
    import uuid

    from confluent_kafka import Producer

    event = f.to_json(f.app_event(42, event_id=str(uuid.uuid4())))
    producer = Producer({"bootstrap.servers": kafka.bootstrap})
    for _ in range(2):  # the same event id twice, e.g. an upstream replay without idempotence
        producer.produce(APP, key=b"user_x", value=event)
    producer.flush(10)

    @dg.asset(deps=[bronze_key(APP)])
    def downstream_of_bronze() -> None:
        raise AssertionError("must not run: a blocking check on bronze failed")

    with dg.instance_for_test() as instance:
        result = dg.materialize(
            [*bronze_job_assets(APP), downstream_of_bronze],
            resources=RESOURCES,
            instance=instance,
            raise_on_error=False,
        )
        checks = check_results(result)
        assert not checks["no_duplicate_event_id"].passed
        assert checks["no_duplicate_event_id"].severity == dg.AssetCheckSeverity.ERROR
        assert not instance.get_latest_materialization_event(dg.AssetKey("downstream_of_bronze"))
    assert not result.success


def test_quarantine_asset_reports_rejections(platform_env: dict, kafka: KafkaCluster) -> None:
    produce_corpus(kafka.bootstrap, topics.CLICKSTREAM, valid=300, partitions=4, make_valid=f.click_event, bad_every=30)
    with dg.instance_for_test() as instance:
        result = dg.materialize(bronze_job_assets(topics.CLICKSTREAM), resources=RESOURCES, instance=instance)
        event = instance.get_latest_materialization_event(quarantine_key(topics.CLICKSTREAM))
    assert result.success and event is not None
    assert event.asset_materialization.metadata["rejected"].value >= 10
