"""Run one silver job as an ``availableNow`` micro-batch stream over its bronze Delta table.

Each call processes exactly what was committed to bronze since the previous call: the stream's
checkpoint (``<lake>/_checkpoints/<job>``) remembers the last bronze version processed, and every
write in the batch function is idempotent for its batch id (see :mod:`._delta`), so a batch
replayed after a crash is harmless.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from pyspark import StorageLevel
from pyspark.sql import DataFrame, SparkSession

from dataplat_processing import _delta
from dataplat_processing.tables import StreamJob
from dataplat_resources.lake import LakeLayout

BatchFn = Callable[[DataFrame, int, int], Mapping[str, Any]]


class CheckpointResetError(RuntimeError):
    """A job's checkpoint is gone but its tables still hold rows: re-reading bronze would double count."""


@dataclass
class StreamRun:
    """What one availableNow run did, summed over its micro-batches."""

    batch_ids: list[int] = field(default_factory=list)
    input_rows: int = 0
    figures: dict[str, Any] = field(default_factory=dict)
    batch_seconds: float = 0.0
    duration_s: float = 0.0
    source_version: int | None = None
    skipped: str | None = None

    def add(self, batch_id: int, rows: int, figures: Mapping[str, Any], seconds: float) -> None:
        self.batch_ids.append(batch_id)
        self.input_rows += rows
        self.batch_seconds += seconds
        for key, value in figures.items():
            if isinstance(value, int | float) and not isinstance(value, bool):
                self.figures[key] = self.figures.get(key, 0) + value
            elif value is not None:
                self.figures[key] = value  # last batch wins (e.g. the watermark)


def processed_source_version(spark: SparkSession, checkpoint: str) -> int | None:
    """The bronze version through which the job's last committed micro-batch has read, from its checkpoint.

    ``None`` when nothing was committed yet, or when the last batch stopped inside a version (only
    possible with a per-trigger file limit smaller than one bronze commit).
    """
    commits = [int(n) for n in _delta.list_names(spark, f"{checkpoint}/commits") if n.isdigit()]
    if not commits:
        return None
    text = _delta.read_text_file(spark, f"{checkpoint}/offsets/{max(commits)}")
    if not text:
        return None
    lines = [line for line in text.splitlines() if line.strip()]
    offset = json.loads(lines[-1])  # v1 / batch metadata / one line per source
    if int(offset.get("index", -1)) != -1 or offset.get("isStartingVersion"):
        return None
    return int(offset["reservoirVersion"]) - 1


def run_available_now(
    spark: SparkSession,
    layout: LakeLayout,
    job: StreamJob,
    process: BatchFn,
    *,
    max_files_per_trigger: int | None = None,
) -> StreamRun:
    """Stream the job's bronze table through ``process(batch_df, batch_id, rows)`` until caught up.

    ``process`` gets the (persisted) micro-batch, its id and row count, and returns figures that are
    summed over the run. Empty micro-batches are not passed on.
    """
    started = time.perf_counter()
    run = StreamRun()
    source = job.source(layout)
    checkpoint = job.checkpoint(layout)
    if not _delta.is_delta(spark, source):
        run.skipped = f"bronze table {source} does not exist yet"
        run.duration_s = time.perf_counter() - started
        return run
    if not _delta.path_exists(spark, f"{checkpoint}/metadata"):
        non_empty = [p for p in job.target_paths(layout) if _delta.has_rows(spark, p)]
        if non_empty:
            raise CheckpointResetError(
                f"{job.name}: checkpoint {checkpoint} is missing but {non_empty} hold rows; re-reading bronze "
                f"from the start would count events twice. Run reset_stream_job(spark, layout, {job.name!r}) "
                "to rebuild from scratch."
            )
    errors: list[BaseException] = []
    lock = threading.Lock()

    def on_batch(batch_df: DataFrame, batch_id: int) -> None:
        t0 = time.perf_counter()
        try:
            batch_df.persist(StorageLevel.MEMORY_AND_DISK)
            rows = batch_df.count()
            figures = process(batch_df, batch_id, rows) if rows else {}
        except BaseException as exc:  # re-raised below after Spark fails the query
            errors.append(exc)
            raise
        finally:
            batch_df.unpersist()
        with lock:
            run.add(batch_id, rows, figures, time.perf_counter() - t0)

    reader = spark.readStream.format("delta").option("skipChangeCommits", "true")
    if max_files_per_trigger:
        reader = reader.option("maxFilesPerTrigger", str(max_files_per_trigger))
    query = (
        reader.load(source)
        .writeStream.queryName(f"dataplat_{job.name}")
        .option("checkpointLocation", checkpoint)
        .foreachBatch(on_batch)
        .trigger(availableNow=True)
        .start()
    )
    try:
        query.awaitTermination()
    except Exception:
        if errors:
            raise errors[0] from None
        raise
    finally:
        if query.isActive:
            query.stop()
    run.source_version = processed_source_version(spark, checkpoint)
    run.duration_s = time.perf_counter() - started
    return run


def reset_stream_job(spark: SparkSession, layout: LakeLayout, job: StreamJob) -> list[str]:
    """Delete a job's checkpoint and every table it writes, so the next run rebuilds from bronze."""
    deleted = []
    for path in [job.checkpoint(layout), *job.target_paths(layout)]:
        if _delta.delete_path(spark, path):
            deleted.append(path)
    return deleted
