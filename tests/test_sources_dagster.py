"""Simulator assets produce real bursts into the real broker and say what they produced."""

from __future__ import annotations

import dagster as dg
import pytest

from dataplat.definitions import RESOURCES, defs
from dataplat_assets.keys import SIMULATOR_TOPICS, simulator_key
from tests.conftest import KafkaCluster

pytestmark = pytest.mark.kafka


def test_each_simulator_asset_produces_a_burst_with_offsets_and_invalid_fraction(
    platform_env: dict, kafka: KafkaCluster
) -> None:
    from confluent_kafka import Consumer, TopicPartition

    assets = [
        a
        for a in defs.assets
        if isinstance(a, dg.AssetsDefinition) and any(k in a.keys for k in map(simulator_key, SIMULATOR_TOPICS))
    ]
    run_config = {"ops": {simulator_key(s).path[-1]: {"config": {"events": 400, "seed": 11}} for s in SIMULATOR_TOPICS}}
    with dg.instance_for_test() as instance:
        result = dg.materialize(assets, resources=RESOURCES, instance=instance, run_config=run_config)
    assert result.success
    consumer = Consumer({"bootstrap.servers": kafka.bootstrap, "group.id": "sources-test"})
    try:
        for source, topic in SIMULATOR_TOPICS.items():
            metadata = result.asset_materializations_for_node(simulator_key(source).path[-1])[0].metadata
            assert metadata["topic"].value == topic
            events = metadata["events"].value
            assert 400 <= events < 600  # whole CDC transactions and external batches are never cut
            assert 0.0 <= metadata["invalid_fraction"].value < 0.05
            ranges = metadata["offset_ranges"].value
            assert sum(r["last"] - r["first"] + 1 for r in ranges.values()) == events
            for partition, r in ranges.items():
                high = consumer.get_watermark_offsets(TopicPartition(topic, int(partition)), timeout=10)[1]
                assert r["last"] < high
    finally:
        consumer.close()


def test_a_burst_into_a_missing_topic_fails_with_a_clear_error(
    platform_env: dict, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Pointing the resource at a cluster without the topics is an error that names the topic."""
    from dataplat_resources.settings import KafkaSettings
    from simulators.producer import MissingTopicError, run_burst

    with pytest.raises(MissingTopicError, match="topic_does_not_exist"):
        run_burst(
            "web",
            10,
            seed=1,
            settings=KafkaSettings(bootstrap_server=platform_env["KAFKA_BOOTSTRAP_SERVER"]),
            topic="topic_does_not_exist",
        )
