"""Names of every silver/gold table and streaming checkpoint, so jobs, checks and assets agree.

Silver tables (``<lake>/silver/<name>``):

- ``event_aggregates``      1- and 5-minute windows of app events per event_type/platform/country
- ``late_events``           app events that arrived behind the event-aggregation watermark
- ``clickstream_sessions``  one row per (user, session), 30-minute inactivity gap
- ``clickstream_funnel``    per session date: sessions reaching each funnel step, conversion rates
- ``enriched_app_events``   app events with AS-OF weather and market context
- ``cdc_users_current`` / ``cdc_orders_current``  current state incl. soft-delete tombstones
- ``cdc_history``           SCD2: every version of every row of both source tables

Gold tables (``<lake>/gold/<name>``): ``hourly_aggregates``, ``daily_summary``, ``user_segments``.
"""

from __future__ import annotations

from dataclasses import dataclass

from dataplat_resources import topics
from dataplat_resources.lake import LakeLayout

EVENT_AGGREGATES = "event_aggregates"
LATE_EVENTS = "late_events"
SESSIONS = "clickstream_sessions"
FUNNEL = "clickstream_funnel"
ENRICHED = "enriched_app_events"
CDC_USERS = "cdc_users_current"
CDC_ORDERS = "cdc_orders_current"
CDC_HISTORY = "cdc_history"

HOURLY = "hourly_aggregates"
DAILY = "daily_summary"
SEGMENTS = "user_segments"

# Debezium source table -> its silver current-state table
CDC_CURRENT_TABLES = {"users": CDC_USERS, "orders": CDC_ORDERS}


@dataclass(frozen=True)
class StreamJob:
    """A silver micro-batch job: its bronze source, checkpoint name and the tables it writes."""

    name: str
    source_topic: str
    targets: tuple[str, ...]  # silver table names

    def source(self, layout: LakeLayout) -> str:
        return layout.bronze(self.source_topic)

    def checkpoint(self, layout: LakeLayout) -> str:
        return layout.checkpoint(self.name)

    def target_paths(self, layout: LakeLayout) -> list[str]:
        return [layout.silver(t) for t in self.targets]


EVENT_AGGREGATES_JOB = StreamJob("event_aggregates", topics.APP_EVENTS, (EVENT_AGGREGATES, LATE_EVENTS))
SESSIONS_JOB = StreamJob("clickstream_sessions", topics.CLICKSTREAM, (SESSIONS, FUNNEL))
ENRICHMENT_JOB = StreamJob("enriched_app_events", topics.APP_EVENTS, (ENRICHED,))
CDC_JOB = StreamJob("cdc_changes", topics.CDC_CHANGES, (CDC_USERS, CDC_ORDERS, CDC_HISTORY))

STREAM_JOBS: dict[str, StreamJob] = {j.name: j for j in (EVENT_AGGREGATES_JOB, SESSIONS_JOB, ENRICHMENT_JOB, CDC_JOB)}
