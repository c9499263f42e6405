"""Structured logs, levels from LOG_LEVEL, and no secret in any log line."""

from __future__ import annotations

import io
import json
import logging
import os
import subprocess
import sys

import dagster as dg
import pytest

from dataplat.definitions import RESOURCES
from dataplat_resources.logging import MASK, configure_logging, get_logger, mask_text
from dataplat_resources.settings import KafkaSettings

SECRET = "s3cr3t-Pa55"


@pytest.fixture
def captured() -> io.StringIO:
    stream = io.StringIO()
    configure_logging("DEBUG", "json", stream=stream)
    yield stream
    configure_logging("INFO", "console")


def lines(stream: io.StringIO) -> list[dict]:
    return [json.loads(line) for line in stream.getvalue().splitlines() if line.startswith("{")]


def test_json_logs_are_structured(captured: io.StringIO) -> None:
    get_logger("test").info("ingested batch", topic="t", consumed=10)
    (event,) = lines(captured)
    assert event["event"] == "ingested batch" and event["topic"] == "t" and event["consumed"] == 10
    assert event["level"] == "info" and "timestamp" in event


def test_sasl_and_database_passwords_never_reach_the_log(captured: io.StringIO) -> None:
    settings = KafkaSettings(
        bootstrap_server="broker:9093",
        security_protocol="SASL_SSL",
        sasl_mechanism="PLAIN",
        sasl_username="svc",
        sasl_password=SECRET,
    )
    log = get_logger("test")
    log.info("connecting", config=settings.client_config())
    log.info("db", dsn=f"postgresql://dataplat:{SECRET}@postgres:5432/shop", password=SECRET, POSTGRES_PASSWORD=SECRET)
    log.warning(f"failed with sasl.password={SECRET} and token: {SECRET}")
    logging.getLogger("librdkafka").error("conf dump: sasl.password=%s", SECRET)
    text = captured.getvalue()
    assert SECRET not in text
    assert text.count(MASK) >= 5
    events = lines(captured)
    assert events[0]["config"]["sasl.username"] == "svc" and events[0]["config"]["sasl.password"] == MASK
    assert events[1]["dsn"] == f"postgresql://dataplat:{MASK}@postgres:5432/shop"


def test_settings_repr_hides_the_password() -> None:
    settings = KafkaSettings(bootstrap_server="b:1", sasl_password=SECRET)
    assert SECRET not in repr(settings) and SECRET not in str(settings.model_dump())


def test_mask_text_keeps_ordinary_text() -> None:
    assert mask_text("consumed 10 messages from topic_app_events") == "consumed 10 messages from topic_app_events"
    assert mask_text("https://user:pw@host/x") == f"https://user:{MASK}@host/x"


def test_secrets_are_bound_from_environment_variables_not_literals() -> None:
    """Dagster shows an EnvVar's name, never its value, in the UI and run config."""
    kafka, postgres = RESOURCES["kafka"], RESOURCES["postgres"]
    assert isinstance(kafka.sasl_password, dg.EnvVar) and kafka.sasl_password.env_var_name == "KAFKA_SASL_PASSWORD"
    assert isinstance(postgres.password, dg.EnvVar) and postgres.password.env_var_name == "POSTGRES_PASSWORD"


def test_log_level_comes_from_the_environment(tmp_path) -> None:
    """A real process: LOG_LEVEL=WARNING hides info lines; DEBUG shows them."""
    code = (
        "from dataplat_resources.logging import configure_logging, get_logger;"
        "from dataplat_resources.settings import load_settings;"
        "s = load_settings(); configure_logging(s.log_level, s.log_format);"
        "get_logger('x').info('info-line'); get_logger('x').warning('warn-line')"
    )
    for level, expect_info in (("WARNING", False), ("debug", True)):
        env = {**os.environ, "LOG_LEVEL": level, "LOG_FORMAT": "json"}
        out = subprocess.run(
            [sys.executable, "-c", code], env=env, cwd=tmp_path, capture_output=True, text=True, check=True
        )
        assert ("info-line" in out.stderr) is expect_info and "warn-line" in out.stderr
