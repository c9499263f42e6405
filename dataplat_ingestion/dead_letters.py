"""The dead-letter queue: rejected messages, unchanged, with Kafka Connect-style error headers.

A dead letter keeps the original key, value and headers and adds
``__connect.errors.{topic,partition,offset,exception.class.name,exception.message,stage}``
(the names Kafka Connect uses, so existing tooling understands them) plus
``dataplat.errors.reason`` and ``dataplat.errors.details`` (field paths and reasons as JSON).
It goes to the same partition number as its origin, so one writer owns each DLQ partition and
a restarted writer can find what it already sent by scanning only that partition's tail.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from confluent_kafka import Consumer, KafkaError, Producer, TopicPartition

from dataplat_ingestion.validation import Rejection
from dataplat_resources.kafka_client import consumer_config, kafka_retry, producer_config
from dataplat_resources.logging import get_logger

log = get_logger(__name__)

H_TOPIC = "__connect.errors.topic"
H_PARTITION = "__connect.errors.partition"
H_OFFSET = "__connect.errors.offset"
H_CLASS = "__connect.errors.exception.class.name"
H_MESSAGE = "__connect.errors.exception.message"
H_STAGE = "__connect.errors.stage"
H_CONNECTOR = "__connect.errors.connector.name"
H_REASON = "dataplat.errors.reason"
H_DETAILS = "dataplat.errors.details"
CONNECTOR_NAME = "dataplat-ingest"
MAX_HEADER_TEXT = 4096


class DeadLetterError(RuntimeError):
    """Dead letters could not be delivered; the batch must not be committed."""


@dataclass(frozen=True)
class RejectedMessage:
    partition: int
    offset: int
    timestamp_ms: int | None
    key: bytes | None
    value: bytes | None
    headers: list[tuple[str, bytes | None]]
    rejection: Rejection
    invalid_marker: str | None  # the simulator's dataplat-invalid header, for reconciliation


def error_headers(origin_topic: str, message: RejectedMessage) -> list[tuple[str, bytes]]:
    r = message.rejection
    headers = [
        (H_TOPIC, origin_topic.encode()),
        (H_PARTITION, str(message.partition).encode()),
        (H_OFFSET, str(message.offset).encode()),
        (H_CLASS, r.error_class.encode()),
        (H_MESSAGE, r.message[:MAX_HEADER_TEXT].encode()),
        (H_STAGE, r.stage.encode()),
        (H_CONNECTOR, CONNECTOR_NAME.encode()),
        (H_REASON, r.reason.encode()),
    ]
    if r.details:
        headers.append((H_DETAILS, r.details[: MAX_HEADER_TEXT * 4].encode()))
    return headers


def origin_of(headers: Iterable[tuple[str, bytes | None]] | None) -> tuple[str, int, int] | None:
    """(topic, partition, offset) a dead letter came from, read from its headers."""
    found: dict[str, bytes | None] = dict(headers or [])
    try:
        return (
            (found[H_TOPIC] or b"").decode(),
            int(found[H_PARTITION] or b""),
            int(found[H_OFFSET] or b""),
        )
    except (KeyError, ValueError):
        return None


class DeadLetterQueue:
    """Sends rejected messages of one source topic to its dead-letter topic."""

    def __init__(
        self, client_config: Mapping[str, str], origin_topic: str, dlq_topic: str, dlq_partitions: int
    ) -> None:
        self.client_config = dict(client_config)
        self.origin_topic = origin_topic
        self.dlq_topic = dlq_topic
        self.dlq_partitions = dlq_partitions
        self._producer: Producer | None = None
        self._scanner: Consumer | None = None
        # Created now: an idempotent producer needs a round trip for its producer id, which then
        # overlaps with reading and validating the first batch.
        self.producer.poll(0)

    def dlq_partition(self, origin_partition: int) -> int:
        return origin_partition % self.dlq_partitions

    @property
    def producer(self) -> Producer:
        if self._producer is None:
            self._producer = Producer(producer_config(self.client_config, **{"linger.ms": 5}))
        return self._producer

    @property
    def scanner(self) -> Consumer:
        """A long-lived consumer for watermarks and tail scans (creating one costs ~100 ms)."""
        if self._scanner is None:
            self._scanner = Consumer(consumer_config(self.client_config, group_id="dataplat-dlq-scan"))
        return self._scanner

    @kafka_retry
    def already_sent(self, since: Mapping[int, int], partitions: Iterable[int]) -> set[tuple[int, int]]:
        """Origin (partition, offset) pairs already in the DLQ after the recorded progress.

        Only the tail written since our last recorded commit is read. In steady state the
        recorded progress equals the end of the partition and nothing is read at all; the scan
        finds what a crashed writer sent but never recorded.
        """
        dlq_parts = sorted({self.dlq_partition(p) for p in partitions})
        consumer = self.scanner
        found: set[tuple[int, int]] = set()
        todo: dict[int, int] = {}
        assignment = []
        for dp in dlq_parts:
            low, high = consumer.get_watermark_offsets(TopicPartition(self.dlq_topic, dp), timeout=15, cached=False)
            start = max(low, since.get(dp, low))
            if start < high:
                todo[dp] = high
                assignment.append(TopicPartition(self.dlq_topic, dp, start))
        if not assignment:
            return found
        consumer.assign(assignment)
        try:
            idle = 0
            while todo and idle < 60:
                batch = consumer.consume(num_messages=10_000, timeout=0.5)
                if not batch:
                    idle += 1
                    for tp in consumer.position([TopicPartition(self.dlq_topic, dp) for dp in list(todo)]):
                        if tp.offset >= todo[tp.partition]:
                            del todo[tp.partition]
                    continue
                idle = 0
                for msg in batch:
                    if msg.error():
                        continue
                    origin = origin_of(msg.headers())
                    if origin and origin[0] == self.origin_topic:
                        found.add((origin[1], origin[2]))
                    if msg.offset() >= todo.get(msg.partition(), 0) - 1:
                        todo.pop(msg.partition(), None)
            if todo:
                raise DeadLetterError(f"could not read the tail of {self.dlq_topic} partitions {sorted(todo)}")
        finally:
            consumer.unassign()
        return found

    def send(self, messages: list[RejectedMessage]) -> dict[int, int]:
        """Produce and wait for every delivery. Returns the DLQ end offset per partition written."""
        if not messages:
            return {}
        failures: list[str] = []
        ends: dict[int, int] = {}

        def on_delivery(err: KafkaError | None, msg) -> None:  # noqa: ANN001 - confluent Message
            if err is not None:
                failures.append(str(err))
            else:
                ends[msg.partition()] = max(ends.get(msg.partition(), -1), msg.offset() + 1)

        producer = self.producer
        for m in messages:
            headers = [h for h in (m.headers or []) if not h[0].startswith("__connect.errors.")]
            headers.extend(error_headers(self.origin_topic, m))
            while True:
                try:
                    producer.produce(
                        self.dlq_topic,
                        key=m.key,
                        value=m.value,
                        partition=self.dlq_partition(m.partition),
                        headers=headers,
                        timestamp=m.timestamp_ms or 0,
                        on_delivery=on_delivery,
                    )
                    break
                except BufferError:
                    producer.poll(0.1)
            producer.poll(0)
        remaining = producer.flush(60)
        if remaining or failures:
            raise DeadLetterError(
                f"{len(failures) + remaining} of {len(messages)} dead letters to {self.dlq_topic} were not delivered"
                + (f"; first error: {failures[0]}" if failures else "")
            )
        return ends

    def close(self) -> None:
        if self._producer is not None:
            self._producer.flush(30)
            self._producer = None
        if self._scanner is not None:
            self._scanner.close()
            self._scanner = None
