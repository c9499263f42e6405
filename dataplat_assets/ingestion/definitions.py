import dagster as dg

from dataplat_assets.ingestion.assets import bronze_assets, ingestion_metrics_spec
from dataplat_assets.ingestion.checks import bronze_checks


def defs() -> dg.Definitions:
    return dg.Definitions(assets=[*bronze_assets, ingestion_metrics_spec], asset_checks=bronze_checks)
