"""Asset keys and shared tags, in one place so sensors, schedules and tests agree."""

from __future__ import annotations

import dagster as dg

from dataplat_resources import topics

OWNERS = ["team:data-platform"]

SIMULATOR_TOPICS: dict[str, str] = {
    "mobile_app": topics.APP_EVENTS,
    "web": topics.APP_EVENTS,
    "postgres_cdc": topics.CDC_CHANGES,
    "clickstream": topics.CLICKSTREAM,
    "external_data": topics.EXTERNAL_DATA,
}


def simulator_key(source: str) -> dg.AssetKey:
    return dg.AssetKey(f"{source}_simulator")


def topic_key(topic: str) -> dg.AssetKey:
    return dg.AssetKey(topic)


def bronze_key(topic: str) -> dg.AssetKey:
    return dg.AssetKey(f"bronze_{topics.short_name(topic)}")


def quarantine_key(topic: str) -> dg.AssetKey:
    return dg.AssetKey(f"quarantine_{topics.short_name(topic)}")


def bronze_op_name(topic: str) -> str:
    return f"ingest_{topics.short_name(topic)}"


def silver_key(name: str) -> dg.AssetKey:
    return dg.AssetKey(f"silver_{name}")


def gold_key(name: str) -> dg.AssetKey:
    return dg.AssetKey(f"gold_{name}")


TOPIC_TAG = "dataplat/topic"
