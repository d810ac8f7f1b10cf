#!/usr/bin/env bash
# The dashboard on the shipped host (Formanova.Host in Release, embedded defaults, loopback only), in two figures:
#  1. time to first render of the overview (GET /ui, signed in) with WORKFLOWS runs and VERSIONS model versions stored;
#  2. the host's CPU with DASHBOARDS overview pages open (their live streams, /ui/live/overview) against the same host
#     idle with none, each over WINDOW seconds, as a share of one core (/proc utime+stime).
# Usage: bench/scripts/dashboard.sh [workflows, default 10000] [model versions, default 100] [dashboards, default 20]
#        [window seconds, default 60]           (needs curl and jq; a tiny run: bench/scripts/dashboard.sh 20 3 2 5)
set -euo pipefail
WORKFLOWS=${1:-10000}
VERSIONS=${2:-100}
DASHBOARDS=${3:-20}
WINDOW=${4:-60}
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
# shellcheck source=bench/scripts/lib.sh
source "$ROOT/bench/scripts/lib.sh"
bench_begin dashboard-bench
PORT=5104 TEMPORAL_PORT=7304
FNV=http://127.0.0.1:$PORT
AUTH="Authorization: Bearer $KEY"
TICKS=$(getconf CLK_TCK)
build_release_host
start_host_at "$WORK/data" "$WORK/host.log" Logging__LogLevel__Default=Warning
wait_active_version demo-churn

input="{$DEMO_INPUT,\"feedback\":\"too expensive\"}"
echo "seeding $WORKFLOWS workflows (asynchronous jobs) and $VERSIONS model versions"
seq 1 "$WORKFLOWS" | xargs -P 16 -I{} curl -sf -o /dev/null -H "$AUTH" -H 'Content-Type: application/json' \
  $FNV/api/v1/jobs -d "{\"model\":\"demo-churn\",\"inputs\":$input}"
curl -sf -H "$AUTH" -o "$WORK/model.zip" $FNV/api/v1/models/demo-churn/versions/1.0.0/download
columns=$(curl -sf -H "$AUTH" $FNV/api/v1/models/demo-churn/versions/1.0.0 | jq -c '[.columns[] | {name, kind, isLabel}]')
for v in $(seq 1 "$VERSIONS"); do
  curl -sf -o /dev/null -H "$AUTH" $FNV/api/v1/models/bench-model/versions -F model=@"$WORK/model.zip" \
    -F "metadata={\"version\":\"1.0.$v\",\"task\":\"binaryClassification\",\"columns\":$columns}"
done
until [ "$(curl -sf -H "$AUTH" "$FNV/api/v1/jobs?status=running&pageSize=1" | jq '.items | length')" = 0 ]; do sleep 1; done

# A signed-in browser: the form's antiforgery token, then the key for a session cookie.
sign_in() {
  local jar=$1 token
  token=$(curl -sf -c "$jar" -b "$jar" $FNV/ui/sign-in | grep -o 'name="__RequestVerificationToken" value="[^"]*"' | sed 's/.*value="//;s/"$//')
  curl -sf -o /dev/null -c "$jar" -b "$jar" $FNV/ui/sign-in --data-urlencode "__RequestVerificationToken=$token" \
    --data-urlencode "key=$KEY"
}
sign_in "$WORK/jar"
curl -sf -o /dev/null -b "$WORK/jar" $FNV/ui   # the first render of the process (JIT, first reads): not counted
load_report before
for _ in 1 2 3 4 5; do curl -sf -o /dev/null -b "$WORK/jar" -w '%{time_total}\n' $FNV/ui; done | sort -n |
  awk '{t[NR] = $1} END {printf "overview first render: median %.0f ms, min %.0f ms, max %.0f ms (5 requests)\n",
    t[3] * 1000, t[1] * 1000, t[NR] * 1000}'

share() { awk -v t="$1" -v ticks="$TICKS" -v w="$WINDOW" 'BEGIN {printf "%.2f", t / ticks / w * 100}'; }
sleep 10   # the seeding's last steps (events, result writes) settle before the idle window
before=$(cpu_ticks "$HOST"); sleep "$WINDOW"; idle=$(( $(cpu_ticks "$HOST") - before ))
for i in $(seq 1 "$DASHBOARDS"); do
  sign_in "$WORK/jar-$i"
  curl -sf -N -o /dev/null -b "$WORK/jar-$i" $FNV/ui/live/overview &
  BENCH_PIDS+=($!)
done
sleep 5   # the streams connect and the feed renders its first frame
before=$(cpu_ticks "$HOST"); sleep "$WINDOW"; open=$(( $(cpu_ticks "$HOST") - before ))
echo "host CPU over ${WINDOW} s: idle $(share $idle)% of one core; with $DASHBOARDS overviews open $(share $open)%" \
  "(+$(share $((open - idle)))%)"
load_report after
