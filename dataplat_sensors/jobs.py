"""Named jobs: what schedules, the CI recipe and `dataplat up` run, tier by tier.

Partitioning is inferred from the selected assets (hourly or daily)."""

import dagster as dg

from dataplat_assets.keys import gold_key

sources_job = dg.define_asset_job(
    "sources_job", selection=dg.AssetSelection.groups("sources"), description="One burst of every simulator."
)
bronze_job = dg.define_asset_job(
    "bronze_job", selection=dg.AssetSelection.groups("bronze"), description="Ingest everything new in every topic."
)
silver_job = dg.define_asset_job(
    "silver_job",
    selection=dg.AssetSelection.groups("silver"),
    description="Every silver micro-batch job, in one Spark session.",
)
gold_hourly_job = dg.define_asset_job(
    "gold_hourly_job", selection=dg.AssetSelection.assets(gold_key("hourly_aggregates"))
)
gold_daily_job = dg.define_asset_job("gold_daily_job", selection=dg.AssetSelection.assets(gold_key("daily_summary")))
gold_segments_job = dg.define_asset_job(
    "gold_segments_job", selection=dg.AssetSelection.assets(gold_key("user_segments"))
)

asset_jobs = [sources_job, bronze_job, silver_job, gold_hourly_job, gold_daily_job, gold_segments_job]
