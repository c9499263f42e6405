"""The Definitions load, and the asset graph matches its snapshot (keys, deps, groups, kinds,
checks, partitions, schedules, sensors). Regenerate after an intended change with
``UPDATE_SNAPSHOTS=1 .venv/bin/pytest tests/test_definitions.py``."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import dagster as dg

from dataplat.definitions import defs

SNAPSHOT = Path(__file__).parent / "snapshots" / "asset_graph.json"


def graph_snapshot() -> dict:
    graph = defs.resolve_asset_graph()
    assets = {}
    for key in sorted(graph.get_all_asset_keys(), key=lambda k: k.to_user_string()):
        node = graph.get(key)
        partitions = node.partitions_def
        assets[key.to_user_string()] = {
            "deps": sorted(p.to_user_string() for p in node.parent_keys),
            "group": node.group_name,
            "kinds": sorted(node.kinds),
            "materializable": node.is_materializable,
            "partitions": type(partitions).__name__ if partitions else None,
            "automation": node.automation_condition is not None,
            "freshness_policy": node.freshness_policy is not None,
            "owners": list(node.owners),
            "checks": sorted(
                f"{c.name}{' (blocking)' if graph.get_check_spec(c).blocking else ''}"
                for c in graph.get_check_keys_for_assets({key})
            ),
        }
    return {
        "assets": assets,
        "schedules": {s.name: s.cron_schedule for s in defs.schedules},
        "sensors": sorted(s.name for s in defs.sensors),
        "jobs": sorted(j.name for j in defs.jobs),
    }


def test_definitions_load() -> None:
    dg.Definitions.validate_loadable(defs)


def test_asset_graph_matches_snapshot() -> None:
    current = graph_snapshot()
    if os.environ.get("UPDATE_SNAPSHOTS"):
        SNAPSHOT.write_text(json.dumps(current, indent=2, sort_keys=True) + "\n")
    expected = json.loads(SNAPSHOT.read_text())
    assert current == expected, "asset graph changed; review, then UPDATE_SNAPSHOTS=1 to accept"


def test_lineage_runs_simulator_to_gold() -> None:
    """Every tier is connected: simulator -> topic -> bronze -> silver -> gold."""
    graph = defs.resolve_asset_graph()

    def upstream(key: str) -> set[str]:
        return {k.to_user_string() for k in graph.upstream_key_iterator(dg.AssetKey(key))}

    chain = upstream("gold_daily_summary")
    for needed in ("mobile_app_simulator", "topic_app_events", "bronze_app_events", "silver_enriched_app_events",
                   "gold_hourly_aggregates", "clickstream_simulator", "silver_clickstream_sessions"):  # fmt: skip
        assert needed in chain, needed
    assert "postgres_cdc_simulator" in upstream("silver_cdc_users_current")
    assert "external_data_simulator" in upstream("silver_enriched_app_events")
    groups = {graph.get(dg.AssetKey(k)).group_name for k in chain}
    assert {"sources", "kafka", "bronze", "silver", "gold"} <= groups


def test_topics_are_external_kafka_assets() -> None:
    graph = defs.resolve_asset_graph()
    for topic in ("topic_app_events", "topic_cdc_changes", "topic_clickstream", "topic_external_data"):
        node = graph.get(dg.AssetKey(topic))
        assert not node.is_materializable and "kafka" in node.kinds


def test_importing_definitions_reads_no_environment() -> None:
    """No decisions at import time: the module loads with an empty environment."""
    code = "import dataplat.definitions as d; print(len(d.defs.resolve_asset_graph().get_all_asset_keys()))"
    result = subprocess.run(
        [sys.executable, "-c", code],
        env={"PATH": os.environ["PATH"], "HOME": "/tmp"},
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert int(result.stdout.strip().splitlines()[-1]) > 20
