import dagster as dg

from dataplat_sensors.ingestion import topic_sensors


def defs() -> dg.Definitions:
    return dg.Definitions(sensors=topic_sensors)
