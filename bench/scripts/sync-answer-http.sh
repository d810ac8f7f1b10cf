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
WORK=$(mktemp -d /tmp/formanova-sync-answer-XXXX)
PORT=5097 KEY=bench-key-0123456789abcdef0123
FNV=http://127.0.0.1:$PORT
TICKS=$(getconf CLK_TCK)
dotnet build -c Release "$ROOT/Formanova.Host" -v q > /dev/null
HOST=
trap '[ -n "$HOST" ] && kill $HOST 2>/dev/null; wait 2>/dev/null; rm -rf "$WORK"' EXIT
input='{"tenure_months":3,"monthly_charges":95.5,"total_charges":286.5,"support_calls":4,"age":33,"data_usage_gb":12.5,
  "contract":"month-to-month","payment_method":"electronic-check","paperless_billing":true,"has_partner":false,"feedback":"too expensive"}'
printf 'wrk.method = "POST"\nwrk.headers["Content-Type"] = "application/json"\nwrk.headers["Authorization"] = "Bearer %s"\nwrk.body = %s\n' \
  "$KEY" "$(jq -Rs . <<< "{\"model\":\"demo-churn\",\"inputs\":$input}")" > "$WORK/predict.lua"

start_host() {
  rm -rf "$WORK/data"
  Formanova__DataDirectory=$WORK/data Auth__BootstrapKey=$KEY ASPNETCORE_URLS=$FNV Temporal__Embedded__Port=7297 \
    RateLimiting__Enabled=false Workflows__SyncAnswer=$1 \
    dotnet "$ROOT/Formanova.Host/bin/Release/net10.0/Formanova.Host.dll" > "$WORK/host-$1.log" 2>&1 &
  HOST=$!
  until curl -sf $FNV/health/ready > /dev/null; do sleep 1; done
  until [ "$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $KEY" -H 'Content-Type: application/json' \
    $FNV/api/v1/predictions -d "{\"model\":\"demo-churn\",\"inputs\":$input}")" = 200 ]; do sleep 1; done
  # Warm-up: the JIT and the sticky worker cache, not measured.
  wrk -t1 -c8 -d5s -s "$WORK/predict.lua" $FNV/api/v1/predictions > /dev/null
}
stop_host() { kill $HOST; wait $HOST 2>/dev/null || true; HOST=; }
cpu() { awk '{print $14 + $15}' /proc/$HOST/stat; }
measure() {
  local shape=$1 conns=$2 before after out
  before=$(cpu)
  out=$(wrk -t"$([ "$conns" = 1 ] && echo 1 || echo 2)" -c"$conns" -d"${SECONDS_PER_RUN}s" --latency -s "$WORK/predict.lua" \
    $FNV/api/v1/predictions)
  after=$(cpu)
  awk -v shape="$shape" -v c="$conns" -v ticks="$TICKS" -v cpu=$((after - before)) '
    / 50%/ {p50 = $2} / 99%/ {p99 = $2} /requests in/ {n = $1} /Requests\/sec/ {rate = $2}
    /Non-2xx/ {bad = $NF}
    END {printf "%-6s c=%-2s %8.1f req/s  p50 %-8s p99 %-8s cpu %.2f ms/req  non-2xx %d\n", shape, c, rate, p50, p99,
      cpu * 1000 / ticks / n, bad}' <<< "$out"
}
echo "load before: $(cut -d' ' -f1-3 /proc/loadavg)"
for _ in $(seq 1 "$ROUNDS"); do
  for shape in Result Early; do
    start_host $shape
    measure $shape 1
    measure $shape 32
    stop_host
  done
done
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)"
