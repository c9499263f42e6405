"""Spark silver and gold jobs, and their data checks, as plain functions (no Dagster here).

Every job takes a ``SparkSession`` (see :func:`dataplat_resources.spark.build_spark_session`) and a
:class:`~dataplat_resources.lake.LakeLayout` (plus a time range for gold) and returns a small result
record (:mod:`dataplat_processing.results`); every check returns a
:class:`~dataplat_processing.results.CheckResult`.

Silver (availableNow micro-batches over bronze Delta, exactly once, one checkpoint per job):
:func:`run_event_aggregates`, :func:`run_clickstream_sessions`, :func:`run_enrichment`, :func:`run_cdc`.
Gold (idempotent range rebuilds): :func:`run_hourly_aggregates`, :func:`run_daily_summary`,
:func:`run_user_segments`.
"""

from dataplat_processing._delta import is_delta, read_delta
from dataplat_processing._stream import CheckpointResetError, processed_source_version
from dataplat_processing.checks import (
    check_cdc_zero_drift,
    check_event_aggregates_complete,
    check_hourly_daily_reconciliation,
    check_keys,
    check_segment_shares,
    check_session_invariants,
    check_table_keys,
)
from dataplat_processing.gold.aggregates import run_daily_summary, run_hourly_aggregates
from dataplat_processing.gold.segments import run_user_segments
from dataplat_processing.jobs import reset_stream_job
from dataplat_processing.results import (
    CdcResult,
    CheckResult,
    EnrichmentResult,
    EventAggregatesResult,
    GoldResult,
    JobResult,
    SegmentsResult,
    SessionsResult,
    StreamJobResult,
)
from dataplat_processing.silver.cdc import current_state, register_live_views, run_cdc
from dataplat_processing.silver.enrichment import run_enrichment
from dataplat_processing.silver.event_aggregates import run_event_aggregates
from dataplat_processing.silver.sessions import run_clickstream_sessions

__all__ = [
    "CdcResult",
    "CheckResult",
    "CheckpointResetError",
    "EnrichmentResult",
    "EventAggregatesResult",
    "GoldResult",
    "JobResult",
    "SegmentsResult",
    "SessionsResult",
    "StreamJobResult",
    "check_cdc_zero_drift",
    "check_event_aggregates_complete",
    "check_hourly_daily_reconciliation",
    "check_keys",
    "check_segment_shares",
    "check_session_invariants",
    "check_table_keys",
    "current_state",
    "is_delta",
    "processed_source_version",
    "read_delta",
    "register_live_views",
    "reset_stream_job",
    "run_cdc",
    "run_clickstream_sessions",
    "run_daily_summary",
    "run_enrichment",
    "run_event_aggregates",
    "run_hourly_aggregates",
    "run_user_segments",
]
