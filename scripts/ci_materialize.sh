#!/usr/bin/env bash
# The CI recipe: what a CI job runs to materialize dataplat and gate on its asset checks.
#
#   scripts/ci_materialize.sh [events-per-simulator]
#
# 1. start Kafka (or, with KAFKA_BOOTSTRAP_SERVER naming another cluster, just create topics);
# 2. a burst of every simulator;
# 3. `dagster asset materialize`, tier by tier: bronze, silver, then gold per partition range;
# 4. the asset-check report (Markdown + JSON); exit 1 when an ERROR-severity check failed.
#
# Needs: `make setup` done (or the equivalent), Java 17. Uses $DAGSTER_HOME if set (a fresh temp
# instance otherwise) and writes the report to ${REPORT_DIR:-test-output/ci-report}. Like every
# Dagster command it reads ./.env from the directory it is started in (run it from the repo root).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BIN=${BIN:-$ROOT/.venv/bin}
EVENTS=${1:-2000}
REPORT_DIR=${REPORT_DIR:-test-output/ci-report}
export DAGSTER_HOME=${DAGSTER_HOME:-$(mktemp -d)}
mkdir -p "$DAGSTER_HOME"
[ -f "$DAGSTER_HOME/dagster.yaml" ] || cp "$ROOT/infra/dagster/dagster.yaml" "$DAGSTER_HOME/dagster.yaml"
materialize() { "$BIN/dagster" asset materialize -m dataplat.definitions "$@"; }

echo "== Kafka"
"$BIN/dataplat" kafka start

echo "== simulators -> Kafka ($EVENTS events each)"
ops=""
for source in mobile_app web postgres_cdc clickstream external_data; do
  ops+="${ops:+,}\"${source}_simulator\": {\"config\": {\"events\": $EVENTS}}"
done
materialize --select 'group:sources' --config-json "{\"ops\": {$ops}}"

echo "== Kafka -> bronze"
materialize --select 'group:bronze'

echo "== bronze -> silver (Spark)"
materialize --select 'group:silver'

echo "== silver -> gold (the hours and days the burst covers)"
# Bursts replay the last hour, so the previous and the current hour (and their days) hold the data.
first_hour=$(date -u -d '-1 hour' +%Y-%m-%d-%H:00)
this_hour=$(date -u +%Y-%m-%d-%H:00)
first_day=$(date -u -d '-1 hour' +%Y-%m-%d)
today=$(date -u +%Y-%m-%d)
materialize --select gold_hourly_aggregates --partition-range "$first_hour...$this_hour"
materialize --select gold_daily_summary --partition-range "$first_day...$today"
materialize --select gold_user_segments --partition "$today"

echo "== asset-check report"
"$BIN/dataplat" report --out "$REPORT_DIR"
