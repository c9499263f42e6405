"""Table maintenance for the tables ingestion writes with delta-rs (bronze, quarantine, metrics).

An op rather than an asset: compaction rewrites files, not data. The schedule is in
``dataplat_sensors.schedules``; the rules are in :mod:`dataplat_ingestion.maintenance`.
"""

import dagster as dg

from dataplat_ingestion.maintenance import maintain_table
from dataplat_resources import topics
from dataplat_resources.resources import DeltaLakeResource


@dg.op(description="Compact small files (past a threshold), checkpoint the log and vacuum old files.")
def compact_delta_tables(context: dg.OpExecutionContext, lake: DeltaLakeResource) -> dict[str, dict[str, object]]:
    layout = lake.layout()
    uris = [layout.bronze(t) for t in topics.SOURCE_TOPICS] + [layout.quarantine(t) for t in topics.SOURCE_TOPICS]
    uris.append(layout.ingestion_metrics)
    done: dict[str, dict[str, object]] = {}
    for uri in uris:
        result = maintain_table(uri, lake.storage_options())
        if result is not None:
            done[uri] = result.as_dict()
            context.log.info(f"{uri}: {result.files_before} -> {result.files_after} files")
    context.add_output_metadata({"tables": dg.MetadataValue.json(done)})
    return done


@dg.job(description="Keep the ingestion tables fast: compaction, checkpoints, vacuum.")
def delta_maintenance_job() -> None:
    compact_delta_tables()
