"""Small result records: the figures an orchestrator shows for a run or a check.

Every record turns into flat, JSON-friendly metadata with :meth:`as_metadata` (datetimes as ISO
strings, ``None`` values dropped), ready for ``MaterializeResult(metadata=...)`` or an asset check.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any


def _plain(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


@dataclass(frozen=True)
class JobResult:
    job: str
    duration_s: float

    def as_metadata(self) -> dict[str, Any]:
        return {k: _plain(v) for k, v in asdict(self).items() if v is not None}


@dataclass(frozen=True)
class StreamJobResult(JobResult):
    """One availableNow run of a silver job."""

    batches: int = 0
    input_rows: int = 0  # bronze rows read by this run
    source_version: int | None = None  # bronze version processed through (from the checkpoint)
    skipped: str | None = None  # why nothing ran (e.g. the bronze table does not exist yet)


@dataclass(frozen=True)
class EventAggregatesResult(StreamJobResult):
    aggregated_rows: int = 0  # on-time events added to the windows
    late_rows: int = 0  # events behind the watermark: not aggregated, written to silver/late_events
    windows_1m_upserted: int = 0
    windows_5m_upserted: int = 0
    watermark: datetime | None = None  # the watermark in force for the run's last batch


@dataclass(frozen=True)
class SessionsResult(StreamJobResult):
    users_touched: int = 0
    events_resessionized: int = 0  # bronze events re-read to rebuild the touched sessions
    sessions_written: int = 0  # sessions inserted or rewritten
    sessions_removed: int = 0  # previous versions of touched sessions that no longer exist (merged/moved)
    funnel_days_updated: int = 0


@dataclass(frozen=True)
class EnrichmentResult(StreamJobResult):
    rows_written: int = 0
    weather_matched: int = 0
    market_matched: int = 0


@dataclass(frozen=True)
class CdcResult(StreamJobResult):
    changes: int = 0
    users_changes: int = 0  # changes to public.users in the run
    orders_changes: int = 0
    deletes: int = 0
    history_versions: int = 0  # new SCD2 versions (duplicates of known versions are not counted)


@dataclass(frozen=True)
class GoldResult(JobResult):
    """A batch (re)build of one gold range; ``rows_written`` replaced exactly the range's rows."""

    start: date | datetime | None = None
    end: date | datetime | None = None  # exclusive
    partitions: int = 0  # hours or days in the range
    rows_written: int = 0
    events: int = 0
    revenue: float = 0.0
    purchases: int = 0


@dataclass(frozen=True)
class SegmentsResult(JobResult):
    start: date | None = None
    end: date | None = None  # exclusive
    rows_written: int = 0
    # as-of date (ISO) -> segment -> users / share of users in percent
    sizes: dict[str, dict[str, int]] = field(default_factory=dict)
    shares: dict[str, dict[str, float]] = field(default_factory=dict)


@dataclass(frozen=True)
class CheckResult:
    """Outcome of a data check: ``passed`` plus the figures that justify it."""

    name: str
    passed: bool
    figures: dict[str, Any] = field(default_factory=dict)
    message: str = ""

    def as_metadata(self) -> dict[str, Any]:
        return {k: _plain(v) for k, v in self.figures.items() if v is not None}
