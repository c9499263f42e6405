"""Benchmark of the simulators' burst mode against a real Kafka broker, with a naive baseline.

    .venv/bin/python bench/simulators_bench.py --events 500000

Uses ``--bootstrap`` or ``KAFKA_BOOTSTRAP_SERVER`` when given, else starts the project's own
broker in a temporary folder on free ports (and stops it afterwards). Every figure in the JSON
is measured in this run:

- ``generation_only``: messages/s per source, generated and serialized, no Kafka;
- ``burst``: messages/s and MB/s per source into the broker, delivery reports all checked
  (``run_bursts``: one idempotent snappy producer, one source after another, after an untimed
  warm-up burst), and in total;
- ``baseline``: the way a seed project produces: Faker per event, ``json.dumps``,
  ``producer.produce`` then ``flush()`` per message, on ``--baseline-events`` messages;
- ``speedup``: total burst rate / baseline rate.

Results go to stdout and ``bench/results/simulators.json``.
"""

from __future__ import annotations

import gc
import json
import os
import platform
import socket
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import confluent_kafka
import typer
from confluent_kafka import Producer
from confluent_kafka.admin import AdminClient

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from dataplat_resources.kafka_client import ensure_topics  # noqa: E402
from dataplat_resources.local_kafka import LocalKafkaBroker  # noqa: E402
from dataplat_resources.logging import configure_logging  # noqa: E402
from dataplat_resources.settings import PROJECT_ROOT, KafkaSettings  # noqa: E402
from simulators.producer import run_burst, run_bursts  # noqa: E402
from simulators.registry import SOURCE_NAMES, burst_clock, make_source  # noqa: E402
from simulators.world import build_world  # noqa: E402

DEFAULT_OUTPUT = ROOT / "bench" / "results" / "simulators.json"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def generation_only(events_per_source: int, seed: int) -> dict[str, dict[str, float]]:
    """Generate and serialize without Kafka: the ceiling the producer path works against.
    Same conditions as a burst: messages are dropped as made and the cyclic GC is paused."""
    out = {}
    for name in SOURCE_NAMES:
        source = make_source(name, seed=seed, clock=burst_clock(name, seed, events_per_source))
        count = size = 0
        gc.disable()
        started = time.perf_counter()
        while count < events_per_source:
            for message in source.next_unit().messages:
                count += 1
                size += len(message.value) if message.value else 0
        elapsed = time.perf_counter() - started
        gc.enable()
        out[name] = {
            "messages": count,
            "seconds": round(elapsed, 3),
            "events_per_s": round(count / elapsed),
            "mb_per_s": round(size / 1e6 / elapsed, 2),
        }
    return out


def naive_baseline(bootstrap: str, topic: str, events: int) -> dict[str, float]:
    """The seed project's way: a Faker call per field, json.dumps, and a flush per message."""
    from faker import Faker

    fake = Faker()
    producer = Producer({"bootstrap.servers": bootstrap})  # the library defaults, as a seed project has them
    started = time.perf_counter()
    for _ in range(events):
        event = {
            "event_id": fake.uuid4(),
            "event_type": fake.random_element(["app_open", "screen_view", "product_view", "add_to_cart", "purchase"]),
            "event_time": fake.date_time_between(start_date="-1h", end_date="now", tzinfo=UTC).isoformat(),
            "user_id": str(fake.random_int(1, 5_000)),
            "session_id": fake.uuid4(),
            "source": "mobile_app",
            "platform": fake.random_element(["ios", "android"]),
            "device": {"os": "ios", "os_version": "18.1", "model": fake.word(), "app_version": "6.1.0"},
            "geo": {
                "country": fake.country_code(),
                "city": fake.city(),
                "lat": float(fake.latitude()),
                "lon": float(fake.longitude()),
            },
            "properties": {"product_id": fake.bothify("P######"), "price": float(fake.pydecimal(2, 2, positive=True))},
        }
        producer.produce(topic, json.dumps(event).encode(), event["user_id"].encode())
        producer.flush()
    elapsed = time.perf_counter() - started
    producer.close()
    return {"messages": events, "seconds": round(elapsed, 3), "events_per_s": round(events / elapsed, 1)}


