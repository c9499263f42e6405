"""``matches_source_database``: silver's CDC current state (Spark, Delta) against the real shop database.

A CDC burst is generated with the simulators, its valid changes are written to bronze the way
ingestion writes them and turned into silver by the real CDC job; its final state goes into the
database (``shop_server`` in conftest) the way the simulator asset mirrors it."""

from __future__ import annotations

import orjson
import psycopg
import pytest

from dataplat_resources.resources import DeltaLakeResource, PostgresResource, SparkResource
from tests.conftest import ShopServer
from tests.spark_fixtures import Bronze, bronze, layout, spark
from tests.test_postgres import cdc_source

__all__ = ["bronze", "layout", "spark"]

pytestmark = pytest.mark.spark


def _resources(shop_server: ShopServer | None, lake_root: str) -> dict[str, object]:
    s = shop_server.server if shop_server else None
    postgres = (
        PostgresResource(host=s.host, port=s.port, database=shop_server.database, user=s.role, password=s.password)
        if s and shop_server
        else PostgresResource(host="")
    )
    return {
        "spark": SparkResource(master="local[2]"),
        "lake": DeltaLakeResource(lake_uri=lake_root),
        "postgres": postgres,
    }


def test_silver_current_state_matches_the_mirrored_database_and_drift_is_reported(
    spark, layout, bronze: Bronze, shop_server: ShopServer
) -> None:
    import dagster as dg

    from dataplat_assets.processing.checks import compare_with_shop_database, matches_source_database
    from dataplat_processing import run_cdc

    source = cdc_source(seed=13)
    messages = source.take(1_500)
    state = source.final_state()
    bronze.cdc([orjson.loads(m.value) for m in messages if m.invalid_kind is None])
    run_cdc(spark, layout)
    shop = shop_server.shop()
    shop.ensure_schema()
    shop.apply(state.rows, state.deleted)

    ok = compare_with_shop_database(spark, layout, shop)
    assert ok.passed, ok.message
    for table in ("users", "orders"):
        assert ok.figures[f"{table}_matching"] == len(state.rows[table]) > 0
        assert ok.figures[f"{table}_not_in_lake"] == 0
    result = matches_source_database(**_resources(shop_server, layout.root))
    assert result.passed and result.severity == dg.AssetCheckSeverity.WARN
    assert shop.target in result.description and "match" in result.description
    assert result.metadata["users_matching"].value == len(state.rows["users"])

    # Drift: one user changed behind the stream (newer updated_at), one live order gone, one row silver never saw.
    user, order = state.rows["users"][0], state.rows["orders"][-1]
    with psycopg.connect(**_conn(shop_server), autocommit=True) as conn:
        conn.execute("UPDATE public.users SET tier = 'premium', updated_at = now() WHERE id = %s", (user["id"],))
        conn.execute("DELETE FROM public.orders WHERE id = %s", (order["id"],))
        conn.execute(
            "INSERT INTO public.users SELECT id + 1000000000, email, full_name, country, tier, created_at, updated_at "
            "FROM public.users WHERE id = %s",
            (user["id"],),
        )
    drift = compare_with_shop_database(spark, layout, shop)
    assert not drift.passed
    f = drift.figures
    assert (f["users_differing"], f["users_differing_lake_behind"], f["users_not_in_lake"]) == (1, 1, 1)
    assert (f["orders_missing_in_database"], f["orders_differing"]) == (1, 0)
    assert f["sample_ids"] == {
        "users": {"differing": [user["id"]]},
        "orders": {"missing_in_database": [order["id"]]},
    }
    assert "1 differing" in drift.message and "1 missing in database" in drift.message
    result = matches_source_database(**_resources(shop_server, layout.root))
    assert not result.passed and result.severity == dg.AssetCheckSeverity.WARN


def test_without_a_database_the_check_passes_and_says_so(spark, layout) -> None:
    from dataplat_assets.processing.checks import matches_source_database

    result = matches_source_database(**_resources(None, layout.root))
    assert result.passed and "no shop database configured" in (result.description or "")


def test_an_unreachable_database_is_a_warning_naming_the_server(spark, layout, shop_server: ShopServer) -> None:
    import dagster as dg

    from dataplat_assets.processing.checks import matches_source_database

    resources = _resources(shop_server, layout.root)
    s = shop_server.server
    resources["postgres"] = PostgresResource(
        host=s.host, port=s.port, database=shop_server.database, user=s.role, password="not-the-password"
    )
    result = matches_source_database(**resources)
    assert not result.passed and result.severity == dg.AssetCheckSeverity.WARN
    assert "password authentication failed" in result.description and shop_server.database in result.description
    assert "not-the-password" not in result.description and shop_server.server.password not in result.description


def _conn(shop_server: ShopServer) -> dict[str, object]:
    s = shop_server.server
    return {"host": s.host, "port": s.port, "dbname": shop_server.database, "user": s.role, "password": s.password}
