"""One contract per topic: the validator, the JSON Schema and the bronze Arrow schema."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import Any

import pyarrow as pa
from pydantic import BaseModel, TypeAdapter

from dataplat_resources import topics
from dataplat_resources.contracts.app_events import AppEvent
from dataplat_resources.contracts.arrow import schema_for
from dataplat_resources.contracts.cdc import OrderChange, UserChange, cdc_change_adapter
from dataplat_resources.contracts.clickstream import ClickEvent
from dataplat_resources.contracts.external import (
    LocationRecord,
    MarketRecord,
    SocialTrendRecord,
    WeatherRecord,
    external_record_adapter,
)


@dataclass(frozen=True, eq=False)  # identity semantics: one instance per topic
class TopicContract:
    """Everything the platform knows about the messages of one topic."""

    topic: str
    title: str
    adapter: TypeAdapter[Any]
    models: tuple[type[BaseModel], ...]
    key_description: str
    # Where the event time is: an ISO timestamp field, or (CDC) epoch millis at ``source.ts_ms``.
    event_time_path: tuple[str, ...] = ("event_time",)
    event_time_is_epoch_ms: bool = False

    @property
    def name(self) -> str:
        return topics.short_name(self.topic)

    @property
    def dlq_topic(self) -> str:
        return topics.dlq_topic(self.topic)

    def validate_json(self, raw: bytes | str) -> Any:
        """Parse and validate one message; raises ``pydantic.ValidationError``."""
        return self.adapter.validate_json(raw)

    def json_schema(self) -> dict[str, Any]:
        schema = self.adapter.json_schema(mode="validation")
        schema["title"] = self.title
        schema["$id"] = f"https://dataplat.dev/schemas/{self.topic}.json"
        schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
        return schema

    @cached_property
    def arrow_schema(self) -> pa.Schema:
        """Payload columns of the bronze table, as the JSON messages carry them."""
        return schema_for(*self.models)


CONTRACTS: dict[str, TopicContract] = {
    c.topic: c
    for c in (
        TopicContract(
            topic=topics.APP_EVENTS,
            title="AppEvent",
            adapter=TypeAdapter(AppEvent),
            models=(AppEvent,),
            key_description="user_id",
        ),
        TopicContract(
            topic=topics.CDC_CHANGES,
            title="CdcChange",
            adapter=cdc_change_adapter,
            models=(UserChange, OrderChange),
            key_description="<table>:<primary key>",
            event_time_path=("source", "ts_ms"),
            event_time_is_epoch_ms=True,
        ),
        TopicContract(
            topic=topics.CLICKSTREAM,
            title="ClickEvent",
            adapter=TypeAdapter(ClickEvent),
            models=(ClickEvent,),
            key_description="user_id",
        ),
        TopicContract(
            topic=topics.EXTERNAL_DATA,
            title="ExternalRecord",
            adapter=external_record_adapter,
            models=(WeatherRecord, LocationRecord, SocialTrendRecord, MarketRecord),
            key_description="<kind>:<entity> (city, place, topic or symbol)",
        ),
    )
}


def contract_for(topic: str) -> TopicContract:
    try:
        return CONTRACTS[topic]
    except KeyError:
        raise KeyError(f"no contract for topic {topic!r}; known topics: {sorted(CONTRACTS)}") from None
