#!/usr/bin/env bash
# What an experiment costs the caller of the direct predict path (issue 24), on the shipped host: Formanova.Host in
# Release with its default settings (rate limiting off), over HTTP on loopback. Two versions of one model are trained
# through POST /training-runs. Each round measures, in turn: the plain predict (no experiment), the same requests
# while a 50/50 split experiment (random assignment) routes them, and while a shadow experiment has the candidate
# score a copy of every request off the request path. Each experiment is stopped after its measurement, so the next
# starts clean. wrk -t1 -c16 gives req/s, wrk -t1 -c1 the p50 a lone caller sees; the cache is off.
# Usage: bench/scripts/experiment-http.sh [seconds per wrk run, 8] [rounds, 3]   (needs wrk, jq, curl)
# Targets: split routing <= 1.1x the plain time per request; shadow: the caller's p50 unchanged within noise.
set -euo pipefail
SECS=${1:-8} ROUNDS=${2:-3}
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
# shellcheck source=bench/scripts/lib.sh
source "$ROOT/bench/scripts/lib.sh"
bench_begin experiment-http
PORT=5106 TEMPORAL_PORT=7306
FNV=http://127.0.0.1:$PORT
load_report before
build_release_host
start_host_at "$WORK/data" "$WORK/host.log" Model__Bootstrap__Enabled=false
auth=(-H "Authorization: Bearer $KEY" -H "Content-Type: application/json")

DS=$(curl -s "${auth[@]}" $FNV/api/v1/datasets -d '{"name":"experiment-bench","columns":[
  {"name":"tenure","type":"numeric"},{"name":"charges","type":"numeric"},{"name":"plan","type":"categorical"},
  {"name":"churned","type":"boolean","role":"label"}]}' | jq .id)
{ echo 'tenure,charges,plan,churned'
  for _ in $(seq 1 3000); do t=$((RANDOM % 72)); m=$((20 + RANDOM % 100)); p=$([ $((RANDOM % 2)) = 0 ] && echo monthly || echo yearly)
    echo "$t,$m,$p,$([ $t -lt 12 ] && [ "$p" = monthly ] && echo true || echo false)"; done; } > "$WORK/rows.csv"
curl -s -H "Authorization: Bearer $KEY" -H "Content-Type: text/csv" --data-binary @"$WORK/rows.csv" \
  "$FNV/api/v1/datasets/$DS/rows?format=csv" > /dev/null
train() {
  local run
  run=$(curl -s "${auth[@]}" $FNV/api/v1/training-runs -d "{\"model\":\"exp-bench\",\"version\":\"$1\",\"task\":\"binaryClassification\",
    \"datasetId\":$DS,\"activate\":$2,\"seed\":$3}" | jq -r .id)
  until [ "$(curl -s "${auth[@]}" $FNV/api/v1/training-runs/"$run" | jq -r .status)" != running ]; do sleep 1; done
}
train 1.0.0 true 1
train 1.1.0 false 2

write_post_lua "$WORK/post.lua" '{"useCache":false,"inputs":{"tenure":3,"charges":95,"plan":"monthly"}}'
URL=$FNV/api/v1/models/exp-bench/predict
experiment() {   # name mode -> starts it and waits until a predict is routed (split) or the experiment is running
  curl -sf "${auth[@]}" $FNV/api/v1/experiments -d "{\"name\":\"$1\",\"model\":\"exp-bench\",\"mode\":\"$2\",\"assignment\":\"random\",
    \"arms\":[{\"name\":\"control\",\"version\":\"1.0.0\",\"weight\":1},{\"name\":\"candidate\",\"version\":\"1.1.0\",\"weight\":1}]}" > /dev/null
}
stop() {   # the stop is a signal: the workflow ends the experiment in the store, which frees the model for the next
  curl -sf "${auth[@]}" -X POST $FNV/api/v1/experiments/"$1"/stop -d '{}' > /dev/null
  until [[ "$(curl -s "${auth[@]}" $FNV/api/v1/experiments/"$1" | jq -r .experiment.status)" =~ ^(stopped|decided|rolledBack)$ ]]; do
    sleep 0.2
  done
}
measure() {   # label -> "req/s p50ms"
  local rps p50
  rps=$(wrk -t1 -c16 -d"${SECS}s" -s "$WORK/post.lua" "$URL" | wrk_stats | cut -d' ' -f1)
  p50=$(wrk -t1 -c1 -d"${SECS}s" --latency -s "$WORK/post.lua" "$URL" | wrk_stats | cut -d' ' -f2)
  echo "$1 $rps $p50"
}
wrk -t1 -c16 -d8s -s "$WORK/post.lua" "$URL" > /dev/null   # warm-up (JIT, pools)
: > "$WORK/results"
for round in $(seq 1 "$ROUNDS"); do
  measure plain >> "$WORK/results"
  experiment "split-$round" split
  curl -s "${auth[@]}" "$URL" -d '{"useCache":false,"inputs":{"tenure":3,"charges":95,"plan":"monthly"}}' | jq -c '{version, experiment, arm}'
  measure split >> "$WORK/results"
  stop "split-$round"
  experiment "shadow-$round" shadow
  measure shadow >> "$WORK/results"
  stop "shadow-$round"
  echo "round $round done $(date +%T)"
done
load_report after
cat "$WORK/results"
awk '{n[$1]++; r[$1, n[$1]] = $2; p[$1, n[$1]] = $3}
  function med(a, k, c,   i, j, t, v) { for (i = 1; i <= c; i++) v[i] = a[k, i];
    for (i = 1; i <= c; i++) for (j = i + 1; j <= c; j++) if (v[j] < v[i]) { t = v[i]; v[i] = v[j]; v[j] = t }
    return c % 2 ? v[(c + 1) / 2] : (v[c / 2] + v[c / 2 + 1]) / 2 }
  END { c = n["plain"]; rp = med(r, "plain", c); pp = med(p, "plain", c)
    printf "median of %d rounds: plain %.0f req/s, p50 %.3f ms\n", c, rp, pp
    printf "split:  %.0f req/s (time ratio %.2f, target <= 1.1), p50 %.3f ms\n", med(r, "split", c), rp / med(r, "split", c), med(p, "split", c)
    printf "shadow: %.0f req/s (time ratio %.2f), p50 %.3f ms (%.2fx plain; target unchanged within noise)\n",
      med(r, "shadow", c), rp / med(r, "shadow", c), med(p, "shadow", c), med(p, "shadow", c) / pp }' "$WORK/results"
