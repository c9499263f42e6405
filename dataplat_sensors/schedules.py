"""Schedules: each gold output runs shortly after its period closes; maintenance hourly."""

from datetime import timedelta

import dagster as dg

from dataplat_assets.ingestion.maintenance import delta_maintenance_job
from dataplat_sensors.jobs import gold_daily_job, gold_hourly_job, gold_segments_job


def previous_period_key(scheduled: object, period: timedelta, fmt: str) -> str:
    """Partition key of the period that closed just before ``scheduled`` (a datetime)."""
    return (scheduled - period).strftime(fmt)  # type: ignore[operator]


@dg.schedule(
    job=gold_hourly_job,
    cron_schedule="5 * * * *",
    execution_timezone="UTC",
    default_status=dg.DefaultScheduleStatus.RUNNING,
    description="The hour that just closed, five minutes after it closed (late events have landed).",
)
def hourly_aggregates_schedule(context: dg.ScheduleEvaluationContext) -> dg.RunRequest:
    key = previous_period_key(context.scheduled_execution_time, timedelta(hours=1), "%Y-%m-%d-%H:00")
    return dg.RunRequest(run_key=f"hourly:{key}", partition_key=key)


@dg.schedule(
    job=gold_daily_job,
    cron_schedule="15 0 * * *",
    execution_timezone="UTC",
    default_status=dg.DefaultScheduleStatus.RUNNING,
    description="Yesterday's summary, after midnight once yesterday's last hour is aggregated.",
)
def daily_summary_schedule(context: dg.ScheduleEvaluationContext) -> dg.RunRequest:
    key = previous_period_key(context.scheduled_execution_time, timedelta(days=1), "%Y-%m-%d")
    return dg.RunRequest(run_key=f"daily:{key}", partition_key=key)


@dg.schedule(
    job=gold_segments_job,
    cron_schedule="30 0 * * *",
    execution_timezone="UTC",
    default_status=dg.DefaultScheduleStatus.RUNNING,
    description="User segments as of yesterday.",
)
def user_segments_schedule(context: dg.ScheduleEvaluationContext) -> dg.RunRequest:
    key = previous_period_key(context.scheduled_execution_time, timedelta(days=1), "%Y-%m-%d")
    return dg.RunRequest(run_key=f"segments:{key}", partition_key=key)


delta_maintenance_schedule = dg.ScheduleDefinition(
    job=delta_maintenance_job,
    cron_schedule="20 * * * *",
    execution_timezone="UTC",
    default_status=dg.DefaultScheduleStatus.RUNNING,
    description="Hourly compaction, checkpoints and vacuum of the ingestion tables.",
)

schedules = [hourly_aggregates_schedule, daily_summary_schedule, user_segments_schedule, delta_maintenance_schedule]