def run(*, events: int, baseline_events: int, partitions: int, seed: int, bootstrap: str | None) -> dict:
    broker = None
    bootstrap = bootstrap or os.environ.get("KAFKA_BOOTSTRAP_SERVER")
    state = None
    if not bootstrap:
        state = tempfile.TemporaryDirectory(prefix="dataplat-bench-")
        broker = LocalKafkaBroker(
            state_dir=Path(state.name),
            jars_dir=Path(os.environ.get("DATAPLAT_JARS_DIR", PROJECT_ROOT / ".jars")),
            port=free_port(),
            controller_port=free_port(),
            heap="512m",
        )
        broker.start(ready_timeout_s=120)
        bootstrap = broker.bootstrap
    settings = KafkaSettings(bootstrap_server=bootstrap)
    admin = AdminClient(settings.client_config())
    run_id = uuid.uuid4().hex[:8]
    topics = {name: f"bench_{name}_{run_id}" for name in SOURCE_NAMES}
    baseline_topic = f"bench_baseline_{run_id}"
    try:
        ensure_topics(admin, {**dict.fromkeys(topics.values(), partitions), baseline_topic: partitions})
        time.sleep(1.0)  # let the new partitions elect leaders before timing
        per_source = events // len(SOURCE_NAMES)
        build_world(seed)  # pools are built once per process; not part of the produce timing
        # Warm-up (not timed): the idempotent producer's first PID request waits for a fresh
        # broker's coordinator, and the broker's JIT is cold.
        warm = run_burst("web", 20_000, seed=seed + 1, settings=settings, topic=baseline_topic)
        generation = generation_only(per_source, seed)

        started = time.perf_counter()
        results = run_bursts(SOURCE_NAMES, per_source, seed=seed, settings=settings, topics=topics)
        wall = time.perf_counter() - started
        produced = sum(r.produced for r in results)
        size = sum(r.bytes for r in results)
        burst = {
            "per_source": {
                r.source: {
                    "messages": r.produced,
                    "invalid": r.invalid,
                    "seconds": round(r.elapsed_s, 3),
                    "events_per_s": round(r.events_per_s),
                    "mb_per_s": round(r.mb_per_s, 2),
                }
                for r in results
            },
            "total": {
                "messages": produced,
                "seconds": round(wall, 3),
                "events_per_s": round(produced / wall),
                "mb_per_s": round(size / 1e6 / wall, 2),
                "avg_message_bytes": round(size / produced, 1),
            },
        }
        baseline = naive_baseline(bootstrap, baseline_topic, baseline_events)
    finally:
        if broker is None:
            for future in admin.delete_topics([*topics.values(), baseline_topic], operation_timeout=30).values():
                future.result()
        del admin
        gc.collect()  # release every client before the broker goes away (no reconnect noise)
        if broker is not None:
            broker.stop()
        if state is not None:
            state.cleanup()
    return {
        "benchmark": "simulators burst mode",
        "measured_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "confluent_kafka": confluent_kafka.__version__,
            "librdkafka": confluent_kafka.libversion()[0],
            # Other processes compete for the same cores; a high load average means lower figures.
            "load_average_1m_at_end": round(os.getloadavg()[0], 2),
        },
        "broker": "temporary local broker (same machine)" if broker is not None else bootstrap,
        "config": {
            "events": events,
            "events_per_source": per_source,
            "partitions": partitions,
            "seed": seed,
            "invalid_fraction": 0.01,
            "late_fraction": 0.05,
            "producer": "idempotent, acks=all, snappy, linger.ms=20 (dataplat_resources.kafka_client.producer_config)",
        },
        "warm_up": {
            "messages": warm.produced,
            "seconds": round(warm.elapsed_s, 3),
            "events_per_s": round(warm.events_per_s),
        },
        "generation_only": generation,
        "burst": burst,
        "baseline": {"method": "Faker per event + json.dumps + produce + flush per message", **baseline},
        "speedup": round(burst["total"]["events_per_s"] / baseline["events_per_s"], 1),
    }


def main(
    *,
    events: Annotated[int, typer.Option(help="Messages in total, split over the five sources.")] = 500_000,
    baseline_events: Annotated[int, typer.Option(help="Messages for the naive baseline.")] = 2_000,
    partitions: Annotated[int, typer.Option(help="Partitions of each benchmark topic.")] = 4,
    seed: int = 42,
    bootstrap: Annotated[
        str | None, typer.Option(help="An existing broker (default: KAFKA_BOOTSTRAP_SERVER or a temporary one).")
    ] = None,
    output: Annotated[Path, typer.Option(help="Where to write the JSON report.")] = DEFAULT_OUTPUT,
) -> None:
    """Measure burst throughput into Kafka and compare it with a naive producer."""
    configure_logging("WARNING")  # logs to stderr; stdout carries only the JSON report
    report = run(events=events, baseline_events=baseline_events, partitions=partitions, seed=seed, bootstrap=bootstrap)
    text = json.dumps(report, indent=2)
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(text + "\n")
    print(text)


if __name__ == "__main__":
    typer.run(main)
