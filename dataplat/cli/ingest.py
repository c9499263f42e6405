"""``dataplat ingest run``: the continuous ingest service (lower latency than sensor runs)."""

from __future__ import annotations

import typer

app = typer.Typer(help="Continuous, exactly-once ingestion from Kafka into Delta bronze.", no_args_is_help=True)


@app.command()
def run(
    topics: str = typer.Option("all", help="'all' (one unified consumer) or a comma-separated list of topics."),
    profile: str = typer.Option("balanced", help="high-throughput, balanced or low-latency."),
    group_id: str = typer.Option("dataplat-ingest", help="Consumer group; processes in one group share partitions."),
    metrics_port: int = typer.Option(None, help="Port for /metrics and /health (default INGEST_METRICS_PORT)."),
    duration: float = typer.Option(None, help="Stop after this many seconds (default: until SIGTERM/Ctrl-C)."),
    instance_id: str = typer.Option(
        None, envvar="INGEST_INSTANCE_ID", help="Static group member id (e.g. the pod name): restarts skip a rebalance."
    ),
    session_timeout_ms: int = typer.Option(10_000, help="Consumer group session timeout."),
) -> None:
    """Consume, validate and land events exactly once until stopped; SIGTERM drains and exits 0."""
    from dataplat_ingestion.batch import IngestOptions
    from dataplat_ingestion.service import PROFILES, IngestService, ServiceConfig
    from dataplat_resources import topics as topic_names
    from dataplat_resources.settings import load_settings

    if profile not in PROFILES:
        typer.secho(f"error: unknown profile {profile!r}; choose one of {', '.join(PROFILES)}", fg="red", err=True)
        raise typer.Exit(2)
    chosen = list(topic_names.SOURCE_TOPICS) if topics == "all" else [t.strip() for t in topics.split(",") if t.strip()]
    unknown = [t for t in chosen if t not in topic_names.SOURCE_TOPICS]
    if unknown:
        typer.secho(
            f"error: unknown topics {unknown}; known: {', '.join(topic_names.SOURCE_TOPICS)}", fg="red", err=True
        )
        raise typer.Exit(2)
    settings = load_settings()
    ingestion = settings.ingestion
    service = IngestService(
        ServiceConfig(
            topics=chosen,
            client_config=settings.kafka.client_config(),
            lake_root=settings.lake,
            profile=PROFILES[profile],
            group_id=group_id,
            instance_id=instance_id,
            session_timeout_ms=session_timeout_ms,
            options=IngestOptions(
                max_message_bytes=ingestion.max_message_bytes, enable_validation=ingestion.enable_validation
            ),
            metrics_port=(metrics_port if metrics_port is not None else ingestion.metrics_port)
            if ingestion.enable_monitoring
            else None,
            record_metrics=ingestion.enable_monitoring,
        )
    )
    totals = service.run(duration_s=duration)
    for topic, stats in totals.items():
        s = stats.summary()
        typer.echo(f"{topic:<22} consumed {s['consumed']:>10,}  valid {s['valid']:>10,}  invalid {s['invalid']:>8,}")
