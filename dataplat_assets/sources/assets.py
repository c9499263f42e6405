"""Simulators as assets (materializing one produces a burst) and Kafka topics as external assets.

The ``postgres_cdc`` simulator also keeps the shop database that its stream describes: with
``POSTGRES_HOST`` set, each burst's final rows are mirrored into ``public.users``/``public.orders``
(see :mod:`dataplat_resources.postgres`). The schema is ensured *before* producing, so an
unreachable or misshapen database fails the run before Kafka receives changes it cannot hold.
"""

from typing import TYPE_CHECKING, Any

import dagster as dg
from pydantic import Field

from dataplat_assets.keys import OWNERS, SIMULATOR_TOPICS, simulator_key, topic_key
from dataplat_resources import topics
from dataplat_resources.contracts import contract_for
from dataplat_resources.resources import KafkaResource, PostgresResource

if TYPE_CHECKING:
    from dataplat_resources.postgres import ShopDatabase
    from simulators.producer import BurstResult

CDC_SOURCE = "postgres_cdc"

SIMULATOR_DESCRIPTIONS = {
    "mobile_app": "Mobile app sessions (iOS/Android): screens, searches, product funnel, purchases.",
    "web": "Website sessions: page views, searches, product funnel, purchases.",
    "postgres_cdc": "Debezium-style change events of the shop database (users, orders), in LSN order. "
    "With POSTGRES_HOST set, the burst's final rows are mirrored into that database.",
    "clickstream": "Page-by-page navigation paths with clicks and scrolls.",
    "external_data": "Batches of weather, maps/location, social trend and market records.",
}


class BurstConfig(dg.Config):
    """One burst of simulated traffic."""

    events: int = Field(default=2_000, ge=1, le=10_000_000, description="How many events to produce.")
    seed: int | None = Field(
        default=None, description="Seed for reproducible traffic. Unset: a fresh seed per run (new event ids)."
    )
    invalid_fraction: float = Field(default=0.01, ge=0.0, le=1.0, description="Share of deliberately invalid records.")
    late_fraction: float = Field(default=0.05, ge=0.0, le=1.0, description="Share of late or out-of-order events.")
    world_seed: int = Field(
        default=7,
        description="Seed of the simulated world (users, products, cities). Fixed by default so every burst "
        "describes the same users, whatever its event seed.",
    )


def _seed_for(config: BurstConfig, run_id: str) -> int:
    return config.seed if config.seed is not None else int(run_id.replace("-", "")[:12], 16)


def _burst(
    context: dg.AssetExecutionContext, config: BurstConfig, kafka: KafkaResource, source: str
) -> tuple["BurstResult", dict[str, Any]]:
    """Produce one burst; returns it and the metadata every simulator reports."""
    from simulators import build_world
    from simulators.producer import run_burst

    seed = _seed_for(config, context.run.run_id)
    result = run_burst(
        source,
        config.events,
        seed=seed,
        world=build_world(config.world_seed),
        settings=kafka.settings(),
        invalid_fraction=config.invalid_fraction,
        late_fraction=config.late_fraction,
    )
    context.log.info(f"{source}: produced {result.produced} events to {result.topic} in {result.elapsed_s:.2f}s")
    metadata: dict[str, Any] = {
        "topic": result.topic,
        "events": dg.MetadataValue.int(result.produced),
        "invalid": dg.MetadataValue.int(result.invalid),
        "invalid_fraction": dg.MetadataValue.float(result.invalid / result.produced if result.produced else 0.0),
        "invalid_by_kind": dg.MetadataValue.json(dict(result.invalid_by_kind)),
        "offset_ranges": dg.MetadataValue.json(
            {str(p): {"first": first, "last": last} for p, (first, last) in sorted(result.offsets.items())}
        ),
        "seed": dg.MetadataValue.int(seed),
        "world_seed": dg.MetadataValue.int(config.world_seed),
        "events_per_s": dg.MetadataValue.float(
            round(result.produced / result.elapsed_s, 1) if result.elapsed_s else 0.0
        ),
    }
    return result, metadata


