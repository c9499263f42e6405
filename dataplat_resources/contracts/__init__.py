"""Event contracts: the single source of truth for producers, validators and schemas."""

from dataplat_resources.contracts.app_events import AppEvent, EventType
from dataplat_resources.contracts.cdc import CdcChange, OrderChange, UserChange
from dataplat_resources.contracts.clickstream import ClickEvent
from dataplat_resources.contracts.errors import describe, field_issues
from dataplat_resources.contracts.external import ExternalRecord
from dataplat_resources.contracts.registry import CONTRACTS, TopicContract, contract_for

__all__ = [
    "CONTRACTS",
    "AppEvent",
    "CdcChange",
    "ClickEvent",
    "EventType",
    "ExternalRecord",
    "OrderChange",
    "TopicContract",
    "UserChange",
    "contract_for",
    "describe",
    "field_issues",
]
