#!/usr/bin/env bash
# CSV import against raw bulk inserts of the same rows in the same run (issue 27): ROWS rows of demo-churn's 12 columns
# (bench/scripts/import-fixture.sh) posted over HTTP to Formanova.Host on SQLite and on PostgreSQL, then the floors
# (bench/Formanova.Bench.Data --import-baselines): the same rows, typed in memory before the clock starts, into a plain
# 12-column table, by prepared multi-row INSERTs in one transaction on SQLite (the product's pragmas), bound by position
# on SQLite's handle as the product binds (and, for comparison, by name through Microsoft.Data.Sqlite), and by one
# binary COPY on PostgreSQL. Each figure is the median of RUNS imports; a ratio is the import's rows/s over the floor's.
# Usage: bench/scripts/import.sh [rows, 1000000] [runs, 3]
# Environment:
#   HOST_DLL                  the host to run (default: a Release build of Formanova.Host, built here)
#   IMPORT_CSV                an existing fixture file to use (shipped.sh passes its own); written here otherwise
#   IMPORT_SQLITE_RATE        the SQLite import's rows/s measured already (shipped.sh); the SQLite host run is skipped
#   FORMANOVA_BENCH_POSTGRES  an admin connection string; without it a throwaway cluster is started with
#                             scripts/test-services.sh (root; ports IMPORT_PG_PORT 55440 / IMPORT_REDIS_PORT 56390)
#   IMPORT_SKIP_POSTGRES=1    SQLite only
# Ports: host 5114, embedded Temporal 7314. Quiet machine: check `uptime` before and after (docs/benchmarks.md).
set -euo pipefail
ROWS=${1:-1000000} RUNS=${2:-3}
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
# shellcheck source=bench/scripts/import-fixture.sh
source "$ROOT/bench/scripts/import-fixture.sh"
# shellcheck source=bench/scripts/lib.sh
source "$ROOT/bench/scripts/lib.sh"
bench_begin import
FNV=http://127.0.0.1:5114 TEMPORAL_PORT=7314
BENCH_DLL=$ROOT/bench/Formanova.Bench.Data/bin/Release/net10.0/Formanova.Bench.Data.dll
SERVICES='' PG='' PG_DB=''
# After the host is stopped: the scratch database, then the throwaway cluster.
bench_cleanup_hook() {
  [ -n "$PG_DB" ] && dotnet "$BENCH_DLL" --postgres "$PG" --drop-database "$PG_DB" > /dev/null 2>&1
  [ -n "$SERVICES" ] && FORMANOVA_SERVICES_DIR=$SERVICES FORMANOVA_PG_PORT=${IMPORT_PG_PORT:-55440} \
    FORMANOVA_REDIS_PORT=${IMPORT_REDIS_PORT:-56390} "$ROOT/scripts/test-services.sh" stop && rm -rf "$SERVICES"
}
load_report before
[ -n "${HOST_DLL:-}" ] || build_release_host
dotnet build -c Release "$ROOT/bench/Formanova.Bench.Data" -v q > /dev/null
CSV=${IMPORT_CSV:-$WORK/rows.csv}
[ -f "$CSV" ] || write_import_csv "$CSV" "$ROWS"
ROWS=$(( $(wc -l < "$CSV") - 1 ))
printf '%s' "$IMPORT_COLUMNS" > "$WORK/columns.json"

if [ "${IMPORT_SKIP_POSTGRES:-0}" != 1 ]; then
  PG=${FORMANOVA_BENCH_POSTGRES:-}
  if [ -z "$PG" ]; then
    SERVICES=/tmp/formanova-import-services-$$
    PG=$(FORMANOVA_SERVICES_DIR=$SERVICES FORMANOVA_PG_PORT=${IMPORT_PG_PORT:-55440} FORMANOVA_REDIS_PORT=${IMPORT_REDIS_PORT:-56390} \
      "$ROOT/scripts/test-services.sh" start | sed -n "s/^export FORMANOVA_TEST_POSTGRES='\(.*\)'$/\1/p")
  fi
fi

# start_host NAME [VAR=VALUE...]: the host with its defaults, rate limiting and the demo model's training off.
start_host() { start_host_at "$WORK/data-$1" "$WORK/host-$1.log" Model__Bootstrap__Enabled=false "${@:2}"; }
# import_median NAME: RUNS imports of the file into new datasets of the running host, the median rows/s.
import_median() {
  local rates='' rate
  for run in $(seq 1 "$RUNS"); do
    read -r rate _ < <(import_rows "$FNV" "$KEY" "$CSV" "$1-$run")
    echo "$1 import $run: $rate rows/s; load $(cut -d' ' -f1 /proc/loadavg)" >&2
    rates+="$rate "
  done
  median "$rates"
}

sqlite_rate=${IMPORT_SQLITE_RATE:-}
if [ -z "$sqlite_rate" ]; then
  start_host sqlite
  sqlite_rate=$(import_median sqlite)
  stop_host
fi
pg_rate='skipped'
if [ -n "$PG" ]; then
  PG_DB=$(dotnet "$BENCH_DLL" --postgres "$PG" --create-database)
  start_host postgres Database__Provider=Postgres Database__ConnectionString="$PG_DB"
  pg_rate=$(import_median postgres)
  stop_host
fi
raw=$(dotnet "$BENCH_DLL" --import-baselines --file "$CSV" --columns "$WORK/columns.json" --runs "$RUNS" ${PG:+--postgres "$PG"})
read -r raw_sqlite per_statement < <(awk '$1 == "sqlite" {print $2, $3}' <<< "$raw")
raw_by_name=$(awk '$1 == "sqlite-by-name" {print $2}' <<< "$raw")
raw_pg=$(awk '$1 == "postgres" {print $2}' <<< "$raw")
load_report after
ratio() { [[ "$1" =~ ^[0-9.]+$ && "$2" =~ ^[0-9.]+$ ]] && printf '%.2f' "$(jq -n "$1 / $2")" || echo '-'; }
cat <<TABLE

| CSV import, $ROWS rows x 12 columns (median of $RUNS) | Import rows/s | Raw floor rows/s | Ratio | Target |
| --- | --- | --- | --- | --- |
| SQLite: HTTP import / prepared $per_statement-row INSERTs bound by position, one transaction | $sqlite_rate | $raw_sqlite | $(ratio "$sqlite_rate" "$raw_sqlite") | >= 0.6 |
| SQLite, the earlier floor: the same INSERTs bound by name (Microsoft.Data.Sqlite, 8-row) | $sqlite_rate | ${raw_by_name:--} | $(ratio "$sqlite_rate" "$raw_by_name") | |
| PostgreSQL: HTTP import / binary COPY | $pg_rate | ${raw_pg:--} | $(ratio "$pg_rate" "$raw_pg") | |
TABLE