def _mirror(
    context: dg.AssetExecutionContext, shop: "ShopDatabase", result: "BurstResult", metadata: dict[str, Any]
) -> dict[str, Any]:
    """Apply the burst's final state to the shop database (one transaction, idempotent)."""
    from dataplat_resources.postgres import ShopDatabaseError

    state = result.final_state
    if state is None:  # run_burst always sets it for postgres_cdc
        raise RuntimeError(f"the {result.source} burst did not report its final state")
    try:
        applied = shop.apply(state.rows, state.deleted)
    except ShopDatabaseError as exc:
        # Kafka already has the burst: say so, so nobody re-runs expecting the same changes.
        raise dg.Failure(
            description=f"{exc}. The burst was produced to {result.topic} but is NOT in the shop database, "
            "which now lags its change stream (the matches_source_database check will flag the rows).",
            metadata=metadata,
        ) from None
    tables = applied.tables
    context.log.info(
        f"mirrored into {shop.target}: "
        + ", ".join(f"{t} {r.upserted} upserted/{r.deleted} deleted" for t, r in tables.items())
        + f" in {applied.elapsed_s:.2f}s"
    )
    out: dict[str, Any] = {"shop_database": shop.target}
    for table, r in tables.items():
        out[f"postgres_{table}_upserted"] = dg.MetadataValue.int(r.upserted)
        out[f"postgres_{table}_deleted"] = dg.MetadataValue.int(r.deleted)
    out["postgres_mirror"] = dg.MetadataValue.json(
        {
            **{t: {**vars(r), "upserted": r.upserted} for t, r in tables.items()},
            "elapsed_s": round(applied.elapsed_s, 3),
        }
    )
    return out


def build_simulator_asset(source: str) -> dg.AssetsDefinition:
    topic = SIMULATOR_TOPICS[source]
    asset = dg.asset(
        key=simulator_key(source),
        group_name="sources",
        kinds={"python", "kafka"},
        owners=OWNERS,
        description=SIMULATOR_DESCRIPTIONS[source] + f" Produces to `{topic}`.",
        tags={"dataplat/tier": "source"},
    )

    if source == CDC_SOURCE:

        @asset
        def _cdc_simulator(
            context: dg.AssetExecutionContext, config: BurstConfig, kafka: KafkaResource, postgres: PostgresResource
        ) -> dg.MaterializeResult:
            shop = postgres.shop() if postgres.configured else None
            if shop is not None:
                created = shop.ensure_schema()  # before producing: fail while nothing is in Kafka yet
                if created:
                    context.log.info(f"created {', '.join(created)} in {shop.target}")
            result, metadata = _burst(context, config, kafka, source)
            if shop is None:
                metadata["shop_database"] = "not configured (POSTGRES_HOST is empty): nothing mirrored"
            else:
                metadata.update(_mirror(context, shop, result, metadata))
            return dg.MaterializeResult(metadata=metadata)

        return _cdc_simulator

    @asset
    def _simulator(
        context: dg.AssetExecutionContext, config: BurstConfig, kafka: KafkaResource
    ) -> dg.MaterializeResult:
        _, metadata = _burst(context, config, kafka, source)
        return dg.MaterializeResult(metadata=metadata)

    return _simulator


def topic_spec(topic: str) -> dg.AssetSpec:
    contract = contract_for(topic)
    producers = [simulator_key(s) for s, t in SIMULATOR_TOPICS.items() if t == topic]
    return dg.AssetSpec(
        key=topic_key(topic),
        deps=producers,
        group_name="kafka",
        kinds={"kafka"},
        owners=OWNERS,
        description=(
            f"Kafka topic `{topic}` carrying `{contract.title}` messages (JSON, keyed by "
            f"{contract.key_description}). Rejected messages go to `{topics.dlq_topic(topic)}`."
        ),
        metadata={
            "dead_letter_topic": topics.dlq_topic(topic),
            "contract": contract.title,
            "json_schema": dg.MetadataValue.path(f"dataplat_resources/contracts/schemas/{topic}.json"),
        },
        tags={"dataplat/tier": "kafka"},
    )


simulator_assets = [build_simulator_asset(source) for source in SIMULATOR_TOPICS]
topic_specs = [topic_spec(topic) for topic in topics.SOURCE_TOPICS]
