"""The main job behind ``dataplat up``: every tier once, in order, on the project's Dagster instance.

1. ``sources_job``: one burst of each simulator into Kafka;
2. ``bronze_job``: everything new in every topic, exactly once, with its checks;
3. ``silver_job``: the four Spark micro-batch jobs, in one session;
4. the gold jobs over the hours and days the data covers (one Spark run per range).

Runs are recorded in ``$DAGSTER_HOME``, so ``dataplat ui`` shows them afterwards.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import dagster as dg

from dataplat_assets.keys import SIMULATOR_TOPICS, bronze_key, simulator_key
from dataplat_resources import topics

RANGE_START = "dagster/asset_partition_range_start"
RANGE_END = "dagster/asset_partition_range_end"


@dataclass
class StageResult:
    name: str
    run_id: str
    success: bool
    seconds: float
    detail: str = ""


@dataclass
class MainJobSummary:
    stages: list[StageResult] = field(default_factory=list)
    produced: dict[str, int] = field(default_factory=dict)  # topic -> events
    bronze: dict[str, dict[str, int]] = field(default_factory=dict)  # topic -> valid/invalid
    checks: dict[str, int] = field(default_factory=dict)  # passed/failed/not run

    @property
    def success(self) -> bool:
        return all(s.success for s in self.stages)


def _hours_and_days(lake_uri: str) -> tuple[tuple[datetime, datetime], tuple[datetime, datetime]] | None:
    """First and last hour/day holding app events in bronze (what gold should cover)."""
    import pyarrow.compute as pc
    from deltalake import DeltaTable
    from deltalake.exceptions import TableNotFoundError

    from dataplat_resources.lake import EVENT_TIME, LakeLayout

    try:
        table = DeltaTable(LakeLayout(lake_uri).bronze(topics.APP_EVENTS))
    except TableNotFoundError:
        return None
    times = table.to_pyarrow_table(columns=[EVENT_TIME]).column(EVENT_TIME)
    if not len(times):
        return None
    bounds = pc.min_max(times).as_py()
    first = bounds["min"].replace(minute=0, second=0, microsecond=0)
    last = bounds["max"].replace(minute=0, second=0, microsecond=0)
    return (first, last), (first.replace(hour=0), last.replace(hour=0))


QUIET_CONSOLE: dict[str, Any] = {"loggers": {"console": {"config": {"log_level": "WARNING"}}}}


def run_main_job(
    defs: dg.Definitions,
    instance: dg.DagsterInstance,
    events_per_source: int,
    seed: int | None = None,
    lake_uri: str | None = None,
    on_stage: Callable[[StageResult], None] | None = None,
) -> MainJobSummary:
    import time

    summary = MainJobSummary()

    def run(name: str, job_name: str, **kwargs: Any) -> dg.ExecuteInProcessResult:
        started = time.perf_counter()
        # Dagster's per-event console log (DEBUG) would bury the summary; the runs are in the UI.
        run_config = {**kwargs.pop("run_config", {}), **QUIET_CONSOLE}
        result = defs.resolve_job_def(job_name).execute_in_process(
            instance=instance, raise_on_error=False, run_config=run_config, **kwargs
        )
        stage = StageResult(name, result.run_id, result.success, time.perf_counter() - started)
        summary.stages.append(stage)
        if on_stage:
            on_stage(stage)
        return result

    config: dict[str, Any] = {"events": events_per_source}
    if seed is not None:
        config["seed"] = seed
    sources = run(
        "simulators -> Kafka",
        "sources_job",
        run_config={"ops": {simulator_key(s).path[-1]: {"config": config} for s in SIMULATOR_TOPICS}},
    )
    for source, topic in SIMULATOR_TOPICS.items():
        for m in sources.asset_materializations_for_node(simulator_key(source).path[-1]):
            summary.produced[topic] = summary.produced.get(topic, 0) + int(m.metadata["events"].value)  # type: ignore[arg-type]
    if not sources.success:
        return summary

    bronze = run("Kafka -> bronze (exactly once)", "bronze_job")
    for topic in topics.SOURCE_TOPICS:
        event = instance.get_latest_materialization_event(bronze_key(topic))
        if event and event.asset_materialization and event.run_id == bronze.run_id:
            md = event.asset_materialization.metadata
            summary.bronze[topic] = {k: int(md[k].value) for k in ("consumed", "valid", "invalid")}  # type: ignore[arg-type]
    if not bronze.success:
        return summary

    if not run("bronze -> silver (Spark)", "silver_job").success:
        return summary

    spans = _hours_and_days(lake_uri) if lake_uri else None
    if spans is not None:
        (first_hour, last_hour), (first_day, last_day) = spans
        now_hour = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
        last_hour = min(last_hour, now_hour)
        hours = {RANGE_START: f"{first_hour:%Y-%m-%d-%H:00}", RANGE_END: f"{last_hour:%Y-%m-%d-%H:00}"}
        days = {RANGE_START: f"{first_day:%Y-%m-%d}", RANGE_END: f"{min(last_day, now_hour):%Y-%m-%d}"}
        if run("silver -> gold hourly", "gold_hourly_job", tags=hours).success:
            run("silver -> gold daily", "gold_daily_job", tags=days)
        latest = {RANGE_START: days[RANGE_END], RANGE_END: days[RANGE_END]}
        run("silver -> gold user segments", "gold_segments_job", tags=latest)
    return summary
