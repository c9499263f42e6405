"""Shared fixtures. Integration tests run against real servers started here, never mocks.

- ``kafka``: a real Kafka broker for the whole session. With ``KAFKA_BOOTSTRAP_SERVER`` set, that
  cluster is used; otherwise the project's own broker is started on free ports in a temp dir.
- ``unique_topic``: fresh topics per test, so tests never see each other's messages.
"""

from __future__ import annotations

import os
import socket
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from confluent_kafka.admin import AdminClient

from dataplat_resources.kafka_client import ensure_topics
from dataplat_resources.local_kafka import LocalKafkaBroker
from dataplat_resources.settings import PROJECT_ROOT, KafkaSettings


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_local_broker(state_dir: Path, partitions: int = 4) -> LocalKafkaBroker:
    broker = LocalKafkaBroker(
        state_dir=state_dir,
        jars_dir=Path(os.environ.get("DATAPLAT_JARS_DIR", PROJECT_ROOT / ".jars")),
        port=free_port(),
        controller_port=free_port(),
        heap="384m",
        default_partitions=partitions,
    )
    broker.start(ready_timeout_s=120)
    return broker


@dataclass
class KafkaCluster:
    settings: KafkaSettings
    broker: LocalKafkaBroker | None  # None when an external cluster is used

    @property
    def bootstrap(self) -> str:
        return self.settings.bootstrap_servers

    def admin(self) -> AdminClient:
        return AdminClient(self.settings.client_config())

    def env(self) -> dict[str, str]:
        """Environment for subprocesses that must talk to this cluster."""
        return {"KAFKA_BOOTSTRAP_SERVER": self.bootstrap}


@pytest.fixture(scope="session")
def kafka(tmp_path_factory: pytest.TempPathFactory) -> Iterator[KafkaCluster]:
    if os.environ.get("KAFKA_BOOTSTRAP_SERVER"):
        yield KafkaCluster(KafkaSettings(), None)
        return
    broker = start_local_broker(tmp_path_factory.mktemp("kafka"))
    try:
        yield KafkaCluster(KafkaSettings(bootstrap_server=broker.bootstrap), broker)
    finally:
        broker.stop()


@pytest.fixture
def unique_topic(kafka: KafkaCluster) -> Callable[..., str]:
    """Create a topic with a unique name: ``unique_topic("app_events", partitions=4)``."""
    admin = kafka.admin()

    def create(label: str = "t", partitions: int = 4) -> str:
        name = f"test_{label}_{uuid.uuid4().hex[:10]}"
        ensure_topics(admin, {name: partitions})
        return name

    return create


@pytest.fixture
def platform_env(kafka: KafkaCluster, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """Environment for Dagster resources (EnvVar): this session's broker, a fresh lake and home."""
    from dataplat_resources.kafka_client import ensure_platform_topics
    from dataplat_resources.settings import local_env

    env = local_env(home=tmp_path / "home")
    env.update(
        {
            "KAFKA_BOOTSTRAP_SERVER": kafka.bootstrap,
            "INGEST_SENSOR_INTERVAL_SECONDS": "0",
            "CONSUMER_BATCH_SIZE": "2000",
            "SPARK_MASTER": "local[2]",
        }
    )
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    ensure_platform_topics(KafkaSettings(bootstrap_server=kafka.bootstrap))
    return env


@dataclass
class MaterializedPlatform:
    """A lake and a Dagster instance filled by one run of the CI recipe (scripts/ci_materialize.sh)."""

    env: dict[str, str]
    root: Path
    recipe_output: str

    @property
    def dagster_home(self) -> Path:
        return Path(self.env["DAGSTER_HOME"])

    @property
    def report_dir(self) -> Path:
        return Path(self.env["REPORT_DIR"])


@pytest.fixture(scope="session")
def materialized_platform(kafka: KafkaCluster, tmp_path_factory: pytest.TempPathFactory) -> MaterializedPlatform:
    """Runs the CI recipe once per session: Kafka, a burst, `dagster asset materialize` tier by tier,
    the check report. The end-to-end and browser tests share what it leaves behind."""
    import subprocess

    from dataplat_resources.settings import local_env

    root = tmp_path_factory.mktemp("platform")
    env = {**os.environ, **local_env(home=root / "home")}
    env.update(
        {
            "KAFKA_BOOTSTRAP_SERVER": kafka.bootstrap,
            "DAGSTER_HOME": str(root / "dagster"),
            "REPORT_DIR": str(root / "report"),
            "SPARK_MASTER": "local[2]",
            "LOG_LEVEL": "WARNING",
        }
    )
    recipe = PROJECT_ROOT / "scripts" / "ci_materialize.sh"
    result = subprocess.run([str(recipe), "400"], cwd=root, env=env, capture_output=True, text=True, check=False)
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-6000:]
    return MaterializedPlatform(env, root, output)
