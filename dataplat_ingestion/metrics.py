"""Figures every ingestion flush reports: counts, sizes, rates, latency percentiles, errors.

The same :class:`IngestStats` feeds Dagster materialization metadata, the
``ops/ingestion_metrics`` Delta table and the continuous service's Prometheus metrics.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import datetime

import numpy as np
import pyarrow as pa

from dataplat_resources.lake import UTC_US

PERCENTILES = (50, 95, 99)


def percentiles_ms(latencies_ms: np.ndarray) -> dict[str, float | None]:
    """p50/p95/p99 of a latency sample in milliseconds (None when there is no sample)."""
    if latencies_ms.size == 0:
        return {f"p{q}": None for q in PERCENTILES}
    values = np.percentile(latencies_ms, PERCENTILES)
    return {f"p{q}": round(float(v), 1) for q, v in zip(PERCENTILES, values, strict=True)}


_NOT_IN_SUMMARY = frozenset(
    {"event_latency_ms", "kafka_latency_ms", "bronze_versions", "last_offsets", "stage_seconds", "batch_seconds"}
)


@dataclass
class IngestStats:
    """Counts and timings of one run or flush. ``consumed == valid + invalid + already_committed``."""

    topic: str
    consumed: int = 0
    valid: int = 0
    invalid: int = 0
    already_committed: int = 0
    bytes: int = 0
    dead_lettered: int = 0
    dead_letters_already_sent: int = 0
    rejections_by_reason: dict[str, int] = field(default_factory=dict)
    invalid_markers: dict[str, int] = field(default_factory=dict)
    bronze_versions: list[int] = field(default_factory=list)
    commit_conflicts: int = 0
    duration_s: float = 0.0
    event_latency_ms: list[np.ndarray] = field(default_factory=list, repr=False)
    kafka_latency_ms: list[np.ndarray] = field(default_factory=list, repr=False)
    remaining_lag: int | None = None
    last_offsets: dict[int, int] = field(default_factory=dict)
    # Seconds spent per stage (read, validate, convert, dead_letter, commit): the profile that
    # explains a throughput figure.
    stage_seconds: dict[str, float] = field(default_factory=dict)
    batch_seconds: list[float] = field(default_factory=list)  # read-to-commit time of each batch

    def add_stage(self, stage: str, seconds: float) -> None:
        self.stage_seconds[stage] = self.stage_seconds.get(stage, 0.0) + seconds

    def merge(self, other: IngestStats) -> None:
        self.consumed += other.consumed
        self.valid += other.valid
        self.invalid += other.invalid
        self.already_committed += other.already_committed
        self.bytes += other.bytes
        self.dead_lettered += other.dead_lettered
        self.dead_letters_already_sent += other.dead_letters_already_sent
        for k, v in other.rejections_by_reason.items():
            self.rejections_by_reason[k] = self.rejections_by_reason.get(k, 0) + v
        for k, v in other.invalid_markers.items():
            self.invalid_markers[k] = self.invalid_markers.get(k, 0) + v
        self.bronze_versions.extend(other.bronze_versions)
        self.commit_conflicts += other.commit_conflicts
        self.event_latency_ms.extend(other.event_latency_ms)
        self.kafka_latency_ms.extend(other.kafka_latency_ms)
        for p, off in other.last_offsets.items():
            self.last_offsets[p] = max(off, self.last_offsets.get(p, -1))
        for stage, seconds in other.stage_seconds.items():
            self.add_stage(stage, seconds)
        self.batch_seconds.extend(other.batch_seconds)

    @property
    def processed(self) -> int:
        return self.valid + self.invalid

    @property
    def balanced(self) -> bool:
        return self.consumed == self.valid + self.invalid + self.already_committed

    @property
    def error_rate(self) -> float:
        return self.invalid / self.processed if self.processed else 0.0

    @property
    def messages_per_s(self) -> float:
        return self.consumed / self.duration_s if self.duration_s > 0 else 0.0

    @property
    def mb_per_s(self) -> float:
        return self.bytes / 1e6 / self.duration_s if self.duration_s > 0 else 0.0

    def latency(self) -> dict[str, dict[str, float | None]]:
        def join(parts: list[np.ndarray]) -> np.ndarray:
            return np.concatenate(parts) if parts else np.empty(0)

        return {
            "event_time_to_commit_ms": percentiles_ms(join(self.event_latency_ms)),
            "kafka_time_to_commit_ms": percentiles_ms(join(self.kafka_latency_ms)),
        }

    def summary(self) -> dict[str, object]:
        """Flat, JSON-friendly figures (for metadata, logs and the metrics table)."""
        data = {k: v for k, v in asdict(self).items() if k not in _NOT_IN_SUMMARY}
        latency = self.latency()
        data.update(
            {
                "duration_s": round(self.duration_s, 3),
                "messages_per_s": round(self.messages_per_s, 1),
                "mb_per_s": round(self.mb_per_s, 2),
                "error_rate": round(self.error_rate, 6),
                "balanced": self.balanced,
                "event_latency_p50_ms": latency["event_time_to_commit_ms"]["p50"],
                "event_latency_p95_ms": latency["event_time_to_commit_ms"]["p95"],
                "event_latency_p99_ms": latency["event_time_to_commit_ms"]["p99"],
                "kafka_latency_p50_ms": latency["kafka_time_to_commit_ms"]["p50"],
                "kafka_latency_p95_ms": latency["kafka_time_to_commit_ms"]["p95"],
                "kafka_latency_p99_ms": latency["kafka_time_to_commit_ms"]["p99"],
                "bronze_versions": ",".join(str(v) for v in self.bronze_versions),
                "stage_seconds": {k: round(v, 3) for k, v in sorted(self.stage_seconds.items())},
            }
        )
        return data


METRICS_SCHEMA = pa.schema(
    [
        pa.field("run_id", pa.string(), nullable=False),
        pa.field("mode", pa.string(), nullable=False),  # sensor | service | manual | bench
        pa.field("topic", pa.string(), nullable=False),
        pa.field("started_at", UTC_US, nullable=False),
        pa.field("finished_at", UTC_US, nullable=False),
        pa.field("ranges", pa.string(), nullable=True),
        pa.field("consumed", pa.int64(), nullable=False),
        pa.field("valid", pa.int64(), nullable=False),
        pa.field("invalid", pa.int64(), nullable=False),
        pa.field("already_committed", pa.int64(), nullable=False),
        pa.field("dead_lettered", pa.int64(), nullable=False),
        pa.field("bytes", pa.int64(), nullable=False),
        pa.field("duration_s", pa.float64(), nullable=False),
        pa.field("messages_per_s", pa.float64(), nullable=False),
        pa.field("mb_per_s", pa.float64(), nullable=False),
        pa.field("error_rate", pa.float64(), nullable=False),
        pa.field("event_latency_p50_ms", pa.float64(), nullable=True),
        pa.field("event_latency_p95_ms", pa.float64(), nullable=True),
        pa.field("event_latency_p99_ms", pa.float64(), nullable=True),
        pa.field("kafka_latency_p50_ms", pa.float64(), nullable=True),
        pa.field("kafka_latency_p95_ms", pa.float64(), nullable=True),
        pa.field("kafka_latency_p99_ms", pa.float64(), nullable=True),
        pa.field("remaining_lag", pa.int64(), nullable=True),
        pa.field("commit_conflicts", pa.int64(), nullable=False),
        pa.field("metrics_date", pa.date32(), nullable=False),
    ]
)


def metrics_row(
    stats: IngestStats, run_id: str, mode: str, started_at: datetime, finished_at: datetime, ranges: str | None
) -> pa.Table:
    s = stats.summary()
    row = {
        "run_id": run_id,
        "mode": mode,
        "topic": stats.topic,
        "started_at": started_at,
        "finished_at": finished_at,
        "ranges": ranges,
        "consumed": stats.consumed,
        "valid": stats.valid,
        "invalid": stats.invalid,
        "already_committed": stats.already_committed,
        "dead_lettered": stats.dead_lettered,
        "bytes": stats.bytes,
        "duration_s": float(s["duration_s"]),  # type: ignore[arg-type]
        "messages_per_s": float(s["messages_per_s"]),  # type: ignore[arg-type]
        "mb_per_s": float(s["mb_per_s"]),  # type: ignore[arg-type]
        "error_rate": float(s["error_rate"]),  # type: ignore[arg-type]
        "remaining_lag": stats.remaining_lag,
        "commit_conflicts": stats.commit_conflicts,
        "metrics_date": finished_at.date(),
    }
    for name in ("event", "kafka"):
        for q in ("p50", "p95", "p99"):
            row[f"{name}_latency_{q}_ms"] = s[f"{name}_latency_{q}_ms"]
    return pa.Table.from_pylist([row], schema=METRICS_SCHEMA)
