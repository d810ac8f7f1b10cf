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
# shellcheck source=bench/scripts/lib.sh
source "$ROOT/bench/scripts/lib.sh"
bench_begin contract-http
PORT=5098 TEMPORAL_PORT=7298
FNV=http://127.0.0.1:$PORT
build_release_host
start_host_at "$WORK/data" "$WORK/host.log" Model__Bootstrap__Enabled=false
auth=(-H "Authorization: Bearer $KEY" -H "Content-Type: application/json")

DS=$(curl -s "${auth[@]}" $FNV/api/v1/datasets -d '{"name":"contract-bench","columns":[
  {"name":"id","type":"categorical","role":"id"},{"name":"tenure","type":"numeric"},{"name":"tenure_text","type":"categorical"},
  {"name":"charges","type":"numeric"},{"name":"plan","type":"categorical"},{"name":"note","type":"text","role":"ignore"},
  {"name":"churned","type":"boolean","role":"label"}]}' | jq .id)
{ echo 'id,tenure,tenure_text,charges,plan,note,churned'
  for i in $(seq 1 3000); do t=$((RANDOM % 72)); m=$((20 + RANDOM % 100)); p=$([ $((RANDOM % 2)) = 0 ] && echo monthly || echo yearly)
    echo "c-$i,$t,$t,$m,$p,called about the bill,$([ $t -lt 12 ] && [ "$p" = monthly ] && echo true || echo false)"; done; } > "$WORK/rows.csv"
curl -s -H "Authorization: Bearer $KEY" -H "Content-Type: text/csv" --data-binary @"$WORK/rows.csv" \
  "$FNV/api/v1/datasets/$DS/rows?format=csv" > /dev/null
train() {
  local run
  run=$(curl -s "${auth[@]}" $FNV/api/v1/training-runs -d "{\"model\":\"$1\",\"version\":\"1.0.0\",\"task\":\"binaryClassification\",
    \"datasetId\":$DS,\"activate\":true,\"excludeColumns\":[\"$2\"],\"transforms\":$3}" | jq -r .id)
  until [ "$(curl -s "${auth[@]}" $FNV/api/v1/training-runs/"$run" | jq -r .status)" != running ]; do sleep 1; done
}
train plain tenure_text '[]'
train raw tenure '[{"op":"cast","column":"tenure_text","type":"numeric"}]'

write_post_lua "$WORK/plain.lua" '{"useCache":false,"inputs":{"tenure":3,"charges":95,"plan":"monthly"}}'
write_post_lua "$WORK/raw.lua" '{"useCache":false,"inputs":{"id":"c-1","tenure":3,"tenure_text":"3","charges":95,"plan":"monthly","note":"called","churned":true}}'
curl -s "${auth[@]}" $FNV/api/v1/models/plain/predict -d "$(sed -n 's/^wrk.body = //p' "$WORK/plain.lua" | jq -r .)" | jq -c '{label: .label, ignoredColumns}'
curl -s "${auth[@]}" $FNV/api/v1/models/raw/predict -d "$(sed -n 's/^wrk.body = //p' "$WORK/raw.lua" | jq -r .)" | jq -c '{label: .label, ignoredColumns}'
rate() { wrk -t1 -c16 -d"${SECONDS_PER_RUN}s" -s "$WORK/$2.lua" "$FNV/api/v1/models/$1/predict" | wrk_stats | cut -d' ' -f1; }
best_plain=0 best_raw=0
for round in 1 2; do
  p=$(rate plain plain); r=$(rate raw raw)
  echo "round $round: plain $p req/s, raw $r req/s"
  best_plain=$(awk -v a="$best_plain" -v b="$p" 'BEGIN {print (b > a ? b : a)}')
  best_raw=$(awk -v a="$best_raw" -v b="$r" 'BEGIN {print (b > a ? b : a)}')
done
awk -v p="$best_plain" -v r="$best_raw" -v s="$SECONDS_PER_RUN" 'BEGIN {printf "contract on the shipped host (%s s per run, best of 2, wrk -t1 -c16, useCache=false): plain %.0f req/s, raw row %.0f req/s, time ratio %.2f (target <= 1.1)\n", s, p, r, p / r}'
