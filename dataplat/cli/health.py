"""``dataplat health``: broker, topics, lag, Delta tables, Spark jars, the shop database and the Dagster daemon."""

from __future__ import annotations

import typer


def health(
    skip_daemon: bool = typer.Option(
        False, help="Do not require a running Dagster daemon (e.g. right after `make up`)."
    ),
) -> None:
    """Print a table of every component's health; exit 1 when any of them failed."""
    from rich.console import Console
    from rich.table import Table

    from dataplat.health import FAIL, OK, WARN, healthy, run_probes
    from dataplat_resources.settings import load_settings

    probes = run_probes(load_settings(), skip_daemon=skip_daemon)
    table = Table(title="dataplat health", show_lines=False)
    for column in ("component", "check", "status", "detail"):
        table.add_column(column)
    colour = {OK: "green", WARN: "yellow", FAIL: "red"}
    for p in probes:
        table.add_row(p.component, p.name, f"[{colour[p.status]}]{p.status}[/]", p.detail)
    console = Console(width=140)
    console.print(table)
    ok = healthy(probes)
    console.print("[green]healthy[/]" if ok else "[red]unhealthy[/]")
    if not ok:
        raise typer.Exit(1)
