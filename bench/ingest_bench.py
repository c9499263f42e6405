"""Ingestion benchmark against the real local broker, with its baselines measured in the same run.

    .venv/bin/python bench/ingest_bench.py --events 1000000

1. Produces N realistic app events (mobile + web simulators, 1% invalid) into a fresh topic.
2. Measures, each in its own process (for a clean peak RSS):
   - ceiling: consume + JSON decode only (no validation, no write);
   - pipeline, 1 process: the real ingestion (validate, DLQ, exactly-once Delta commits);
   - pipeline, 2 processes: the same, partitions split between two processes;
   - naive baseline: built like the seed's consumer, per-message poll -> validate -> write.
3. Measures continuous mode: the ingest service at a steady produce rate (default 10k events/s),
   p99 from produce (Kafka CreateTime) to Delta commit.
Writes JSON to bench/results/ingest.json (and stdout) with the figures and the ratios.
Only measured numbers; the machine is noisy, so compare within one run.
"""

from __future__ import annotations

import contextlib
import json
import os
import resource
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import typer

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

app = typer.Typer(add_completion=False, help=__doc__)
BENCH_TOPIC = "bench_app_events"
# The 2-process run reads its own copy of the events: with the 1-process run's topic it would share
# its dead-letter topic, find every dead letter already there and measure the duplicate scan instead.
BENCH_TOPIC_2P = "bench_app_events_2p"


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


@app.command("worker", hidden=True)
def worker(
    mode: str = typer.Option(...),
    bootstrap: str = typer.Option(...),
    topic: str = typer.Option(BENCH_TOPIC),
    partitions: str = typer.Option(...),
    lake_root: str = typer.Option(...),
    batch_size: int = typer.Option(50_000),
    naive_events: int = typer.Option(300),
) -> None:
    """One measured process; prints a JSON line."""
    import numpy as np
    import orjson
    from confluent_kafka import Consumer, TopicPartition

    from dataplat_ingestion.batch import IngestOptions, open_ingestor
    from dataplat_ingestion.offsets import OffsetRanges, PartitionRange
    from dataplat_resources.contracts import contract_for
    from dataplat_resources.kafka_client import consumer_config
    from dataplat_resources.lake import LakeLayout
    from dataplat_resources.logging import configure_logging

    configure_logging("WARNING")
    rss_after_imports = _peak_rss_mb()
    client = {"bootstrap.servers": bootstrap}
    wanted = [int(p) for p in partitions.split(",")]
    probe = Consumer(consumer_config(client, group_id="bench-probe"))
    ends = {p: probe.get_watermark_offsets(TopicPartition(topic, p), timeout=10)[1] for p in wanted}
    probe.close()
    ranges = OffsetRanges(topic, tuple(PartitionRange(p, 0, e) for p, e in ends.items()))
    contract = contract_for("topic_app_events")
    result: dict[str, object] = {"mode": mode, "partitions": wanted}
    if mode == "ceiling":
        consumer = Consumer(consumer_config(client, group_id="bench-ceiling"))
        consumer.assign([TopicPartition(topic, p, 0) for p in wanted])
        remaining, n, size = sum(ends.values()), 0, 0
        started = time.perf_counter()
        while n < remaining:
            for msg in consumer.consume(50_000, timeout=1.0):
                value = msg.value()
                n += 1
                if value:
                    size += len(value)
                    with contextlib.suppress(orjson.JSONDecodeError):
                        orjson.loads(value)
        result.update(messages=n, bytes=size, seconds=time.perf_counter() - started)
        consumer.close()
    elif mode == "pipeline":
        ingestor = open_ingestor(
            topic, client, LakeLayout(lake_root), IngestOptions(batch_size=batch_size), contract=contract
        )
        started = time.perf_counter()
        stats = ingestor.ingest_range(ranges, run_id=f"bench-{os.getpid()}", mode="bench", record=False)
        seconds = time.perf_counter() - started
        ingestor.close()
        result.update(
            messages=stats.consumed,
            valid=stats.valid,
            invalid=stats.invalid,
            bytes=stats.bytes,
            seconds=seconds,
            commits=len(stats.bronze_versions),
            stage_seconds={k: round(v, 3) for k, v in stats.stage_seconds.items()},
            batch_seconds_p99=round(float(np.percentile(stats.batch_seconds, 99)), 3) if stats.batch_seconds else None,
            batches=len(stats.batch_seconds),
        )
    elif mode == "naive":
        # Built like the seed's consumer: poll one message, validate it, write it, repeat.
        import pyarrow as pa
        from deltalake import write_deltalake
        from pydantic import ValidationError

        consumer = Consumer(consumer_config(client, group_id="bench-naive"))
        consumer.assign([TopicPartition(topic, p, 0) for p in wanted])
        path = str(Path(lake_root) / "naive")
        n, valid, size = 0, 0, 0
        started = time.perf_counter()
        while n < naive_events:
            msg = consumer.poll(1.0)
            if msg is None or msg.error():
                continue
            n += 1
            value = msg.value() or b""
            size += len(value)
            try:
                event = contract.validate_json(value)
            except ValidationError:
                continue
            row = pa.Table.from_pylist([{"event_id": str(event.event_id), "payload": value.decode()}])
            write_deltalake(path, row, mode="append")
            valid += 1
        result.update(messages=n, valid=valid, bytes=size, seconds=time.perf_counter() - started)
        consumer.close()
    else:
        raise typer.BadParameter(f"unknown mode {mode}")
    result["rss_after_imports_mb"] = round(rss_after_imports, 1)
    result["peak_rss_mb"] = round(_peak_rss_mb(), 1)
    print("RESULT " + json.dumps(result), flush=True)


