"""Message validation and the bad-input corpus, without servers."""

from __future__ import annotations

import json

import orjson
import pytest

from dataplat_ingestion.validation import STAGE_CONVERTER, STAGE_VALIDATION, MessageValidator
from dataplat_resources import topics
from dataplat_resources.contracts import contract_for
from tests import factories as f

APP = contract_for(topics.APP_EVENTS)
CDC = contract_for(topics.CDC_CHANGES)


@pytest.fixture
def validator() -> MessageValidator:
    return MessageValidator(APP, max_message_bytes=65_536)


def test_valid_event_passes(validator: MessageValidator) -> None:
    assert validator.check(f.to_json(f.app_event(1))) is None
    assert validator.check(f.to_json(f.web_purchase(2))) is None


BAD_BYTES = {
    "tombstone": (None, "tombstone"),
    "empty": (b"", "empty_value"),
    "malformed json": (b'{"event_id": ', "undecodable"),
    "invalid utf-8": (b'{"user_id": "\xff\xfe"}', "undecodable"),
    "json array": (b"[1, 2]", "contract_violation"),
    "oversized": (b'{"pad": "' + b"x" * 70_000 + b'"}', "oversized"),
}


@pytest.mark.parametrize("case", sorted(BAD_BYTES))
def test_undecodable_and_oversized_values_are_refused(validator: MessageValidator, case: str) -> None:
    value, reason = BAD_BYTES[case]
    rejection = validator.check(value)
    assert rejection is not None and rejection.reason == reason
    assert rejection.message


def _mutated(**changes: object) -> bytes:
    return f.to_json(f.app_event(3, **changes))


CONTRACT_BREAKS = {
    "wrong type": (_mutated(user_id=123), "user_id"),
    "missing field": (orjson.dumps({k: v for k, v in f.app_event(3).items() if k != "session_id"}), "session_id"),
    "unknown enum": (_mutated(event_type="teleport"), "event_type"),
    "out of range": (_mutated(geo={"country": "US", "city": "X", "lat": 123.0, "lon": 0.0}), "geo.lat"),
    "too long": (_mutated(user_id="u" * 256), "user_id"),
    "naive timestamp": (_mutated(event_time="2026-11-20T12:00:00"), "event_time"),
    "far future": (_mutated(event_time="2099-01-01T00:00:00+00:00"), "event_time"),
    "unknown field": (_mutated(colour="red"), "colour"),
}


@pytest.mark.parametrize("case", sorted(CONTRACT_BREAKS))
def test_contract_violations_name_the_field(validator: MessageValidator, case: str) -> None:
    value, path = CONTRACT_BREAKS[case]
    rejection = validator.check(value)
    assert rejection is not None
    assert rejection.reason == "contract_violation"
    assert rejection.stage == STAGE_VALIDATION
    details = json.loads(rejection.details or "[]")
    assert any(d["path"] == path for d in details), details
    assert path in rejection.message


def test_cdc_op_contradicting_images_is_refused() -> None:
    validator = MessageValidator(CDC, 65_536)
    row = f.user_row(1, f.BASE_TIME)
    bad = f.cdc_change("users", "c", lsn=10, before=row, after=row)
    rejection = validator.check(f.to_json(bad))
    assert rejection is not None and "must not have a before image" in rejection.message
    assert validator.check(f.to_json(f.cdc_change("users", "c", lsn=11, after=row))) is None


def test_disabled_validation_skips_rules_but_not_decoding() -> None:
    lax = MessageValidator(APP, 65_536, enable_validation=False)
    assert lax.check(_mutated(event_type="teleport")) is None  # business rule skipped
    for value in (None, b"", b"{oops", b"[1]", b'"text"'):
        rejection = lax.check(value)
        assert rejection is not None and rejection.stage == STAGE_CONVERTER
