"""``dataplat kafka start|stop|status|restart``: the project's own Kafka broker."""

from __future__ import annotations

import sys

import typer

app = typer.Typer(
    help="Run the local single-node Kafka broker (KRaft) and create the platform's topics.", no_args_is_help=True
)


def _broker():
    from dataplat_resources.local_kafka import LocalKafkaBroker
    from dataplat_resources.settings import load_settings

    settings = load_settings()
    return settings, LocalKafkaBroker.from_settings(settings.kafka, settings.kafka_dir, settings.jars_dir)


def _fail(message: str) -> None:
    typer.secho(f"error: {message}", fg=typer.colors.RED, err=True)
    raise typer.Exit(code=1)


def _create_topics(settings) -> None:  # noqa: ANN001
    from dataplat_resources.kafka_client import KafkaUnavailableError, ensure_platform_topics

    try:
        changes = ensure_platform_topics(settings.kafka)
    except KafkaUnavailableError as exc:
        _fail(str(exc))
    for change in changes:
        typer.echo(f"  {change.topic:<28} {change.partitions:>3} partitions  {change.action}")


@app.command()
def start(timeout: float = typer.Option(90.0, help="Seconds to wait for the broker to accept connections.")) -> None:
    """Start the broker (formatting its storage the first time), wait until ready, create topics."""
    from dataplat_resources.local_kafka import BrokerError

    settings, broker = _broker()
    if settings.kafka.is_external:
        typer.echo(f"KAFKA_BOOTSTRAP_SERVER is set: using {settings.kafka.bootstrap_servers}, nothing started.")
    else:
        try:
            status = broker.start(ready_timeout_s=timeout)
        except BrokerError as exc:
            _fail(str(exc))
        typer.echo(status.describe())
    _create_topics(settings)


@app.command()
def stop() -> None:
    """Stop the local broker gracefully."""
    settings, broker = _broker()
    if settings.kafka.is_external:
        typer.echo(f"KAFKA_BOOTSTRAP_SERVER is set ({settings.kafka.bootstrap_servers}): nothing of ours to stop.")
        return
    stopped = broker.stop()
    typer.echo("Kafka broker stopped." if stopped else "Kafka broker was not running.")


@app.command()
def restart(timeout: float = typer.Option(90.0)) -> None:
    """Stop, then start the local broker."""
    stop()
    start(timeout=timeout)


@app.command()
def status() -> None:
    """Is the broker up? Which topics, with how many partitions and messages? Exits 1 when down."""
    from dataplat_resources.kafka_client import (
        KafkaUnavailableError,
        admin_client,
        check_reachable,
        metadata_consumer,
        platform_topic_plan,
        watermarks,
    )

    settings, broker = _broker()
    if not settings.kafka.is_external:
        local = broker.status()
        typer.echo(local.describe())
        if not local.running:
            raise typer.Exit(code=1)
    admin = admin_client(settings.kafka)
    try:
        check_reachable(admin, settings.kafka.bootstrap_servers, timeout_s=5.0)
    except KafkaUnavailableError as exc:
        _fail(str(exc))
    metadata = admin.list_topics(timeout=5.0)
    consumer = metadata_consumer(settings.kafka, "status")
    try:
        for topic in platform_topic_plan(settings.kafka):
            found = metadata.topics.get(topic)
            if found is None:
                typer.echo(f"  {topic:<28} missing (run `dataplat kafka start`)")
                continue
            marks = watermarks(consumer, topic, found.partitions)
            messages = sum(high - low for low, high in marks.values())
            typer.echo(f"  {topic:<28} {len(found.partitions):>3} partitions  {messages:>12,} messages")
    finally:
        consumer.close()
    sys.stdout.flush()