def _spawn(args: list[str]) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, __file__, "worker", *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )


def _collect(proc: subprocess.Popen[str]) -> dict:
    out, err = proc.communicate(timeout=3600)
    for line in out.splitlines():
        if line.startswith("RESULT "):
            return json.loads(line[7:])
    raise RuntimeError(f"worker failed ({proc.returncode}):\n{out[-2000:]}\n{err[-4000:]}")


def _rate(r: dict) -> float:
    return r["messages"] / r["seconds"] if r["seconds"] else 0.0


def _continuous(bootstrap: str, home: Path, rate: int, seconds: int) -> dict:
    """The ingest service under a steady load; p99 produce -> commit from its metrics table."""
    from latency import percentiles, produce_steadily, produce_to_commit_ms

    from dataplat_resources.kafka_client import ensure_platform_topics
    from dataplat_resources.lake import LakeLayout
    from dataplat_resources.settings import KafkaSettings, local_env

    settings = KafkaSettings(bootstrap_server=bootstrap)
    ensure_platform_topics(settings)
    home.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, **local_env(home=home), "KAFKA_BOOTSTRAP_SERVER": bootstrap, "LOG_LEVEL": "WARNING"}
    service = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "dataplat.cli",
            "ingest",
            "run",
            "--topics",
            "topic_app_events",
            "--profile",
            "low-latency",
            "--metrics-port",
            "0",
        ],
        env=env,
        cwd=home,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    time.sleep(6)  # join the group
    sent, produce_s = produce_steadily(settings, rate, seconds, seed=7)
    achieved = sent / produce_s
    time.sleep(3)
    service.send_signal(signal.SIGTERM)
    service.wait(timeout=120)
    exact = percentiles(produce_to_commit_ms(LakeLayout(str(home / "lake")).bronze("topic_app_events")))
    return {
        "target_events_per_s": rate,
        "achieved_events_per_s": round(achieved, 1),
        "seconds": seconds,
        "profile": "low-latency",
        "produce_to_commit": exact,
        "target_p99_ms": 2_000,
        "service_exit_code": service.returncode,
    }


