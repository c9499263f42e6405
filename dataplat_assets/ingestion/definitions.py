import dagster as dg

from dataplat_assets.ingestion.assets import bronze_assets
from dataplat_assets.ingestion.checks import bronze_checks


def defs() -> dg.Definitions:
    return dg.Definitions(assets=bronze_assets, asset_checks=bronze_checks)
