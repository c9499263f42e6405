"""Asset checks on bronze tables. The rules live in :mod:`dataplat_ingestion.checks`; these
functions only read the Delta tables and report.

Blocking checks stop downstream (silver/gold) steps in the same run when they fail with ERROR.
"""

from datetime import UTC, datetime, timedelta

import dagster as dg
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as ds
from deltalake import DeltaTable
from deltalake.exceptions import TableNotFoundError

from dataplat_assets.keys import bronze_key
from dataplat_ingestion import checks as rules
from dataplat_ingestion.arrow_convert import bronze_schema
from dataplat_ingestion.delta_store import progress_app_id
from dataplat_resources import topics
from dataplat_resources.contracts import contract_for
from dataplat_resources.lake import EVENT_DATE, EVENT_ID, INGESTED_AT, KAFKA_OFFSET, KAFKA_PARTITION, UTC_US
from dataplat_resources.resources import DeltaLakeResource

# Share of rejected messages in the latest run that warns, and that fails (blocking) the check.
ERROR_RATE_WARN = 0.05
ERROR_RATE_FAIL = 0.20
# Duplicate ids are looked for in every event date that received rows this many days back.
DUPLICATE_LOOKBACK_DAYS = 3


def _open(uri: str, lake: DeltaLakeResource) -> DeltaTable | None:
    try:
        return DeltaTable(uri, storage_options=lake.storage_options() or None)
    except TableNotFoundError:
        return None


def _missing(uri: str) -> dg.AssetCheckResult:
    return dg.AssetCheckResult(passed=True, description=f"{uri} does not exist yet: nothing to check")


def build_bronze_checks(topic: str) -> list[dg.AssetChecksDefinition]:
    contract = contract_for(topic)
    key = bronze_key(topic)
    name = topics.short_name(topic)

    @dg.asset_check(
        asset=key,
        name="offsets_contiguous",
        blocking=True,
        description=(
            "Across all commits, bronze + quarantine hold every Kafka offset exactly once: no gaps, no overlaps."
        ),
    )
    def offsets_contiguous(lake: DeltaLakeResource) -> dg.AssetCheckResult:
        layout = lake.layout()
        bronze = _open(layout.bronze(topic), lake)
        if bronze is None:
            return _missing(layout.bronze(topic))
        columns = [KAFKA_PARTITION, KAFKA_OFFSET]
        tables = [bronze.to_pyarrow_dataset().to_table(columns=columns)]
        quarantine = _open(layout.quarantine(topic), lake)
        if quarantine is not None:
            tables.append(quarantine.to_pyarrow_dataset().to_table(columns=columns))
        partitions = set(tables[0].column(KAFKA_PARTITION).to_pylist())
        committed = {
            p: v
            for p in partitions
            if (v := bronze.transaction_version(progress_app_id("bronze", topic, p))) is not None
        }
        report = rules.offset_contiguity(tables, committed)
        return dg.AssetCheckResult(
            passed=report.ok,
            severity=dg.AssetCheckSeverity.ERROR,
            description=report.describe(),
            metadata={
                **report.figures(),
                "committed_offsets": dg.MetadataValue.json({str(k): v for k, v in committed.items()}),
            },
        )

    @dg.asset_check(
        asset=key,
        name="no_duplicate_event_id",
        blocking=True,
        description=(
            f"No event_id appears twice within the event dates that received rows in the last "
            f"{DUPLICATE_LOOKBACK_DAYS} days of ingestion (old and new rows of those dates alike)."
        ),
    )
    def no_duplicate_event_id(lake: DeltaLakeResource) -> dg.AssetCheckResult:
        uri = lake.layout().bronze(topic)
        bronze = _open(uri, lake)
        if bronze is None:
            return _missing(uri)
        dataset = bronze.to_pyarrow_dataset()
        since = datetime.now(UTC) - timedelta(days=DUPLICATE_LOOKBACK_DAYS)
        touched = dataset.to_table(columns=[EVENT_DATE], filter=ds.field(INGESTED_AT) >= pa.scalar(since, UTC_US))
        dates = pc.unique(touched.column(EVENT_DATE)).to_pylist()
        ids = dataset.to_table(columns=[EVENT_ID], filter=ds.field(EVENT_DATE).isin(dates)).column(EVENT_ID)
        report = rules.duplicate_ids(ids)
        shown = f"{len(dates)} event dates touched since {since:%Y-%m-%d %H:%M}"
        return dg.AssetCheckResult(
            passed=report.ok,
            severity=dg.AssetCheckSeverity.ERROR,
            description=(
                f"{report.rows} ids in {shown}, all distinct"
                if report.ok
                else f"{report.duplicates} duplicate event_id values in {shown}, e.g. {', '.join(report.examples)}"
            ),
            metadata={
                "rows": report.rows,
                "distinct": report.distinct,
                "duplicates": report.duplicates,
                "event_dates": len(dates),
            },
        )

    @dg.asset_check(
        asset=key,
        name="schema_matches_contract",
        blocking=True,
        description=f"The Delta schema of bronze_{name} equals the one derived from the `{contract.title}` contract.",
    )
    def schema_matches_contract(lake: DeltaLakeResource) -> dg.AssetCheckResult:
        uri = lake.layout().bronze(topic)
        bronze = _open(uri, lake)
        if bronze is None:
            return _missing(uri)
        actual = pa.schema(bronze.schema().to_arrow())  # delta-rs returns arro3; compare as pyarrow
        diff = rules.schema_diff(actual, bronze_schema(contract))  # type: ignore[arg-type]
        return dg.AssetCheckResult(
            passed=diff.ok,
            severity=dg.AssetCheckSeverity.ERROR,
            description=diff.describe(),
            metadata={"columns": len(actual.names)},
        )

    @dg.asset_check(
        asset=key,
        name="error_rate",
        blocking=True,
        description=(
            f"Share of rejected messages in the latest run: WARN above {ERROR_RATE_WARN:.0%}, "
            f"ERROR (blocks downstream) above {ERROR_RATE_FAIL:.0%}."
        ),
    )
    def error_rate(context: dg.AssetCheckExecutionContext) -> dg.AssetCheckResult:
        event = context.instance.get_latest_materialization_event(key)
        metadata = event.asset_materialization.metadata if event and event.asset_materialization else {}
        invalid = int(metadata["invalid"].value) if "invalid" in metadata else 0  # type: ignore[arg-type]
        valid = int(metadata["valid"].value) if "valid" in metadata else 0  # type: ignore[arg-type]
        verdict = rules.error_rate_verdict(invalid, invalid + valid, ERROR_RATE_WARN, ERROR_RATE_FAIL)
        return dg.AssetCheckResult(
            passed=verdict.level == "ok",
            severity=dg.AssetCheckSeverity.ERROR if verdict.level == "error" else dg.AssetCheckSeverity.WARN,
            description=f"{verdict.rate:.2%} of {invalid + valid} messages rejected in the latest run",
            metadata={
                "error_rate": dg.MetadataValue.float(round(verdict.rate, 6)),
                "invalid": invalid,
                "processed": invalid + valid,
                "warn_above": ERROR_RATE_WARN,
                "fail_above": ERROR_RATE_FAIL,
            },
        )

    return [offsets_contiguous, no_duplicate_event_id, schema_matches_contract, error_rate]


bronze_checks = [check for topic in topics.SOURCE_TOPICS for check in build_bronze_checks(topic)]
