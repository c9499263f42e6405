"""Exact produce -> commit latency of bronze rows, read back from the Delta table itself.

Each bronze commit records ``dataplat.ingested_at`` (the ``_ingested_at`` of its rows) in its
commit info, so every row joins to the time its commit landed; the Kafka CreateTime in
``_kafka_timestamp`` is when the producer created it.
"""

from __future__ import annotations

import time
from datetime import datetime
from typing import TYPE_CHECKING

import numpy as np
import pyarrow.compute as pc
from deltalake import DeltaTable

if TYPE_CHECKING:
    from dataplat_resources.settings import KafkaSettings


def produce_to_commit_ms(uri: str) -> np.ndarray:
    table = DeltaTable(uri)
    commit_ms: dict[int, float] = {}
    for entry in table.history():
        ingested = entry.get("dataplat.ingested_at")
        if ingested:
            commit_ms[int(datetime.fromisoformat(ingested).timestamp() * 1_000_000)] = float(entry["timestamp"])
    rows = table.to_pyarrow_table(columns=["_kafka_timestamp", "_ingested_at"])
    ingested_us = pc.cast(rows.column("_ingested_at"), "int64").to_numpy()
    produced_ms = pc.cast(rows.column("_kafka_timestamp"), "int64").to_numpy() / 1000.0
    committed = np.array([commit_ms.get(int(v), np.nan) for v in ingested_us])
    latency = committed - produced_ms
    return latency[~np.isnan(latency)]


def percentiles(latency_ms: np.ndarray) -> dict[str, float]:
    if latency_ms.size == 0:
        return {}
    p50, p95, p99, top = np.percentile(latency_ms, [50, 95, 99, 100])
    return {
        "p50_ms": round(p50, 1),
        "p95_ms": round(p95, 1),
        "p99_ms": round(p99, 1),
        "max_ms": round(top, 1),
        "rows": int(latency_ms.size),
    }


def produce_steadily(settings: KafkaSettings, rate: int, seconds: float, seed: int) -> tuple[int, float]:
    """Mobile app events into ``topic_app_events`` at ``rate`` per second (in 100 ms slices) for
    ``seconds``; returns (messages sent, seconds taken including the final flush)."""
    from simulators.producer import KafkaSink
    from simulators.registry import make_source

    source = make_source("mobile_app", seed=seed)
    sent = 0
    started = time.perf_counter()
    with KafkaSink(settings) as sink:
        while time.perf_counter() - started < seconds:
            tick = time.perf_counter()
            batch = []
            while len(batch) < max(1, rate // 10):
                batch.extend(source.next_unit().messages)
            sink.send_many("topic_app_events", batch)
            sent += len(batch)
            time.sleep(max(0.0, 0.1 - (time.perf_counter() - tick)))
        sink.flush()
    return sent, time.perf_counter() - started
