import dagster as dg

from dataplat_assets.processing.checks import processing_checks
from dataplat_assets.processing.gold import gold_assets
from dataplat_assets.processing.silver import silver_assets


def defs() -> dg.Definitions:
    return dg.Definitions(assets=[*silver_assets, *gold_assets], asset_checks=processing_checks())
