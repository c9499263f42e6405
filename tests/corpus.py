"""A produced corpus of valid and deliberately bad messages, and helpers to reconcile it."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass

import orjson
from confluent_kafka import Consumer, Producer, TopicPartition

from dataplat_resources.kafka_client import consumer_config, producer_config
from tests import factories as f

MARKER = "dataplat-invalid"


def _drop(record: dict, key: str) -> dict:
    return {k: v for k, v in record.items() if k != key}


def app_bad_values(n: int) -> dict[str, bytes | None]:
    """One message per bad-input kind the ingestion must survive (app_events contract)."""
    event = f.app_event(n)
    return {
        "malformed_json": b'{"event_id": "' + str(n).encode(),
        "invalid_utf8": b'{"user_id": "\xc3\x28"}',
        "empty_value": b"",
        "tombstone": None,
        "wrong_type": f.to_json({**event, "user_id": 42}),
        "missing_field": f.to_json(_drop(event, "event_type")),
        "unknown_enum": f.to_json({**event, "event_type": "levitate"}),
        "out_of_range": f.to_json({**event, "geo": {**event["geo"], "lon": 500.0}}),
        "too_long": f.to_json({**event, "session_id": "s" * 500}),
        "naive_timestamp": f.to_json({**event, "event_time": "2026-11-20T12:00:00"}),
        "future_timestamp": f.to_json({**event, "event_time": "2199-01-01T00:00:00+00:00"}),
        "bad_timestamp": f.to_json({**event, "event_time": "yesterday"}),
        "oversized": f.to_json({**event, "user_id": "x" * 70_000}),
    }


@dataclass
class Produced:
    key: bytes | None
    value: bytes | None
    invalid_kind: str | None
    partition: int = -1
    offset: int = -1


def produce_corpus(
    bootstrap: str,
    topic: str,
    valid: int,
    partitions: int,
    make_valid: Callable[[int], dict] = f.app_event,
    bad_every: int = 50,
    bad_values: Callable[[int], dict[str, bytes | None]] = app_bad_values,
) -> list[Produced]:
    """Produce ``valid`` good events with every kind of bad message interleaved; returns what was
    produced with its partition and offset (from delivery reports)."""
    producer = Producer(producer_config({"bootstrap.servers": bootstrap}))
    produced: list[Produced] = []
    failures: list[str] = []

    def deliver(item: Produced) -> Callable:
        def callback(err, msg) -> None:
            if err:
                failures.append(str(err))
            else:
                item.partition, item.offset = msg.partition(), msg.offset()

        return callback

    kinds = list(bad_values(0))
    bad_index = 0
    for i in range(valid):
        record = make_valid(i)
        if "event_id" in record:  # unique per corpus: tests share the session broker's topics
            record["event_id"] = str(uuid.uuid4())
        item = Produced(f"user_{i % 97}".encode(), orjson.dumps(record), None)
        produced.append(item)
        producer.produce(topic, key=item.key, value=item.value, partition=i % partitions, on_delivery=deliver(item))
        if i % bad_every == bad_every - 1:
            kind = kinds[bad_index % len(kinds)]
            bad_index += 1
            bad = Produced(f"user_{i % 97}".encode(), bad_values(i)[kind], kind)
            produced.append(bad)
            producer.produce(
                topic,
                key=bad.key,
                value=bad.value,
                partition=(i + 1) % partitions,
                headers=[(MARKER, kind.encode())],
                on_delivery=deliver(bad),
            )
        if i % 5000 == 0:
            producer.poll(0)
    assert producer.flush(60) == 0 and not failures, failures[:3]
    return produced


def read_all(bootstrap: str, topic: str, partitions: int) -> list:
    """Every message of a topic, read with assign() to the current end."""
    consumer = Consumer(consumer_config({"bootstrap.servers": bootstrap}, group_id="test-reader"))
    try:
        ends = {p: consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=10)[1] for p in range(partitions)}
        pending = {p for p, e in ends.items() if e > 0}
        consumer.assign([TopicPartition(topic, p, 0) for p in pending])
        out = []
        idle = 0
        while pending and idle < 100:
            batch = consumer.consume(10_000, timeout=0.2)
            idle = 0 if batch else idle + 1
            for msg in batch:
                if msg.error():
                    continue
                out.append(msg)
                if msg.offset() >= ends[msg.partition()] - 1:
                    pending.discard(msg.partition())
        assert not pending, f"could not read {topic} partitions {pending}"
        return out
    finally:
        consumer.close()
