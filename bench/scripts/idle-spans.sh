#!/usr/bin/env bash
# Spans an idle host exports: Formanova.Host (embedded Temporal server, PostgreSQL, optionally Redis) exporting traces
# over OTLP/HTTP to bench/scripts/otlp-span-count.py, counted over one idle window after the host is ready.
# Prints the receiver's summary (spans, root spans, by scope, root span names).
# Usage: FORMANOVA_TEST_POSTGRES='Host=127.0.0.1;Username=…;Database=postgres' bench/scripts/idle-spans.sh [seconds, default 60]
# (the host runs on a scratch database created beside the one the connection string names)
# Optional: FORMANOVA_TEST_REDIS (host:port), HOST_DLL (a built Formanova.Host.dll; default: this tree's Debug build),
# PORT/TEMPORAL_PORT/OTLP_PORT (defaults 5104/7304/4404), and any Formanova or OTEL_ variable to compare settings.
# Needs psql (a scratch database is created and dropped), curl and jq.
set -euo pipefail
WINDOW=${1:-60}
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
# shellcheck source=bench/scripts/lib.sh
source "$ROOT/bench/scripts/lib.sh"
HOST_DLL=${HOST_DLL:-$ROOT/Formanova.Host/bin/Debug/net10.0/Formanova.Host.dll}
PORT=${PORT:-5104} TEMPORAL_PORT=${TEMPORAL_PORT:-7304} OTLP_PORT=${OTLP_PORT:-4404}
# shellcheck disable=SC2034 # read by start_host_at and wait_active_version (lib.sh)
FNV=http://127.0.0.1:$PORT
: "${FORMANOVA_TEST_POSTGRES:?set FORMANOVA_TEST_POSTGRES (source /tmp/fnv-shared.env)}"
DB=fnv_idle_spans_$$
# shellcheck disable=SC2001 # a pattern over ;-separated fields: sed says it more plainly than ${var//…}
CONNECTION=$(echo "$FORMANOVA_TEST_POSTGRES" | sed "s/Database=[^;]*/Database=$DB/")
ADMIN=$(echo "$FORMANOVA_TEST_POSTGRES" | tr ';' '\n' | sed -n 's/^Host=/host=/p;s/^Port=/port=/p;s/^Username=/user=/p;s/^Password=/password=/p' | tr '\n' ' ')
bench_begin idle-spans
bench_cleanup_hook() { psql "$ADMIN dbname=postgres" -qc "DROP DATABASE IF EXISTS $DB WITH (FORCE)" > /dev/null; }
psql "$ADMIN dbname=postgres" -qc "CREATE DATABASE $DB" > /dev/null
python3 "$ROOT/bench/scripts/otlp-span-count.py" "$OTLP_PORT" &
BENCH_PIDS+=($!)
REDIS_SETTING=()
[ -n "${FORMANOVA_TEST_REDIS:-}" ] && REDIS_SETTING=(Cache__Redis="$FORMANOVA_TEST_REDIS")
# The bench's own host settings turn rate limiting off; idle, nothing reaches the limiter either way.
start_host_at "$WORK/data" "$WORK/host.log" Database__Provider=Postgres Database__ConnectionString="$CONNECTION" \
  "${REDIS_SETTING[@]}" OTEL_EXPORTER_OTLP_ENDPOINT="http://127.0.0.1:$OTLP_PORT" OTEL_EXPORTER_OTLP_PROTOCOL=http/protobuf
# Start-up (migrations, the demo model's training, the preload) is not idle: wait for the demo model, let the last
# start-up spans be exported (the batch exporter ships every 5 s), then count.
wait_active_version demo-churn
sleep 6
curl -sf -X POST "http://127.0.0.1:$OTLP_PORT/reset" > /dev/null
# In a steady state, what is exported in the window is what was made in one window (the batch exporter ships every 5 s).
sleep "$WINDOW"
curl -sf "http://127.0.0.1:$OTLP_PORT/stats"
