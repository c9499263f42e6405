"""Decide, per message, whether it is a valid event of its topic, and if not, say exactly why.

Stages follow Kafka Connect's names so users' tooling understands dead letters:
``VALUE_CONVERTER`` (the bytes are not a JSON object: tombstone, empty, oversized, malformed
JSON, invalid UTF-8) and ``TRANSFORMATION`` (valid JSON that breaks the contract).
With validation disabled, business rules are skipped but undecodable bytes are still refused.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import orjson
from pydantic import ValidationError

from dataplat_resources.contracts import TopicContract, field_issues

STAGE_CONVERTER = "VALUE_CONVERTER"
STAGE_VALIDATION = "TRANSFORMATION"


@dataclass(frozen=True)
class Rejection:
    """Why a message was refused."""

    reason: str  # tombstone | empty_value | oversized | undecodable | contract_violation | conversion
    stage: str
    error_class: str
    message: str
    details: str | None = None  # JSON list of {"path", "reason", "type"}


TOMBSTONE = Rejection(
    "tombstone",
    STAGE_CONVERTER,
    "dataplat.TombstoneRecord",
    "tombstone: the message has a key but no value; nothing to ingest",
)
EMPTY = Rejection("empty_value", STAGE_CONVERTER, "dataplat.EmptyValue", "empty value: zero bytes")


class MessageValidator:
    """Validates raw message values against one topic's contract."""

    def __init__(self, contract: TopicContract, max_message_bytes: int, enable_validation: bool = True) -> None:
        self.contract = contract
        self.max_message_bytes = max_message_bytes
        self.enable_validation = enable_validation
        self._validate_json = contract.adapter.validator.validate_json

    def check(self, value: bytes | None) -> Rejection | None:
        """``None`` when the value is valid; otherwise the reason it is not."""
        if value is None:
            return TOMBSTONE
        size = len(value)
        if size == 0:
            return EMPTY
        if size > self.max_message_bytes:
            return Rejection(
                "oversized",
                STAGE_CONVERTER,
                "dataplat.OversizedMessage",
                f"message of {size} bytes exceeds the {self.max_message_bytes}-byte limit",
            )
        if self.enable_validation:
            try:
                self._validate_json(value)
            except ValidationError as exc:
                return self._from_validation_error(exc)
            return None
        return self._check_decodable(value)

    def _from_validation_error(self, exc: ValidationError) -> Rejection:
        issues = field_issues(exc)
        if any(i.error_type == "json_invalid" for i in issues):
            return Rejection(
                "undecodable",
                STAGE_CONVERTER,
                "dataplat.UndecodableValue",
                "; ".join(i.reason for i in issues),
            )
        details = json.dumps([{"path": i.path, "reason": i.reason, "type": i.error_type} for i in issues])
        text = "; ".join(str(i) for i in issues[:10])
        if len(issues) > 10:
            text += f"; and {len(issues) - 10} more"
        return Rejection("contract_violation", STAGE_VALIDATION, "pydantic_core.ValidationError", text, details)

    @staticmethod
    def _check_decodable(value: bytes) -> Rejection | None:
        try:
            decoded = orjson.loads(value)
        except orjson.JSONDecodeError as exc:
            return Rejection("undecodable", STAGE_CONVERTER, "dataplat.UndecodableValue", f"Invalid JSON: {exc}")
        if not isinstance(decoded, dict):
            return Rejection(
                "undecodable",
                STAGE_CONVERTER,
                "dataplat.UndecodableValue",
                f"expected a JSON object, got {type(decoded).__name__}",
            )
        return None


def conversion_rejection(error: Exception) -> Rejection:
    """A message that passed (or skipped) validation but does not fit the bronze schema."""
    return Rejection(
        "conversion",
        STAGE_CONVERTER,
        f"{type(error).__module__}.{type(error).__name__}",
        f"does not fit the bronze schema: {error}",
    )
