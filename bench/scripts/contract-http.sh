#!/usr/bin/env bash
# The input contract's cost on the shipped host: Formanova.Host in Release with its default settings (rate limiting
# off, so wrk measures the predict path and not the per-key limit), over HTTP on loopback, under wrk. Two versions
# trained through POST /training-runs on one dataset: `plain` reads tenure as a number (its contract has no steps:
# the direct path, as before contracts) and is sent its feature columns; `raw` casts tenure from text and is sent a
# whole raw training row (id, the text tenure, the ignored note, the label). Prints both rates and the time ratio.
# Usage: bench/scripts/contract-http.sh [seconds per wrk run, default 8]   (needs wrk, jq, curl)
set -euo pipefail
SECONDS_PER_RUN=${1:-8}
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
WORK=$(mktemp -d /tmp/formanova-contract-http-XXXX)
PORT=5098 KEY=bench-key-0123456789abcdef0123
FNV=http://127.0.0.1:$PORT
dotnet build -c Release "$ROOT/Formanova.Host" -v q > /dev/null
Formanova__DataDirectory=$WORK/data Auth__BootstrapKey=$KEY ASPNETCORE_URLS=$FNV Temporal__Embedded__Port=7298 \
  RateLimiting__Enabled=false Model__Bootstrap__Enabled=false \
  dotnet "$ROOT/Formanova.Host/bin/Release/net10.0/Formanova.Host.dll" > "$WORK/host.log" 2>&1 &
HOST=$!
trap 'kill $HOST 2>/dev/null; wait $HOST 2>/dev/null; rm -rf "$WORK"' EXIT
until curl -sf $FNV/health/ready > /dev/null; do sleep 1; done
auth=(-H "Authorization: Bearer $KEY" -H "Content-Type: application/json")

DS=$(curl -s "${auth[@]}" $FNV/api/v1/datasets -d '{"name":"contract-bench","columns":[
  {"name":"id","type":"categorical","role":"id"},{"name":"tenure","type":"numeric"},{"name":"tenure_text","type":"categorical"},
  {"name":"charges","type":"numeric"},{"name":"plan","type":"categorical"},{"name":"note","type":"text","role":"ignore"},
  {"name":"churned","type":"boolean","role":"label"}]}' | jq .id)
{ echo 'id,tenure,tenure_text,charges,plan,note,churned'
  for i in $(seq 1 3000); do t=$((RANDOM % 72)); m=$((20 + RANDOM % 100)); p=$([ $((RANDOM % 2)) = 0 ] && echo monthly || echo yearly)
    echo "c-$i,$t,$t,$m,$p,called about the bill,$([ $t -lt 12 ] && [ $p = monthly ] && echo true || echo false)"; done; } > "$WORK/rows.csv"
curl -s -H "Authorization: Bearer $KEY" -H "Content-Type: text/csv" --data-binary @"$WORK/rows.csv" \
  "$FNV/api/v1/datasets/$DS/rows?format=csv" > /dev/null
train() {
  local run
  run=$(curl -s "${auth[@]}" $FNV/api/v1/training-runs -d "{\"model\":\"$1\",\"version\":\"1.0.0\",\"task\":\"binaryClassification\",
    \"datasetId\":$DS,\"activate\":true,\"excludeColumns\":[\"$2\"],\"transforms\":$3}" | jq -r .id)
  until [ "$(curl -s "${auth[@]}" $FNV/api/v1/training-runs/$run | jq -r .status)" != running ]; do sleep 1; done
}
train plain tenure_text '[]'
train raw tenure '[{"op":"cast","column":"tenure_text","type":"numeric"}]'

script() {
  printf 'wrk.method = "POST"\nwrk.headers["Content-Type"] = "application/json"\nwrk.headers["Authorization"] = "Bearer %s"\nwrk.body = %s\n' \
    "$KEY" "$(jq -Rs . <<< "$1")" > "$WORK/$2.lua"
}
script '{"useCache":false,"inputs":{"tenure":3,"charges":95,"plan":"monthly"}}' plain
script '{"useCache":false,"inputs":{"id":"c-1","tenure":3,"tenure_text":"3","charges":95,"plan":"monthly","note":"called","churned":true}}' raw
curl -s "${auth[@]}" $FNV/api/v1/models/plain/predict -d "$(sed -n 's/^wrk.body = //p' "$WORK/plain.lua" | jq -r .)" | jq -c '{label: .label, ignoredColumns}'
curl -s "${auth[@]}" $FNV/api/v1/models/raw/predict -d "$(sed -n 's/^wrk.body = //p' "$WORK/raw.lua" | jq -r .)" | jq -c '{label: .label, ignoredColumns}'
rate() { wrk -t1 -c16 -d"${SECONDS_PER_RUN}s" -s "$WORK/$2.lua" "$FNV/api/v1/models/$1/predict" | awk '/Requests\/sec/ {print $2}'; }
best_plain=0 best_raw=0
for round in 1 2; do
  p=$(rate plain plain); r=$(rate raw raw)
  echo "round $round: plain $p req/s, raw $r req/s"
  best_plain=$(awk -v a="$best_plain" -v b="$p" 'BEGIN {print (b > a ? b : a)}')
  best_raw=$(awk -v a="$best_raw" -v b="$r" 'BEGIN {print (b > a ? b : a)}')
done
awk -v p="$best_plain" -v r="$best_raw" -v s="$SECONDS_PER_RUN" 'BEGIN {printf "contract on the shipped host (%s s per run, best of 2, wrk -t1 -c16, useCache=false): plain %.0f req/s, raw row %.0f req/s, time ratio %.2f (target <= 1.1)\n", s, p, r, p / r}'
