import dagster as dg

from dataplat_assets.sources.assets import simulator_assets, topic_specs


def defs() -> dg.Definitions:
    return dg.Definitions(assets=[*simulator_assets, *topic_specs])
