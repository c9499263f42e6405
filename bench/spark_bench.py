"""Spark silver/gold benchmark on local[2]: cost per event at several bronze sizes.

    .venv/bin/python bench/spark_bench.py --sizes 1000000,10000000

For each size N, a fresh lake gets N app events, N clickstream events and N CDC changes (plus a
fixed day of weather and market records), generated with numpy/Arrow in chunks directly in the
bronze schema (``bronze_schema(contract)``) and appended with ``deltalake.write_deltalake``,
partitioned by ``event_date`` exactly like ingestion (one commit per chunk). All events fall on one
day (2024-05-01), so N also sets the density (events per minute, per user...).

Then each job is timed: silver x4 (availableNow over the whole backlog, in micro-batches of at
most ``--chunk-rows * --files-per-batch`` rows), gold x3 over that day. Each job also records its CPU
seconds (Spark JVM + driver, from /proc: robust when other processes compete for the 2 cores, which
wall time is not) and the 1-minute load average after it (well above 2 means it was contended). The Spark
session start is timed separately, and a tiny warm-up pass (JIT, code generation) runs before the first size and is
reported separately, so the per-size figures are steady-state costs.
Writes JSON to bench/results/spark.json and stdout. Only measured numbers.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import sys
import tempfile
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from deltalake import write_deltalake  # noqa: E402

from dataplat_ingestion.arrow_convert import bronze_schema  # noqa: E402
from dataplat_resources import lake, topics  # noqa: E402
from dataplat_resources.contracts import contract_for  # noqa: E402
from dataplat_resources.lake import LakeLayout  # noqa: E402

DAY = date(2024, 5, 1)
DAY_START_US = int(datetime(2024, 5, 1, tzinfo=UTC).timestamp()) * 1_000_000
DAY_US = 86_400 * 1_000_000
INGESTED_AT = datetime(2024, 5, 2, tzinfo=UTC)
COUNTRIES = ["US", "IN", "GB", "DE", "BR", "FR", "JP", "CA", "ES", "IT", "MX", "AU", "NL", "PL", "TR", "CZ"]
COUNTRY_WEIGHTS = np.array([30, 10, 8, 8, 6, 6, 4, 4, 4, 4, 3, 3, 3, 2, 2, 1], dtype=float)
CITIES_PER_COUNTRY = 6
EVENT_TYPES = ["page_view", "product_view", "search", "add_to_cart", "checkout_start", "purchase", "login"]
EVENT_WEIGHTS = np.array([40, 25, 10, 10, 5, 3, 7], dtype=float)
PAGE_TYPES = ["home", "category", "product", "search", "cart", "checkout", "confirmation", "account"]
PAGE_WEIGHTS = np.array([20, 15, 30, 10, 10, 6, 3, 6], dtype=float)
ACTIONS = ["page_view", "click", "scroll"]
ACTION_WEIGHTS = np.array([55, 35, 10], dtype=float)
SYMBOLS = ["AMZN", "SHOP", "MELI", "ULVR", "SAP", "MC", "ITX", "ASML", "ZAL", "SONY", "RELIANCE"]


# --- Arrow helpers -----------------------------------------------------------------------------


def _choice(rng: np.random.Generator, values: list[str], weights: np.ndarray, n: int) -> pa.Array:
    idx = rng.choice(len(values), size=n, p=weights / weights.sum()).astype(np.int32)
    return pa.DictionaryArray.from_arrays(pa.array(idx), pa.array(values)).cast(pa.string())


def _take(values: list[str], idx: np.ndarray) -> pa.Array:
    return pa.DictionaryArray.from_arrays(pa.array(idx.astype(np.int32)), pa.array(values)).cast(pa.string())


def _prefixed(prefix: str, numbers: np.ndarray) -> pa.Array:
    return pc.binary_join_element_wise(prefix, pc.cast(pa.array(numbers), pa.string()), "")


def _ids(start: int, n: int) -> pa.Array:
    digits = pc.utf8_lpad(pc.cast(pa.array(np.arange(start, start + n, dtype=np.int64)), pa.string()), 12, "0")
    return pc.binary_join_element_wise("00000000-0000-4000-8000-", digits, "")


def _ts(us: np.ndarray) -> pa.Array:
    return pa.array(us, pa.timestamp("us", tz="UTC"))


def _masked(values: np.ndarray, keep: np.ndarray, type_: pa.DataType) -> pa.Array:
    return pa.array(values, type_, mask=~keep)


def _finish(topic: str, columns: dict[str, pa.Array], event_time_us: np.ndarray, start: int) -> pa.Table:
    """Add derived and Kafka columns; order and type everything exactly as the bronze schema."""
    schema = bronze_schema(contract_for(topic))
    n = len(event_time_us)
    columns.setdefault(lake.EVENT_TIME, _ts(event_time_us))
    columns[lake.EVENT_DATE] = pc.cast(_ts(event_time_us), pa.date32())
    columns[lake.KAFKA_TOPIC] = pa.repeat(pa.scalar(topic), n)
    columns[lake.KAFKA_PARTITION] = pa.array(np.arange(n, dtype=np.int32) % 4)
    columns[lake.KAFKA_OFFSET] = pa.array(np.arange(start, start + n, dtype=np.int64))
    columns[lake.KAFKA_TIMESTAMP] = _ts(event_time_us)
    columns[lake.KAFKA_KEY] = pa.nulls(n, pa.string())
    columns[lake.INGESTED_AT] = pa.repeat(pa.scalar(INGESTED_AT, lake.UTC_US), n)
    arrays = []
    for f in schema:
        value = columns.get(f.name)
        arrays.append(pa.nulls(n, f.type) if value is None else value.cast(f.type))
    return pa.Table.from_arrays(arrays, schema=schema)


def _times(rng: np.random.Generator, chunk: int, chunks: int, n: int) -> np.ndarray:
    """Event times spread over the day in arrival order, with +-5 min of disorder (late data)."""
    base = DAY_START_US + ((chunk * n + np.arange(n)) * (DAY_US // (chunks * n)))
    jitter = rng.integers(-300_000_000, 300_000_000, size=n)
    return np.clip(base + jitter, DAY_START_US, DAY_START_US + DAY_US - 1)


def _struct(fields: dict[str, pa.Array], type_: pa.StructType) -> pa.StructArray:
    n = len(next(iter(fields.values())))
    arrays = [(fields[f.name] if f.name in fields else pa.nulls(n, f.type)).cast(f.type) for f in type_]
    return pa.StructArray.from_arrays(arrays, fields=list(type_))


# --- generators --------------------------------------------------------------------------------


def app_events(rng: np.random.Generator, chunk: int, chunks: int, n: int, users: int) -> pa.Table:
    schema = bronze_schema(contract_for(topics.APP_EVENTS))
    t = _times(rng, chunk, chunks, n)
    uid = rng.integers(0, users, size=n)
    etype = rng.choice(len(EVENT_TYPES), size=n, p=EVENT_WEIGHTS / EVENT_WEIGHTS.sum())
    platform_idx = uid % 3  # stable per user: ios, android, web
    country_idx = rng.choice(len(COUNTRIES), size=n, p=COUNTRY_WEIGHTS / COUNTRY_WEIGHTS.sum())
    city_idx = country_idx * CITIES_PER_COUNTRY + uid % CITIES_PER_COUNTRY
    cities = [f"{c}-city-{i}" for c in COUNTRIES for i in range(CITIES_PER_COUNTRY)]
    is_purchase = etype == EVENT_TYPES.index("purchase")
    is_product = np.isin(etype, [1, 3])
    web = platform_idx == 2
    device = _struct(
        {
            "os": _take(["ios", "android", "windows"], platform_idx),
            "os_version": pa.repeat(pa.scalar("17"), n),
            "model": pa.repeat(pa.scalar("Model X"), n),
            "app_version": _masked(np.full(n, "6.0.0", dtype=object), ~web, pa.string()),
            "browser": _masked(np.full(n, "chrome", dtype=object), web, pa.string()),
        },
        schema.field("device").type,
    )
    geo = _struct(
        {
            "country": _take(COUNTRIES, country_idx),
            "city": _take(cities, city_idx),
            "lat": pa.array(rng.uniform(-60, 60, size=n)),
            "lon": pa.array(rng.uniform(-120, 120, size=n)),
        },
        schema.field("geo").type,
    )
    price = np.round(rng.lognormal(3.5, 1.0, size=n), 2)
    props = _struct(
        {
            "page": _masked(np.full(n, "/home", dtype=object), etype == 0, pa.string()),
            "product_id": _masked(np.full(n, "p-1", dtype=object), is_product, pa.string()),
            "price": _masked(price, is_product, pa.float64()),
            "quantity": _masked(np.ones(n, dtype=np.int64), etype == 3, pa.int64()),
            "currency": _masked(np.full(n, "USD", dtype=object), is_purchase, pa.string()),
            "order_id": _masked(np.full(n, "o-1", dtype=object), is_purchase, pa.string()),
            "revenue": _masked(np.maximum(price, 0.01), is_purchase, pa.float64()),
            "search_query": _masked(np.full(n, "shoes", dtype=object), etype == 2, pa.string()),
        },
        schema.field("properties").type,
    )
    columns = {
        "event_id": _ids(chunk * n, n),
        "event_type": _take(EVENT_TYPES, etype),
        "user_id": _prefixed("user_", uid),
        "session_id": _prefixed("s_", uid * 7 + (t // (3_600 * 1_000_000))),
        "source": _take(["mobile_app", "mobile_app", "web"], platform_idx),
        "platform": _take(["ios", "android", "web"], platform_idx),
        "device": device,
        "geo": geo,
        "properties": props,
    }
    return _finish(topics.APP_EVENTS, columns, t, chunk * n)


def clicks(rng: np.random.Generator, chunk: int, chunks: int, n: int, users: int) -> pa.Table:
    schema = bronze_schema(contract_for(topics.CLICKSTREAM))
    t = _times(rng, chunk, chunks, n)
    uid = rng.integers(0, users, size=n)
    action = rng.choice(len(ACTIONS), size=n, p=ACTION_WEIGHTS / ACTION_WEIGHTS.sum())
    page = rng.choice(len(PAGE_TYPES), size=n, p=PAGE_WEIGHTS / PAGE_WEIGHTS.sum())
    page_types = pa.array(np.array(PAGE_TYPES, dtype=object)[page])
    columns = {
        "event_id": _ids(10**11 + chunk * n, n),
        "user_id": _prefixed("user_", uid),
        "session_id": _prefixed("s_", uid),
        "action": _take(ACTIONS, action),
        "page_url": pc.binary_join_element_wise("/", page_types, ""),
        "page_type": page_types,
        "element_id": _masked(np.full(n, "btn", dtype=object), action == 1, pa.string()),
        "scroll_depth_pct": _masked(np.full(n, 50, dtype=np.int64), action == 2, pa.int64()),
        "sequence_number": pa.array(np.arange(n, dtype=np.int64) % 1000),
        "viewport": _struct(
            {"width": pa.array(np.full(n, 1920)), "height": pa.array(np.full(n, 1080))}, schema.field("viewport").type
        ),
    }
    return _finish(topics.CLICKSTREAM, columns, t, chunk * n)


def cdc_changes(rng: np.random.Generator, chunk: int, chunks: int, n: int) -> pa.Table:
    """Users and orders (1:4): a create per key first, then updates, some deletes; LSN = arrival order."""
    schema = bronze_schema(contract_for(topics.CDC_CHANGES))
    image_type = schema.field("after").type
    lsn = np.arange(chunk * n, (chunk + 1) * n, dtype=np.int64) + 1
    t = DAY_START_US + lsn * (DAY_US // (chunks * n + 1))
    keys_total = max((chunks * n) // 4, 1)  # each key changes ~4 times over the run
    key = (lsn * 2_654_435_761) % keys_total + 1
    first_seen = lsn <= keys_total  # the first quarter of the log creates every key once
    key = np.where(first_seen, lsn, key)
    is_user = (key % 5) == 0  # one key space, split between the two tables
    op_draw = rng.random(n)
    op = np.where(first_seen, "c", np.where(op_draw < 0.03, "d", "u")).astype(object)
    ts_iso = pa.array(t, pa.timestamp("us", tz="UTC"))
    status_idx = rng.integers(0, 3, size=n)
    image = _struct(
        {
            "id": pa.array(key),
            "email": _masked(np.full(n, "jo@example.com", dtype=object), is_user, pa.string()),
            "full_name": _masked(np.full(n, "Jo Doe", dtype=object), is_user, pa.string()),
            "country": _masked(np.full(n, "US", dtype=object), is_user, pa.string()),
            "tier": _masked(np.array(["free", "plus", "premium"], dtype=object)[status_idx], is_user, pa.string()),
            "created_at": pa.array(np.full(n, DAY_START_US), pa.timestamp("us", tz="UTC")),
            "updated_at": ts_iso,
            "user_id": _masked(key % 1000 + 1, ~is_user, pa.int64()),
            "status": _masked(
                np.array(["pending", "paid", "shipped"], dtype=object)[status_idx], ~is_user, pa.string()
            ),
            "total_amount": _masked(np.round(rng.uniform(5, 500, size=n), 2), ~is_user, pa.float64()),
            "currency": _masked(np.full(n, "USD", dtype=object), ~is_user, pa.string()),
            "item_count": _masked(np.ones(n, dtype=np.int64), ~is_user, pa.int64()),
        },
        image_type,
    )
    is_delete = op == "d"
    is_create = op == "c"
    nulls = pa.nulls(n, image_type)
    after = pc.if_else(pa.array(is_delete), nulls, image)
    before = pc.if_else(pa.array(is_create), nulls, image)
    source = _struct(
        {
            "version": pa.repeat(pa.scalar("2.7.0"), n),
            "connector": pa.repeat(pa.scalar("postgresql"), n),
            "name": pa.repeat(pa.scalar("shop"), n),
            "db": pa.repeat(pa.scalar("shop"), n),
            "schema": pa.repeat(pa.scalar("public"), n),
            "table": pa.array(np.where(is_user, "users", "orders").astype(object)),
            "lsn": pa.array(lsn),
            "txId": pa.array(lsn),
            "ts_ms": pa.array(t // 1000),
            "snapshot": pa.repeat(pa.scalar("false"), n),
        },
        schema.field("source").type,
    )
    columns = {
        "source": source,
        "op": pa.array(op),
        "ts_ms": pa.array(t // 1000 + 5),
        "before": before,
        "after": after,
        "event_id": pc.binary_join_element_wise(source.field("table"), pc.cast(source.field("lsn"), pa.string()), ":"),
    }
    return _finish(topics.CDC_CHANGES, columns, t, chunk * n)


def external_day(rng: np.random.Generator) -> pa.Table:
    """Weather every 10 min for every city, a market tick every minute per symbol, over the day."""
    cities = [(f"{c}-city-{i}", c) for c in COUNTRIES for i in range(CITIES_PER_COUNTRY)]
    w_t = np.repeat(DAY_START_US + np.arange(144) * 600_000_000, len(cities))
    w_city = np.tile(np.arange(len(cities)), 144)
    m_t = np.repeat(DAY_START_US + np.arange(1440) * 60_000_000, len(SYMBOLS))
    m_sym = np.tile(np.arange(len(SYMBOLS)), 1440)
    nw, nm = len(w_t), len(m_t)
    n = nw + nm
    is_w = np.arange(n) < nw
    t = np.concatenate([w_t, m_t])
    city = np.concatenate([np.array([c for c, _ in cities], dtype=object)[w_city], np.full(nm, None)])
    country = np.concatenate([np.array([k for _, k in cities], dtype=object)[w_city], np.full(nm, None)])
    symbol = np.concatenate([np.full(nw, None), np.array(SYMBOLS, dtype=object)[m_sym]])
    price = np.round(rng.uniform(10, 500, size=n), 2)
    columns = {
        "event_id": _ids(9 * 10**11, n),
        "provider": pa.repeat(pa.scalar("bench"), n),
        "batch_id": pa.repeat(pa.scalar("b1"), n),
        "batch_seq": pa.array(np.zeros(n, dtype=np.int64)),
        "batch_size": pa.array(np.ones(n, dtype=np.int64)),
        "kind": pa.array(np.where(is_w, "weather", "market").astype(object)),
        "city": pa.array(city, pa.string()),
        "country": pa.array(country, pa.string()),
        "temperature_c": _masked(rng.uniform(-5, 30, size=n), is_w, pa.float64()),
        "humidity_pct": _masked(rng.uniform(20, 90, size=n), is_w, pa.float64()),
        "wind_speed_kmh": _masked(rng.uniform(0, 40, size=n), is_w, pa.float64()),
        "precipitation_mm": _masked(np.zeros(n), is_w, pa.float64()),
        "condition": _masked(np.full(n, "clouds", dtype=object), is_w, pa.string()),
        "symbol": pa.array(symbol, pa.string()),
        "exchange": _masked(np.full(n, "NASDAQ", dtype=object), ~is_w, pa.string()),
        "currency": _masked(np.full(n, "USD", dtype=object), ~is_w, pa.string()),
        "price": _masked(price, ~is_w, pa.float64()),
        "low": _masked(price, ~is_w, pa.float64()),
        "high": _masked(price, ~is_w, pa.float64()),
        "volume": _masked(np.full(n, 100, dtype=np.int64), ~is_w, pa.int64()),
        "change_pct": _masked(np.zeros(n), ~is_w, pa.float64()),
    }
    return _finish(topics.EXTERNAL_DATA, columns, t, 0)


def write_bronze(layout: LakeLayout, size: int, chunk_rows: int, seed: int) -> dict[str, Any]:
    """N rows per topic in chunks (one delta-rs commit each), plus the external day."""
    rng = np.random.default_rng(seed)
    chunks = max(1, -(-size // chunk_rows))
    per_chunk = size // chunks
    timings: dict[str, float] = {}
    started = time.perf_counter()
    for topic, make in (
        (topics.APP_EVENTS, lambda c: app_events(rng, c, chunks, per_chunk, users=max(size // 50, 10))),
        (topics.CLICKSTREAM, lambda c: clicks(rng, c, chunks, per_chunk, users=max(size // 25, 10))),
        (topics.CDC_CHANGES, lambda c: cdc_changes(rng, c, chunks, per_chunk)),
    ):
        t0 = time.perf_counter()
        for c in range(chunks):
            write_deltalake(layout.bronze(topic), make(c), mode="append", partition_by=lake.BRONZE_PARTITION_COLUMNS)
        timings[topics.short_name(topic)] = round(time.perf_counter() - t0, 2)
    write_deltalake(
        layout.bronze(topics.EXTERNAL_DATA),
        external_day(rng),
        mode="append",
        partition_by=lake.BRONZE_PARTITION_COLUMNS,
    )
    return {
        "rows_per_topic": per_chunk * chunks,
        "chunks": chunks,
        "generate_and_write_s": round(time.perf_counter() - started, 2),
        "per_topic_s": timings,
    }


# --- the measured run ----------------------------------------------------------------------------


def run_jobs(spark: Any, layout: LakeLayout, rows: int, files_per_batch: int) -> dict[str, Any]:
    from dataplat_processing import (
        run_cdc,
        run_clickstream_sessions,
        run_daily_summary,
        run_enrichment,
        run_event_aggregates,
        run_hourly_aggregates,
        run_user_segments,
    )

    day_start = datetime(2024, 5, 1, tzinfo=UTC)
    jobs = [
        ("silver.event_aggregates", lambda: run_event_aggregates(spark, layout, max_files_per_trigger=files_per_batch)),
        (
            "silver.clickstream_sessions",
            lambda: run_clickstream_sessions(spark, layout, max_files_per_trigger=files_per_batch),
        ),
        ("silver.enrichment", lambda: run_enrichment(spark, layout, max_files_per_trigger=files_per_batch)),
        ("silver.cdc", lambda: run_cdc(spark, layout, max_files_per_trigger=files_per_batch)),
        (
            "gold.hourly_aggregates",
            lambda: run_hourly_aggregates(spark, layout, day_start, day_start + timedelta(days=1)),
        ),
        ("gold.daily_summary", lambda: run_daily_summary(spark, layout, DAY, DAY + timedelta(days=1))),
        ("gold.user_segments", lambda: run_user_segments(spark, layout, DAY)),
    ]
    out: dict[str, Any] = {}
    jvm_pid = int(spark.sparkContext._jvm.java.lang.ProcessHandle.current().pid())
    for name, job in jobs:
        cpu0 = cpu_seconds(jvm_pid)
        t0 = time.perf_counter()
        result = job()
        seconds = time.perf_counter() - t0
        cpu = cpu_seconds(jvm_pid) - cpu0
        meta = result.as_metadata()
        out[name] = {
            "seconds": round(seconds, 2),
            "cpu_s": round(cpu, 2),  # JVM + this process: robust to other load, unlike wall time
            "us_cpu_per_event": round(cpu * 1e6 / rows, 2) if rows else None,
            "load_avg_1m_after": round(os.getloadavg()[0], 2),  # > 2 on 2 cores: something else competed
            "events_per_s": round(rows / seconds) if seconds else None,
            "us_per_event": round(seconds * 1e6 / rows, 2) if rows else None,
            "result": {k: v for k, v in meta.items() if k not in ("job", "sizes", "shares")},
        }
        print(
            f"  {name:30s} {seconds:8.2f} s  {out[name]['us_per_event']:8.2f} us/event  cpu {cpu:8.2f} s",
            flush=True,
        )
    return out


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of the Spark JVM and of this Python process so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    ticks = os.sysconf("SC_CLK_TCK")
    jvm = (int(fields[11]) + int(fields[12])) / ticks  # utime, stime
    own = os.times()
    return jvm + own.user + own.system


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="1000000,10000000", help="comma-separated bronze rows per topic")
    parser.add_argument("--chunk-rows", type=int, default=250_000, help="rows per bronze commit (delta-rs append)")
    parser.add_argument("--files-per-batch", type=int, default=4, help="maxFilesPerTrigger of the silver streams")
    parser.add_argument("--master", default="local[2]")
    parser.add_argument("--driver-memory", default="4g")
    parser.add_argument("--shuffle-partitions", type=int, default=4)
    parser.add_argument("--workdir", default=None, help="where the lakes go (default: a temp dir, deleted after)")
    parser.add_argument("--keep", action="store_true", help="keep the lakes")
    parser.add_argument("--out", default=str(ROOT / "bench" / "results" / "spark.json"))
    args = parser.parse_args(argv)
    sizes = [int(s) for s in args.sizes.split(",") if s.strip()]

    from dataplat_resources.settings import PlatformSettings
    from dataplat_resources.spark import SparkTuning, build_spark_session

    work = Path(args.workdir) if args.workdir else Path(tempfile.mkdtemp(prefix="spark_bench_"))
    work.mkdir(parents=True, exist_ok=True)
    settings = PlatformSettings(DATAPLAT_HOME=work / "home", SPARK_MASTER=args.master, SPARK_REMOTE=None)
    tuning = SparkTuning(
        SPARK_SHUFFLE_PARTITIONS=args.shuffle_partitions,
        SPARK_DRIVER_MEMORY=args.driver_memory,
        SPARK_LOG_LEVEL="ERROR",
    )
    report: dict[str, Any] = {
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(), "platform": platform.platform()},
        "config": {
            "master": args.master,
            "driver_memory": args.driver_memory,
            "shuffle_partitions": args.shuffle_partitions,
            "chunk_rows": args.chunk_rows,
            "files_per_batch": args.files_per_batch,
            "micro_batch_rows": args.chunk_rows * args.files_per_batch,
        },
        "started_at": datetime.now(UTC).isoformat(),
        "sizes": {},
    }
    total = time.perf_counter()
    try:
        t0 = time.perf_counter()
        spark = build_spark_session(settings, "dataplat-spark-bench", tuning=tuning)
        spark.range(1).count()
        report["session_start_s"] = round(time.perf_counter() - t0, 2)
        print(f"session start (incl. first action): {report['session_start_s']} s", flush=True)

        warm = LakeLayout(str(work / "lake_warmup"))
        write_bronze(warm, 20_000, 10_000, seed=1)
        t0 = time.perf_counter()
        print("warm-up (20k rows):", flush=True)
        run_jobs(spark, warm, 20_000, args.files_per_batch)
        report["warmup_s"] = round(time.perf_counter() - t0, 2)

        for size in sizes:
            layout = LakeLayout(str(work / f"lake_{size}"))
            print(f"size {size:,}: generating bronze ...", flush=True)
            data = write_bronze(layout, size, args.chunk_rows, seed=size)
            print(f"  bronze: {data['generate_and_write_s']} s", flush=True)
            jobs = run_jobs(spark, layout, data["rows_per_topic"], args.files_per_batch)
            report["sizes"][str(size)] = {
                "bronze": data,
                "jobs": jobs,
                "total_jobs_s": round(sum(j["seconds"] for j in jobs.values()), 2),
            }
            json_dump(report, args.out)
        if len(sizes) > 1:
            small, large = str(sizes[0]), str(sizes[-1])
            report["scaling"] = {
                name: {
                    "us_per_event_small": report["sizes"][small]["jobs"][name]["us_per_event"],
                    "us_per_event_large": report["sizes"][large]["jobs"][name]["us_per_event"],
                    "ratio_large_to_small": round(
                        report["sizes"][large]["jobs"][name]["us_per_event"]
                        / report["sizes"][small]["jobs"][name]["us_per_event"],
                        2,
                    ),
                    "cpu_ratio_large_to_small": round(
                        report["sizes"][large]["jobs"][name]["us_cpu_per_event"]
                        / report["sizes"][small]["jobs"][name]["us_cpu_per_event"],
                        2,
                    ),
                }
                for name in report["sizes"][small]["jobs"]
            }
        spark.stop()
    finally:
        report["total_s"] = round(time.perf_counter() - total, 2)
        json_dump(report, args.out)
        if not args.keep and not args.workdir:
            shutil.rmtree(work, ignore_errors=True)
    print(json.dumps(report, indent=2))


def json_dump(report: dict[str, Any], out: str) -> None:
    Path(out).parent.mkdir(parents=True, exist_ok=True)
    Path(out).write_text(json.dumps(report, indent=2) + "\n")


if __name__ == "__main__":
    main()
