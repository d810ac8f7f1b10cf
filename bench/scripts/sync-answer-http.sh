#!/usr/bin/env bash
# The synchronous POST /api/v1/predictions in both shapes (Workflows:SyncAnswer) on the shipped host: Formanova.Host
# in Release with its default settings (rate limiting off, so wrk measures the path and not the per-key limit), over
# HTTP on loopback, under wrk. `Result` waits for the whole ProcessingWorkflow; `Early` answers from the
# await_answer update while persistence and events finish in the workflow. Each round starts a fresh host per shape,
# alternating, and reports req/s, latency p50/p99 (wrk --latency) and the host's CPU per request (/proc utime+stime).
# Usage: bench/scripts/sync-answer-http.sh [seconds per wrk run, default 10] [rounds, default 2]   (needs wrk, jq, curl)
set -euo pipefail
SECONDS_PER_RUN=${1:-10}
ROUNDS=${2:-2}
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
# shellcheck source=bench/scripts/lib.sh
source "$ROOT/bench/scripts/lib.sh"
bench_begin sync-answer
PORT=5097 TEMPORAL_PORT=7297
FNV=http://127.0.0.1:$PORT
TICKS=$(getconf CLK_TCK)
build_release_host
input="{$DEMO_INPUT,\"feedback\":\"too expensive\"}"
write_post_lua "$WORK/predict.lua" "{\"model\":\"demo-churn\",\"inputs\":$input}"

start_host() {
  rm -rf "$WORK/data"
  start_host_at "$WORK/data" "$WORK/host-$1.log" Workflows__SyncAnswer="$1"
  until [ "$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $KEY" -H 'Content-Type: application/json' \
    $FNV/api/v1/predictions -d "{\"model\":\"demo-churn\",\"inputs\":$input}")" = 200 ]; do sleep 1; done
  # Warm-up: the JIT and the sticky worker cache, not measured.
  wrk -t1 -c8 -d5s -s "$WORK/predict.lua" $FNV/api/v1/predictions > /dev/null
}
measure() {
  local shape=$1 conns=$2 before after out
  before=$(cpu_ticks "$HOST")
  out=$(wrk -t"$([ "$conns" = 1 ] && echo 1 || echo 2)" -c"$conns" -d"${SECONDS_PER_RUN}s" --latency -s "$WORK/predict.lua" \
    $FNV/api/v1/predictions)
  after=$(cpu_ticks "$HOST")
  awk -v shape="$shape" -v c="$conns" -v ticks="$TICKS" -v cpu=$((after - before)) '
    / 50%/ {p50 = $2} / 99%/ {p99 = $2} /requests in/ {n = $1} /Requests\/sec/ {rate = $2}
    /Non-2xx/ {bad = $NF}
    END {printf "%-6s c=%-2s %8.1f req/s  p50 %-8s p99 %-8s cpu %.2f ms/req  non-2xx %d\n", shape, c, rate, p50, p99,
      cpu * 1000 / ticks / n, bad}' <<< "$out"
}
load_report before
for _ in $(seq 1 "$ROUNDS"); do
  for shape in Result Early; do
    start_host $shape
    measure $shape 1
    measure $shape 32
    stop_host
  done
done
load_report after
