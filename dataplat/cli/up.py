"""``dataplat up``: start Kafka, run the main job on local defaults, summarize what happened."""

from __future__ import annotations

import os
from pathlib import Path

import typer


def up(
    events: int = typer.Option(5_000, help="Events per simulator in the burst."),
    seed: int = typer.Option(None, help="Seed of the simulated traffic (default: a fresh one)."),
) -> None:
    """Start Kafka (unless KAFKA_BOOTSTRAP_SERVER names another cluster), then simulators -> Kafka ->
    bronze -> silver -> gold, and print a summary. Exits 1 if a stage or an ERROR check failed."""
    import dagster as dg
    from rich.console import Console
    from rich.table import Table

    from dataplat.cli.kafka import start as kafka_start
    from dataplat.definitions import defs
    from dataplat.envfile import ensure_dagster_home
    from dataplat.pipeline import run_main_job
    from dataplat.report import build_report, collect
    from dataplat_resources.settings import load_settings

    console = Console()
    kafka_start(timeout=90.0)
    settings = load_settings()
    dagster_home = Path(os.environ.get("DAGSTER_HOME") or settings.home / "dagster")
    os.environ["DAGSTER_HOME"] = str(dagster_home)
    ensure_dagster_home(dagster_home)

    def show(stage) -> None:  # noqa: ANN001
        mark = "[green]ok[/]" if stage.success else "[red]FAILED[/]"
        console.print(f"  {stage.name:<34} {mark}  {stage.seconds:6.1f}s  run {stage.run_id[:8]}")

    console.print(f"[bold]Main job[/] ({events:,} events per simulator; instance {dagster_home})")
    with dg.DagsterInstance.get() as instance:
        summary = run_main_job(defs, instance, events, seed, settings.lake, on_stage=show)
        report = build_report(collect(defs, instance))

    table = Table(title="What happened")
    for column in ("topic", "produced", "ingested", "valid -> bronze", "invalid -> DLQ + quarantine"):
        table.add_column(column, justify="right" if column != "topic" else "left")
    for topic, produced in summary.produced.items():
        b = summary.bronze.get(topic, {})
        table.add_row(
            topic, f"{produced:,}", f"{b.get('consumed', 0):,}", f"{b.get('valid', 0):,}", f"{b.get('invalid', 0):,}"
        )
    console.print(table)
    console.print(f"Asset checks: {report.summary()}")
    console.print(f"Lake: {settings.lake}")
    console.print("Browse it: [bold]make ui[/] -> http://127.0.0.1:3000 (asset graph, runs, checks, schedules)")
    if not summary.success or not report.ok:
        raise typer.Exit(1)
