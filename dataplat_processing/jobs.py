"""Job registry: the silver stream jobs by name, and a way to rebuild one from scratch."""

from __future__ import annotations

from pyspark.sql import SparkSession

from dataplat_processing import _stream
from dataplat_processing.tables import STREAM_JOBS
from dataplat_resources.lake import LakeLayout


def reset_stream_job(spark: SparkSession, layout: LakeLayout, job: str) -> list[str]:
    """Delete the job's checkpoint and every table it writes (a full refresh); returns what was deleted.

    The next run then re-reads bronze from its first version. Deleting only the checkpoint would make
    the next run count everything twice, which the runner refuses (``CheckpointResetError``).
    """
    try:
        stream_job = STREAM_JOBS[job]
    except KeyError:
        raise KeyError(f"unknown stream job {job!r}; known: {sorted(STREAM_JOBS)}") from None
    return _stream.reset_stream_job(spark, layout, stream_job)
