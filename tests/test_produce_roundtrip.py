"""Bursts into the real broker and back: what is consumed is byte for byte what was generated."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid
from collections import defaultdict
from datetime import UTC, datetime

import orjson
import pytest
from confluent_kafka import Consumer, TopicPartition

from dataplat_resources.kafka_client import consumer_config, ensure_topics
from simulators.base import INVALID_HEADER, SOURCE_HEADER
from simulators.continuous import run_continuous
from simulators.producer import KafkaSink, MissingTopicError, ProduceError, produce_burst, run_burst, run_bursts
from simulators.registry import burst_clock, make_source

pytestmark = pytest.mark.kafka

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
START = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)
# One source per topic contract, plus web (a second source on the app events topic).
ROUNDTRIP_SOURCES = ["mobile_app", "web", "postgres_cdc", "clickstream", "external_data"]


def consume_range(settings, topic: str, offsets: dict[int, tuple[int, int]], expected: int | None = None) -> list:
    """Every message in the inclusive offset ranges, read with assign() (no group join).
    ``expected`` says how many to wait for when the ranges are open-ended."""
    consumer = Consumer(consumer_config(settings.client_config(), group_id=f"test-{uuid.uuid4().hex[:8]}"))
    try:
        consumer.assign([TopicPartition(topic, p, first) for p, (first, _) in offsets.items()])
        wanted = expected if expected is not None else sum(last - first + 1 for first, last in offsets.values())
        out = []
        idle = 0
        while len(out) < wanted and idle < 20:
            batch = consumer.consume(num_messages=10_000, timeout=0.5)
            idle = 0 if batch else idle + 1
            for msg in batch:
                assert msg.error() is None, msg.error()
                if msg.offset() <= offsets[msg.partition()][1]:
                    out.append(msg)
        return out
    finally:
        consumer.close()


@pytest.mark.parametrize("source", ROUNDTRIP_SOURCES)
def test_burst_roundtrip_is_byte_identical(kafka, unique_topic, source):
    topic = unique_topic(source, partitions=3)
    events = 4_000
    result = run_burst(
        source, events, seed=21, settings=kafka.settings, invalid_fraction=0.05, topic=topic, start=START
    )
    assert result.topic == topic
    assert result.produced >= events
    assert result.invalid > 0 and sum(result.invalid_by_kind.values()) == result.invalid
    assert sum(last - first + 1 for first, last in result.offsets.values()) == result.produced
    assert set(result.offsets) <= {0, 1, 2} and len(result.offsets) == 3

    expected_source = make_source(source, seed=21, clock=burst_clock(source, 21, events, START), invalid_fraction=0.05)
    expected = expected_source.take(events)
    consumed = consume_range(kafka.settings, topic, result.offsets)
    assert len(consumed) == len(expected) == result.produced

    def fingerprint(key, value, headers, timestamp_ms):
        return (key, value, tuple(headers), timestamp_ms)

    produced_set = sorted((fingerprint(m.key, m.value, m.headers, m.timestamp_ms) for m in expected), key=repr)
    consumed_set = sorted(
        (fingerprint(m.key(), m.value(), m.headers() or [], m.timestamp()[1]) for m in consumed), key=repr
    )
    assert consumed_set == produced_set

    # Per key, Kafka keeps the produced order (idempotent producer, one partition per key).
    by_key_expected: dict[bytes, list] = defaultdict(list)
    for m in expected:
        by_key_expected[m.key].append(m.value)
    by_key_consumed: dict[bytes, list] = defaultdict(list)
    for m in sorted(consumed, key=lambda m: (m.partition(), m.offset())):
        by_key_consumed[m.key()].append(m.value())
    assert by_key_consumed == by_key_expected

    for m in consumed:
        headers = dict(m.headers())
        assert headers[SOURCE_HEADER] == source.encode()
        if INVALID_HEADER in headers:
            kind = headers[INVALID_HEADER].decode()
            if kind == "tombstone":
                assert m.value() is None
            elif kind == "oversized":
                assert len(m.value()) > 65_536


def test_cdc_bursts_in_separate_processes_continue_one_database(kafka, unique_topic):
    """Two materializations of the CDC simulator: each a new process with its own seed and real
    start. Consumed together, they are one database history: no event id (table:lsn) or row id
    repeats, and applied in LSN order nothing is inserted twice or touched before its insert."""
    topic = unique_topic("cdc_twice", partitions=3)
    code = (
        "import sys; from dataplat_resources.settings import KafkaSettings; from simulators.producer import run_burst\n"
        "settings = KafkaSettings(bootstrap_server=sys.argv[2])\n"
        "print(run_burst('postgres_cdc', 3000, seed=int(sys.argv[1]), settings=settings, topic=sys.argv[3]).produced)"
    )
    produced = 0
    for seed in (101, 202):
        out = subprocess.run(
            [sys.executable, "-c", code, str(seed), kafka.bootstrap, topic],
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=True,
        )
        produced += int(out.stdout.split()[-1])
    consumed = consume_range(kafka.settings, topic, dict.fromkeys(range(3), (0, 10**9)), expected=produced)
    assert len(consumed) == produced
    changes = [orjson.loads(m.value()) for m in consumed if not dict(m.headers()).get(INVALID_HEADER)]
    changes.sort(key=lambda d: d["source"]["lsn"])
    assert len({(d["source"]["table"], d["source"]["lsn"]) for d in changes}) == len(changes)
    rows: dict[str, dict[int, dict]] = {"users": {}, "orders": {}}
    for doc in changes:
        table, op = doc["source"]["table"], doc["op"]
        image = doc["after"] or doc["before"]
        if op in ("c", "r"):
            assert image["id"] not in rows[table], f"{table}:{image['id']} inserted twice"
            rows[table][image["id"]] = doc["after"]
        else:
            assert rows[table].get(image["id"]) == doc["before"], f"{table}:{image['id']} changed before its insert"
            if op == "u":
                rows[table][image["id"]] = doc["after"]
            else:
                del rows[table][image["id"]]
        if table == "orders" and doc["after"]:
            assert doc["after"]["user_id"] in rows["users"]
    snapshots = [d["source"]["snapshot"] for d in changes if d["op"] == "r"]
    assert snapshots.count("first") == 2  # two bursts, each with its snapshot, one after the other


def test_bursts_through_one_producer_report_their_own_offsets(kafka, unique_topic):
    topic = unique_topic("shared", partitions=2)
    results = run_bursts(
        ["mobile_app", "web"], 1_500, seed=3, settings=kafka.settings, topics={"mobile_app": topic, "web": topic}
    )
    first, second = results
    for partition, (start, _end) in second.offsets.items():
        if partition in first.offsets:
            assert start == first.offsets[partition][1] + 1
    total = sum(last - first_offset + 1 for r in results for first_offset, last in r.offsets.values())
    assert total == first.produced + second.produced


def test_missing_topic_fails_fast_with_a_clear_error(kafka):
    with pytest.raises(MissingTopicError, match=r"topic 'no_such_topic_[0-9a-f]+' does not exist"):
        run_burst("web", 10, seed=1, settings=kafka.settings, topic=f"no_such_topic_{uuid.uuid4().hex[:8]}")


def test_delivery_failures_are_counted_and_raised(kafka):
    """Without the up-front check, every delivery report fails and flush says so."""
    topic = f"no_such_topic_{uuid.uuid4().hex[:8]}"
    with pytest.raises(ProduceError) as caught:
        run_burst(
            "web",
            50,
            seed=1,
            settings=kafka.settings,
            topic=topic,
            check_topic=False,
            producer_overrides={"topic.metadata.propagation.max.ms": 1_000},
        )
    message = str(caught.value)
    assert f"to topic {topic!r} failed" in message and "UNKNOWN_TOPIC_OR_PART" in message
    assert caught.value.failures[topic][0] >= 50


def test_broker_rejecting_oversized_records_raises(kafka):
    """The ~70 KiB invalid records exceed a topic limited to 60 kB: the broker refuses them."""
    topic = f"test_small_{uuid.uuid4().hex[:10]}"
    ensure_topics(kafka.admin(), {topic: 1}, config={"max.message.bytes": "60000"})
    source = make_source("clickstream", seed=4, clock=burst_clock("clickstream", 4, 2_000, START), invalid_fraction=0.3)
    expected = r"messages to topic 'test_small_\w+' failed \(first error: MSG_SIZE_TOO_LARGE"
    sink = KafkaSink(kafka.settings)
    with pytest.raises(ProduceError, match=expected), sink:
        produce_burst(sink, source, 2_000, topic=topic)
    stats = sink.stats[topic]
    assert stats.failed > 0 and stats.delivered > 0
    assert stats.failed + stats.delivered == stats.sent


def test_full_local_queue_is_waited_out_not_dropped(kafka, unique_topic):
    topic = unique_topic("small_queue", partitions=2)
    source = make_source("web", seed=5, clock=burst_clock("web", 5, 5_000, START))
    with KafkaSink(kafka.settings, overrides={"queue.buffering.max.messages": 200}) as sink:
        result = produce_burst(sink, source, 5_000, topic=topic)
    assert sink.queue_full_waits > 0
    assert sum(last - first + 1 for first, last in result.offsets.values()) == result.produced >= 5_000
    assert sink.stats[topic].delivered == result.produced


def test_continuous_run_delivers_at_the_multiplied_rate(kafka, unique_topic):
    topics = {"mobile_app": unique_topic("cont_app", 2), "external_data": unique_topic("cont_ext", 2)}
    report = run_continuous(
        list(topics), seed=9, settings=kafka.settings, rate_multiplier=60, duration_s=3.0, topics=topics
    )
    assert report.stopped_by == "duration"
    for name, topic in topics.items():
        state = report.sources[name]
        assert state.messages > 0
        assert report.sink.stats[topic].delivered == state.messages
    # mobile: 30-100 per minute x 60 = 30-100 per second, for 3 s (Poisson noise allowed)
    assert 40 <= report.sources["mobile_app"].messages <= 400


def test_continuous_run_stops_and_raises_on_delivery_failures(kafka):
    missing = f"no_such_topic_{uuid.uuid4().hex[:8]}"
    started = time.monotonic()
    with pytest.raises(ProduceError, match="UNKNOWN_TOPIC_OR_PART"):
        run_continuous(
            ["web"],
            seed=1,
            settings=kafka.settings,
            rate_multiplier=100,
            duration_s=60,
            topics={"web": missing},
            producer_overrides={"topic.metadata.propagation.max.ms": 500},
        )
    assert time.monotonic() - started < 20
