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
WORK=$(mktemp -d /tmp/formanova-dashboard-bench-XXXX)
PORT=5104 KEY=bench-key-0123456789abcdef0123
FNV=http://127.0.0.1:$PORT
AUTH="Authorization: Bearer $KEY"
TICKS=$(getconf CLK_TCK)
dotnet build -c Release "$ROOT/Formanova.Host" -v q > /dev/null
HOST=""
STREAMS=()
cleanup() {
  for pid in "${STREAMS[@]}"; do kill "$pid" 2>/dev/null || true; done
  [ -n "$HOST" ] && kill "$HOST" 2>/dev/null
  wait 2>/dev/null
  rm -rf "$WORK"
}
trap cleanup EXIT

Formanova__DataDirectory=$WORK/data Auth__BootstrapKey=$KEY ASPNETCORE_URLS=$FNV Temporal__Embedded__Port=7304 \
  RateLimiting__Enabled=false Logging__LogLevel__Default=Warning \
  dotnet "$ROOT/Formanova.Host/bin/Release/net10.0/Formanova.Host.dll" > "$WORK/host.log" 2>&1 &
HOST=$!
until curl -sf $FNV/health/ready > /dev/null; do sleep 1; done
until curl -sf -H "$AUTH" $FNV/api/v1/models/demo-churn | jq -e '.activeVersion' > /dev/null; do sleep 1; done

input='{"tenure_months":3,"monthly_charges":95.5,"total_charges":286.5,"support_calls":4,"age":33,"data_usage_gb":12.5,
  "contract":"month-to-month","payment_method":"electronic-check","paperless_billing":true,"has_partner":false,"feedback":"too expensive"}'
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
echo "load before: $(cut -d' ' -f1-3 /proc/loadavg)"
for _ in 1 2 3 4 5; do curl -sf -o /dev/null -b "$WORK/jar" -w '%{time_total}\n' $FNV/ui; done | sort -n |
  awk '{t[NR] = $1} END {printf "overview first render: median %.0f ms, min %.0f ms, max %.0f ms (5 requests)\n",
    t[3] * 1000, t[1] * 1000, t[NR] * 1000}'

cpu() { awk '{print $14 + $15}' /proc/$HOST/stat; }
share() { awk -v t="$1" -v ticks="$TICKS" -v w="$WINDOW" 'BEGIN {printf "%.2f", t / ticks / w * 100}'; }
sleep 10   # the seeding's last steps (events, result writes) settle before the idle window
before=$(cpu); sleep "$WINDOW"; idle=$(( $(cpu) - before ))
for i in $(seq 1 "$DASHBOARDS"); do
  sign_in "$WORK/jar-$i"
  curl -sf -N -o /dev/null -b "$WORK/jar-$i" $FNV/ui/live/overview &
  STREAMS+=($!)
done
sleep 5   # the streams connect and the feed renders its first frame
before=$(cpu); sleep "$WINDOW"; open=$(( $(cpu) - before ))
echo "host CPU over ${WINDOW} s: idle $(share $idle)% of one core; with $DASHBOARDS overviews open $(share $open)%" \
  "(+$(share $((open - idle)))%)"
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)"
