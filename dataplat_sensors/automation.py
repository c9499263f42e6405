"""Declarative automation: silver assets run when their bronze parents update.

Dagster creates a default automation sensor, but it starts STOPPED; this one starts RUNNING.
"""

import dagster as dg

silver_automation_sensor = dg.AutomationConditionSensorDefinition(
    "silver_automation_sensor",
    target=dg.AssetSelection.groups("silver"),
    default_status=dg.DefaultSensorStatus.RUNNING,
    minimum_interval_seconds=30,
    description="Runs silver micro-batches (AutomationCondition.eager) after bronze updates.",
)
