"""Where every Delta table lives, and the columns ingestion adds to each bronze row.

Layout under the lake root (``DATAPLAT_LAKE_URI``, default ``$DATAPLAT_HOME/lake``)::

    bronze/<name>          valid events of topic_<name>, partitioned by event_date
    quarantine/<name>      rejected messages of topic_<name>: raw bytes, error and origin
    ops/ingestion_metrics  one row per ingestion flush: counts, rates, latency percentiles
    silver/<table>         Spark micro-batch outputs
    gold/<table>           partitioned hourly/daily/segmentation outputs
    _checkpoints/<asset>   Spark Structured Streaming checkpoints
"""

from __future__ import annotations

from dataclasses import dataclass

import pyarrow as pa

from dataplat_resources import topics

# Columns every bronze row carries besides the contract's own fields.
EVENT_ID = "event_id"
EVENT_TIME = "event_time"
EVENT_DATE = "event_date"
KAFKA_TOPIC = "_kafka_topic"
KAFKA_PARTITION = "_kafka_partition"
KAFKA_OFFSET = "_kafka_offset"
KAFKA_TIMESTAMP = "_kafka_timestamp"
KAFKA_KEY = "_kafka_key"
INGESTED_AT = "_ingested_at"

UTC_US = pa.timestamp("us", tz="UTC")
KAFKA_METADATA_FIELDS: tuple[pa.Field, ...] = (
    pa.field(KAFKA_TOPIC, pa.string(), nullable=False),
    pa.field(KAFKA_PARTITION, pa.int32(), nullable=False),
    pa.field(KAFKA_OFFSET, pa.int64(), nullable=False),
    pa.field(KAFKA_TIMESTAMP, UTC_US, nullable=True),
    pa.field(KAFKA_KEY, pa.string(), nullable=True),
    pa.field(INGESTED_AT, UTC_US, nullable=False),
)
BRONZE_PARTITION_COLUMNS = [EVENT_DATE]

QUARANTINE_SCHEMA = pa.schema(
    [
        pa.field(KAFKA_TOPIC, pa.string(), nullable=False),
        pa.field(KAFKA_PARTITION, pa.int32(), nullable=False),
        pa.field(KAFKA_OFFSET, pa.int64(), nullable=False),
        pa.field(KAFKA_TIMESTAMP, UTC_US, nullable=True),
        pa.field("key", pa.binary(), nullable=True),
        pa.field("value", pa.binary(), nullable=True),
        pa.field("value_size", pa.int64(), nullable=False),
        pa.field("error_stage", pa.string(), nullable=False),
        pa.field("error_class", pa.string(), nullable=False),
        pa.field("error_message", pa.string(), nullable=False),
        pa.field("error_details", pa.string(), nullable=True),  # JSON list of {path, reason, type}
        pa.field("invalid_marker", pa.string(), nullable=True),  # the simulator's header, if any
        pa.field(INGESTED_AT, UTC_US, nullable=False),
        pa.field("ingest_date", pa.date32(), nullable=False),
    ]
)
QUARANTINE_PARTITION_COLUMNS = ["ingest_date"]


@dataclass(frozen=True)
class LakeLayout:
    """Paths of every table under one lake root (a local folder or an object-store URI)."""

    root: str

    def _join(self, *parts: str) -> str:
        return "/".join([self.root.rstrip("/"), *parts])

    def bronze(self, topic_or_name: str) -> str:
        return self._join("bronze", topics.short_name(topic_or_name))

    def quarantine(self, topic_or_name: str) -> str:
        return self._join("quarantine", topics.short_name(topic_or_name))

    @property
    def ingestion_metrics(self) -> str:
        return self._join("ops", "ingestion_metrics")

    def silver(self, table: str) -> str:
        return self._join("silver", table)

    def gold(self, table: str) -> str:
        return self._join("gold", table)

    def checkpoint(self, name: str) -> str:
        return self._join("_checkpoints", name)
