"""CDC: LSN-ordered MERGE, update before insert, delete and re-insert, tombstones, SCD2 history, replay."""

from __future__ import annotations

from pyspark.sql import functions as F

from dataplat_processing import check_cdc_zero_drift, current_state, register_live_views, run_cdc
from dataplat_processing._facts import from_spark
from dataplat_processing.tables import CDC_JOB
from tests.spark_fixtures import change, order_row, ts, uncommit_last_batch, user_row


def _current(spark, layout, name: str) -> dict[int, object]:
    return {r.id: r for r in spark.read.format("delta").load(layout.silver(name)).collect()}


def _history(spark, layout, table: str, key: int) -> list:
    df = spark.read.format("delta").load(layout.silver("cdc_history"))
    return df.where((F.col("source_table") == table) & (F.col("id") == key)).orderBy("lsn").collect()


def test_cdc_ordering_tombstones_history_and_replay(spark, layout, bronze):
    # batch 1: u1 inserted; u2's UPDATE (lsn 30) arrives before its INSERT (lsn 20); u3 inserted and deleted;
    # o1 inserted
    bronze.cdc(
        [
            change("users", "c", 10, after=user_row(1)),
            change("users", "u", 30, before=user_row(2), after=user_row(2, tier="premium", when=ts(1))),
            change("users", "c", 40, after=user_row(3)),
            change("users", "d", 50, before=user_row(3)),
            change("orders", "c", 15, after=order_row(1)),
        ]
    )
    first = run_cdc(spark, layout)
    assert (first.changes, first.users_changes, first.orders_changes, first.deletes) == (5, 4, 1, 1)
    users = _current(spark, layout, "cdc_users_current")
    assert (users[2].tier, users[2].lsn, users[2].is_deleted) == ("premium", 30, False)
    assert (users[3].is_deleted, users[3].lsn, users[3].email) == (True, 50, "user3@example.com")

    # batch 2: u2's late INSERT (lower LSN) is ignored; a stale update of deleted u3 must not resurrect it;
    # u1 deleted
    bronze.cdc(
        [
            change("users", "c", 20, after=user_row(2)),
            change("users", "u", 45, before=user_row(3), after=user_row(3, tier="plus", when=ts(1))),
            change("users", "d", 60, before=user_row(1)),
        ]
    )
    run_cdc(spark, layout)
    users = _current(spark, layout, "cdc_users_current")
    assert (users[2].tier, users[2].lsn) == ("premium", 30)
    assert (users[3].is_deleted, users[3].lsn, users[3].tier) == (True, 50, "free")
    assert users[1].is_deleted and from_spark(users[1].deleted_at) == ts(60 / 1000)

    # batch 3: u1 re-inserted (higher LSN) -> live again; o1 paid
    bronze.cdc(
        [
            change("users", "c", 70, after=user_row(1, email="back@example.com", when=ts(2))),
            change("orders", "u", 80, before=order_row(1), after=order_row(1, status="paid", when=ts(2))),
        ]
    )
    third = run_cdc(spark, layout)
    assert third.history_versions == 2
    users = _current(spark, layout, "cdc_users_current")
    assert (users[1].is_deleted, users[1].email, users[1].lsn, users[1].deleted_at) == (
        False,
        "back@example.com",
        70,
        None,
    )
    orders = _current(spark, layout, "cdc_orders_current")
    assert (orders[1].status, orders[1].lsn, orders[1].total_amount) == ("paid", 80, 20.0)
    live = {r.id for r in current_state(spark, layout, "users").collect()}
    assert live == {1, 2}
    assert set(register_live_views(spark, layout)) == {"cdc_users_live", "cdc_orders_live"}
    assert spark.sql("SELECT count(*) FROM cdc_users_live").first()[0] == 2

    # SCD2 history: every version, slotted in LSN order whatever the arrival order
    u2 = _history(spark, layout, "users", 2)
    assert [(v.lsn, v.op, v.is_current) for v in u2] == [(20, "c", False), (30, "u", True)]
    assert u2[0].valid_to == u2[1].valid_from and u2[1].valid_to is None
    u3 = _history(spark, layout, "users", 3)
    assert [(v.lsn, v.op, v.is_deleted, v.is_current) for v in u3] == [
        (40, "c", False, False),
        (45, "u", False, False),
        (50, "d", True, True),
    ]
    u1 = _history(spark, layout, "users", 1)
    assert [(v.lsn, v.is_current) for v in u1] == [(10, False), (60, False), (70, True)]
    assert u1[-1].row.email == "back@example.com"

    check = check_cdc_zero_drift(spark, layout)
    assert check.passed, check
    assert check.figures["history_versions"] == 10 and check.figures["users_rows"] == 3

    # replay of batch 3: idempotent
    uncommit_last_batch(CDC_JOB.checkpoint(layout))
    replay = run_cdc(spark, layout)
    assert replay.batches == 1 and replay.history_versions == 0
    assert check_cdc_zero_drift(spark, layout).passed

    # failing case: the current table drifts from the change log
    spark.sql(f"UPDATE delta.`{layout.silver('cdc_users_current')}` SET tier = 'plus' WHERE id = 2")
    bad = check_cdc_zero_drift(spark, layout)
    assert not bad.passed and bad.figures["users_drift"] == 1


def test_delete_and_reinsert_in_one_batch_and_snapshot_reads(spark, layout, bronze):
    bronze.cdc(
        [
            change("users", "r", 5, after=user_row(7)),  # snapshot read
            change("users", "d", 6, before=user_row(7)),
            change("users", "c", 9, after=user_row(7, tier="plus")),
            change("orders", "r", 5, after=order_row(4)),
            change("orders", "d", 8, before=order_row(4)),  # deleted: tombstone, not live
        ]
    )
    run_cdc(spark, layout)
    assert [(r.id, r.tier) for r in current_state(spark, layout, "users").collect()] == [(7, "plus")]
    assert current_state(spark, layout, "orders").count() == 0
    assert current_state(spark, layout, "orders", include_deleted=True).count() == 1
    assert check_cdc_zero_drift(spark, layout).passed
