"""Read exactly an offset range from Kafka: assign and seek, no consumer-group surprises.

A partition is finished when a message at ``end - 1`` was seen or the consumer position has
reached ``end`` (offsets can skip over transaction markers or compacted records). A broker
that goes away mid-read is waited for (librdkafka reconnects on its own) up to a deadline.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Mapping

from confluent_kafka import Consumer, KafkaError, KafkaException, Message, TopicPartition

from dataplat_ingestion.offsets import OffsetRanges
from dataplat_resources.kafka_client import consumer_config
from dataplat_resources.logging import get_logger

log = get_logger(__name__)


class RangeReadError(RuntimeError):
    """The range could not be read completely; nothing partial is ever committed for it."""


class RangeReader:
    """Yields batches of messages covering exactly ``ranges``, in offset order per partition."""

    def __init__(
        self,
        client_config: Mapping[str, str],
        ranges: OffsetRanges,
        batch_size: int,
        group_id: str = "dataplat-bronze",
        stall_timeout_s: float = 180.0,
    ) -> None:
        self.ranges = ranges.non_empty()
        self.batch_size = batch_size
        self.stall_timeout_s = stall_timeout_s
        self.consumer = Consumer(consumer_config(client_config, group_id=group_id))
        self.messages_read = 0
        self.bytes_read = 0

    def __enter__(self) -> RangeReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self.consumer.close()

    def batches(self) -> Iterator[list[Message]]:
        topic = self.ranges.topic
        end = {r.partition: r.end for r in self.ranges.ranges}
        if not end:
            return
        self.consumer.assign([TopicPartition(topic, r.partition, r.start) for r in self.ranges.ranges])
        pending = set(end)
        batch: list[Message] = []
        last_progress = time.monotonic()
        while pending:
            messages = self.consumer.consume(num_messages=min(self.batch_size, 100_000), timeout=0.2)
            if messages:
                last_progress = time.monotonic()
            for msg in messages:
                error = msg.error()
                if error is not None:
                    if error.code() == KafkaError._PARTITION_EOF:
                        continue
                    if error.fatal() or not error.retriable():
                        raise RangeReadError(f"reading {topic}: {error.str()}")
                    log.warning("transient Kafka error while reading; retrying", topic=topic, error=error.str())
                    continue
                partition, offset = msg.partition(), msg.offset()
                if partition not in pending or offset >= end[partition]:
                    continue
                batch.append(msg)
                if offset >= end[partition] - 1:
                    self._finish(topic, partition, pending)
            if not messages:
                self._finish_by_position(topic, end, pending)
                if time.monotonic() - last_progress > self.stall_timeout_s:
                    raise RangeReadError(
                        f"no progress reading {self.ranges} for {self.stall_timeout_s:.0f}s; still waiting for "
                        f"partitions {sorted(pending)} (broker down, or the offsets were deleted by retention?)"
                    )
            if len(batch) >= self.batch_size or (batch and not pending):
                self.messages_read += len(batch)
                yield batch
                batch = []
        if batch:
            self.messages_read += len(batch)
            yield batch

    def _finish(self, topic: str, partition: int, pending: set[int]) -> None:
        pending.discard(partition)
        self.consumer.pause([TopicPartition(topic, partition)])

    def _finish_by_position(self, topic: str, end: Mapping[int, int], pending: set[int]) -> None:
        try:
            positions = self.consumer.position([TopicPartition(topic, p) for p in pending])
        except KafkaException:
            return
        for tp in positions:
            if tp.offset >= 0 and tp.offset >= end[tp.partition]:
                self._finish(topic, tp.partition, pending)
