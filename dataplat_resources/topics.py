"""Kafka topic names. Kept free of any import so the broker launcher stays light."""

from __future__ import annotations

APP_EVENTS = "topic_app_events"
CDC_CHANGES = "topic_cdc_changes"
CLICKSTREAM = "topic_clickstream"
EXTERNAL_DATA = "topic_external_data"

SOURCE_TOPICS: tuple[str, ...] = (APP_EVENTS, CDC_CHANGES, CLICKSTREAM, EXTERNAL_DATA)
DLQ_SUFFIX = "_dlq"


def dlq_topic(topic: str) -> str:
    """The dead-letter topic of a source topic: ``topic_app_events`` -> ``topic_app_events_dlq``."""
    return f"{topic}{DLQ_SUFFIX}"


ALL_TOPICS: tuple[str, ...] = SOURCE_TOPICS + tuple(dlq_topic(t) for t in SOURCE_TOPICS)


def short_name(topic: str) -> str:
    """``topic_app_events`` -> ``app_events``: the name used for tables and assets."""
    return topic.removeprefix("topic_")
