"""``python -m simulators run|burst`` (also ``dataplat simulate``).

Heavy imports happen inside the commands so ``--help`` answers instantly. Both commands stop
cleanly on Ctrl-C or SIGTERM: they stop generating, flush what is queued, print a summary and
exit 0. Any undelivered message makes them exit 1 with the reason.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Annotated

import typer

if TYPE_CHECKING:
    from rich.console import Console
    from rich.table import Table

    from dataplat_resources.settings import PlatformSettings
    from simulators.continuous import ContinuousReport
    from simulators.producer import BurstResult

app = typer.Typer(
    help="Event simulators: mobile app, web, Postgres CDC, clickstream and external data into Kafka.",
    no_args_is_help=True,
)

SourcesOpt = Annotated[
    str,
    typer.Option(
        "--sources", help="'all' or a comma-separated list: mobile_app,web,postgres_cdc,clickstream,external_data."
    ),
]
SeedOpt = Annotated[int, typer.Option("--seed", help="Same seed, same users and same event stream.")]
InvalidOpt = Annotated[
    float, typer.Option("--invalid-fraction", min=0.0, max=0.5, help="Share of deliberately invalid records.")
]
LateOpt = Annotated[
    float, typer.Option("--late-fraction", min=0.0, max=1.0, help="Share of late / out-of-order records.")
]
SuffixOpt = Annotated[
    str, typer.Option("--topic-suffix", help="Append to every topic name (isolated test or staging topics).")
]


def _console() -> Console:
    """Rich console; wide enough for the tables when output is not a terminal (logs, CI)."""
    from rich.console import Console

    console = Console()
    return console if console.is_terminal else Console(width=160)


def _fail(message: str) -> None:
    typer.secho(f"error: {message}", fg=typer.colors.RED, err=True)
    raise typer.Exit(code=1)


@contextmanager
def _stop_on_signals() -> Iterator[threading.Event]:
    """An event set by SIGINT or SIGTERM; the previous handlers come back afterwards."""
    stop = threading.Event()

    def handler(signum: int, _frame: object) -> None:
        stop.set()

    previous = {sig: signal.signal(sig, handler) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield stop
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)


def _setup(sources_spec: str, topic_suffix: str) -> tuple[PlatformSettings, list[str], dict[str, str]]:
    """Settings, logging, the chosen sources and their topics; checks that the topics exist."""
    from dataplat_resources.kafka_client import KafkaUnavailableError, admin_client, check_reachable, topic_partitions
    from dataplat_resources.logging import configure_logging
    from dataplat_resources.settings import load_settings
    from simulators.registry import SOURCES, parse_sources

    settings = load_settings()
    configure_logging(settings.log_level, settings.log_format)
    try:
        names = parse_sources(sources_spec)
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="--sources") from exc
    topics = {name: f"{SOURCES[name].topic}{topic_suffix}" for name in names}
    admin = admin_client(settings.kafka)
    try:
        check_reachable(admin, settings.kafka.bootstrap_servers, timeout_s=10.0)
        for topic in sorted(set(topics.values())):
            topic_partitions(admin, topic, timeout_s=10.0)
    except KafkaUnavailableError as exc:
        _fail(str(exc))
    return settings, names, topics


def _continuous_table(report: ContinuousReport, title: str) -> Table:
    from rich.table import Table

    table = Table(title=title, title_justify="left")
    for column in ("source", "topic", "target", "messages/s", "messages", "invalid"):
        table.add_column(column, justify="left" if column in ("source", "topic") else "right")
    for state in report.sources.values():
        table.add_row(
            state.name,
            state.topic,
            f"{state.target_per_s:,.2f} {state.unit}/s",
            f"{state.rate_per_s:,.2f}",
            f"{state.messages:,}",
            f"{state.invalid:,}",
        )
    table.caption = "  ".join(
        f"{topic}: {stats.delivered:,} delivered, {stats.failed:,} failed"
        for topic, stats in sorted(report.sink.stats.items())
    )
    return table


@app.command()
def run(
    *,
    sources: SourcesOpt = "all",
    rate_multiplier: Annotated[
        float, typer.Option("--rate-multiplier", min=0.0001, help="Scale every default rate.")
    ] = 1.0,
    seed: SeedOpt = 42,
    invalid_fraction: InvalidOpt = 0.01,
    late_fraction: LateOpt = 0.05,
    duration: Annotated[
        float | None, typer.Option("--duration", min=0.0, help="Seconds to run; default: until stopped.")
    ] = None,
    topic_suffix: SuffixOpt = "",
) -> None:
    """Produce continuously at realistic rates until --duration passes, Ctrl-C or SIGTERM."""
    from rich.live import Live

    from simulators.continuous import run_continuous
    from simulators.producer import ProduceError

    console = _console()
    with _stop_on_signals() as stop:  # installed first: a SIGTERM during setup still ends cleanly
        settings, names, topics = _setup(sources, topic_suffix)
        with Live(console=console, refresh_per_second=4, transient=False) as live:

            def show(report: ContinuousReport) -> None:
                live.update(_continuous_table(report, f"dataplat simulators, {report.elapsed_s:,.0f} s"))

            try:
                report = run_continuous(
                    names,
                    seed=seed,
                    settings=settings.kafka,
                    rate_multiplier=rate_multiplier,
                    invalid_fraction=invalid_fraction,
                    late_fraction=late_fraction,
                    duration_s=duration,
                    topics=topics,
                    stop=stop,
                    on_progress=show,
                )
            except ProduceError as exc:
                live.stop()
                _fail(str(exc))
    total = sum(s.messages for s in report.sources.values())
    console.print()
    console.print(
        f"stopped ({report.stopped_by}) after {report.elapsed_s:,.1f} s: {total:,} messages delivered "
        f"to {len(report.sink.stats)} topic(s)."
    )


def _burst_table(results: list[BurstResult], title: str) -> Table:
    from rich.table import Table

    table = Table(title=title, title_justify="left")
    for column in ("source", "topic", "produced", "invalid", "late", "MB", "seconds", "events/s"):
        table.add_column(column, justify="left" if column in ("source", "topic") else "right")
    for r in results:
        table.add_row(
            r.source,
            r.topic,
            f"{r.produced:,}",
            f"{r.invalid:,}",
            f"{r.late:,}",
            f"{r.bytes / 1e6:,.1f}",
            f"{r.elapsed_s:,.2f}",
            f"{r.events_per_s:,.0f}",
        )
    if len(results) > 1:
        produced = sum(r.produced for r in results)
        elapsed = sum(r.elapsed_s for r in results)
        table.add_row(
            "total",
            "",
            f"{produced:,}",
            f"{sum(r.invalid for r in results):,}",
            f"{sum(r.late for r in results):,}",
            f"{sum(r.bytes for r in results) / 1e6:,.1f}",
            f"{elapsed:,.2f}",
            f"{produced / elapsed if elapsed else 0:,.0f}",
        )
    return table


@app.command()
def burst(
    *,
    events: Annotated[
        int, typer.Option("--events", min=1, help="How many messages (see --per-source/--total).")
    ] = 100_000,
    per_source: Annotated[
        bool, typer.Option("--per-source/--total", help="--events for each source, or split over them.")
    ] = False,
    sources: SourcesOpt = "all",
    seed: SeedOpt = 42,
    invalid_fraction: InvalidOpt = 0.01,
    late_fraction: LateOpt = 0.05,
    topic_suffix: SuffixOpt = "",
) -> None:
    """Produce a fixed number of messages as fast as possible (replaying the recent past; CDC runs live)."""
    from rich.live import Live

    from simulators.producer import KafkaSink, ProduceError, produce_burst
    from simulators.registry import burst_clock, make_source

    console = _console()
    results: list[BurstResult] = []
    with _stop_on_signals() as stop:
        settings, names, topics = _setup(sources, topic_suffix)
        each = events if per_source else max(1, events // len(names))
        with Live(console=console, refresh_per_second=4) as live:
            try:
                with KafkaSink(settings.kafka) as sink:
                    for name in names:
                        if stop.is_set():
                            break
                        generator = make_source(
                            name,
                            seed=seed,
                            clock=burst_clock(name, seed, each),
                            invalid_fraction=invalid_fraction,
                            late_fraction=late_fraction,
                        )
                        live.update(_burst_table(results, f"burst: producing {each:,} x {name}"))
                        results.append(produce_burst(sink, generator, each, topic=topics[name], stop=stop))
                        live.update(_burst_table(results, "burst"))
            except ProduceError as exc:
                live.stop()
                _fail(str(exc))
    produced = sum(r.produced for r in results)
    elapsed = sum(r.elapsed_s for r in results)
    state = "stopped early" if stop.is_set() else "done"
    console.print()
    console.print(
        f"{state}: {produced:,} messages delivered in {elapsed:,.2f} s ({produced / elapsed if elapsed else 0:,.0f}/s)."
    )


def main() -> None:
    app()
