import dagster as dg

from dataplat_assets.ingestion.maintenance import delta_maintenance_job
from dataplat_sensors.automation import silver_automation_sensor
from dataplat_sensors.ingestion import topic_sensors
from dataplat_sensors.jobs import asset_jobs
from dataplat_sensors.schedules import schedules


def defs() -> dg.Definitions:
    return dg.Definitions(
        jobs=[*asset_jobs, delta_maintenance_job],
        schedules=schedules,
        sensors=[*topic_sensors, silver_automation_sensor],
    )