@app.command()
def run(
    events: int = typer.Option(1_000_000, help="Events to produce and ingest."),
    partitions: int = typer.Option(4),
    batch_size: int = typer.Option(50_000, help="Messages per Delta commit."),
    naive_events: int = typer.Option(300, help="Messages for the (slow) naive baseline."),
    continuous_rate: int = typer.Option(10_000, help="Events/s for the continuous-mode latency run (0: skip)."),
    continuous_seconds: int = typer.Option(30),
    out: Path = typer.Option(ROOT / "bench" / "results" / "ingest.json"),
) -> None:
    """Run every measurement and write the JSON report."""
    from confluent_kafka.admin import AdminClient

    from dataplat_resources.kafka_client import ensure_topics
    from dataplat_resources.logging import configure_logging
    from dataplat_resources.settings import KafkaSettings
    from simulators.producer import run_burst
    from tests.conftest import start_local_broker

    configure_logging("WARNING")
    work = Path(tempfile.mkdtemp(prefix="dataplat-bench-"))
    external = os.environ.get("KAFKA_BOOTSTRAP_SERVER")
    broker = None if external else start_local_broker(work / "kafka", partitions=partitions)
    bootstrap = external or broker.bootstrap  # type: ignore[union-attr]
    try:
        bench_topics = (BENCH_TOPIC, BENCH_TOPIC_2P)
        ensure_topics(
            AdminClient({"bootstrap.servers": bootstrap}),
            {name: partitions for t in bench_topics for name in (t, f"{t}_dlq")},
        )
        settings = KafkaSettings(bootstrap_server=bootstrap)
        produce_s = []
        for topic in bench_topics:  # the same events (same seeds) into both
            started = time.perf_counter()
            produced = 0
            for source, seed in (("mobile_app", 1), ("web", 2)):
                produced += run_burst(source, events // 2, seed=seed, settings=settings, topic=topic).produced
            produce_s.append(time.perf_counter() - started)
        parts = list(range(partitions))
        common = ["--bootstrap", bootstrap, "--topic", BENCH_TOPIC, "--batch-size", str(batch_size)]

        ceiling = _collect(
            _spawn(
                [
                    "--mode",
                    "ceiling",
                    "--partitions",
                    ",".join(map(str, parts)),
                    "--lake-root",
                    str(work / "l0"),
                    *common,
                ]
            )
        )
        one = _collect(
            _spawn(
                [
                    "--mode",
                    "pipeline",
                    "--partitions",
                    ",".join(map(str, parts)),
                    "--lake-root",
                    str(work / "l1"),
                    *common,
                ]
            )
        )
        halves = [parts[0::2], parts[1::2]]
        t0 = time.perf_counter()
        procs = [
            _spawn(
                [
                    "--mode",
                    "pipeline",
                    "--partitions",
                    ",".join(map(str, h)),
                    "--lake-root",
                    str(work / "l2"),
                    *common,
                    "--topic",
                    BENCH_TOPIC_2P,
                ]
            )
            for h in halves
        ]
        two = [_collect(p) for p in procs]
        two_wall = time.perf_counter() - t0
        naive = _collect(
            _spawn(
                [
                    "--mode",
                    "naive",
                    "--partitions",
                    "0",
                    "--lake-root",
                    str(work / "l3"),
                    "--naive-events",
                    str(naive_events),
                    *common,
                ]
            )
        )
        two_total = sum(r["messages"] for r in two)
        report = {
            "events_produced": produced,
            "produce_events_per_s": round(produced / min(produce_s), 1),
            "partitions": partitions,
            "batch_size": batch_size,
            "ceiling_decode_only": {**ceiling, "events_per_s": round(_rate(ceiling), 1)},
            "pipeline_1_process": {
                **one,
                "events_per_s": round(_rate(one), 1),
                "mb_per_s": round(one["bytes"] / 1e6 / one["seconds"], 2),
                "flush_seconds_avg": round(one["seconds"] / max(one["commits"], 1), 3),
            },
            "pipeline_2_processes": {
                "workers": two,
                "wall_seconds": round(two_wall, 3),
                "events_per_s": round(two_total / two_wall, 1),
                "peak_rss_mb_max": max(r["peak_rss_mb"] for r in two),
            },
            "naive_baseline": {**naive, "events_per_s": round(_rate(naive), 1)},
        }
        report["peak_rss_profile_mb"] = {  # where a pipeline process's memory goes (target: 256 MB)
            "after_imports": one["rss_after_imports_mb"],
            "consume_and_decode_only": ceiling["peak_rss_mb"],
            "pipeline": one["peak_rss_mb"],
            "target": 256,
        }
        report["ratios"] = {
            "pipeline_1_vs_naive": round(_rate(one) / _rate(naive), 1),
            "pipeline_1_vs_ceiling": round(_rate(one) / _rate(ceiling), 3),
            "speedup_2_vs_1_process": round((two_total / two_wall) / _rate(one), 2),
        }
        if continuous_rate:
            report["continuous"] = _continuous(bootstrap, work / "service", continuous_rate, continuous_seconds)
    finally:
        if broker is not None:
            broker.stop()
    text = json.dumps(report, indent=2)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text + "\n")
    print(text)


if __name__ == "__main__":
    app()
