#!/usr/bin/env bash
# ONNX against ML.NET on the shipped host, same model, same run: Formanova.Host in Release with its default settings
# (rate limiting off, so wrk measures the predict path and not the per-key limit), over HTTP on loopback. A FastTree
# churn model (numeric, categorical and boolean features, no text: text does not convert) is trained through
# POST /training-runs as 1.0.0, exported with GET .../versions/1.0.0/onnx and uploaded back as 2.0.0, so both versions
# are the same model. Single row: wrk against POST /models/{name}/predict with the version pinned in the body
# (useCache false), alternating versions per round; latency p50/p99 and req/s at 1 connection, req/s at 16. Batch: one
# batch job (POST /batch-jobs, the shipped chunk size and parallelism) per version over the same N-row dataset; rows/s
# end to end and of the predict stage alone (the job's own PredictMs). Prints the ratios against the targets
# (ONNX <= 1.5x ML.NET single-row latency, >= 0.8x ML.NET batch throughput).
# The database is the host's default (SQLite under the work folder); export Database__Provider=Postgres and
# Database__ConnectionString=... to run on PostgreSQL.
# Usage: bench/scripts/onnx-http.sh [batch rows, default 1000000] [seconds per wrk run, default 10] [rounds, default 2]
#        (needs wrk, jq, curl, awk)
set -euo pipefail
BATCH_ROWS=${1:-1000000}
SECONDS_PER_RUN=${2:-10}
ROUNDS=${3:-2}
TRAIN_ROWS=20000
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
# shellcheck source=bench/scripts/lib.sh
source "$ROOT/bench/scripts/lib.sh"
bench_begin onnx-http
PORT=5102 TEMPORAL_PORT=7302
FNV=http://127.0.0.1:$PORT
MODEL=onnx-bench
build_release_host
start_host_at "$WORK/data" "$WORK/host.log" Model__Bootstrap__Enabled=false
auth=(-H "Authorization: Bearer $KEY")
json=(-H "Authorization: Bearer $KEY" -H "Content-Type: application/json")

# The sample churn table (seeded awk, so every run builds the same rows): the label depends on the features.
rows() {
  awk -v n="$1" -v seed="$2" 'BEGIN {
    srand(seed); split("month-to-month,one-year,two-year", contracts, ","); split("card,bank-transfer,electronic-check,mailed-check", pays, ",")
    print "tenure,monthly,total,calls,age,contract,payment,paperless,partner,churned"
    for (i = 0; i < n; i++) {
      t = int(rand() * 72); m = 20 + int(rand() * 10000) / 100; c = int(-log(1 - rand()) * 1.5); x = rand()
      k = x < 0.55 ? 1 : (x < 0.8 ? 2 : 3); p = 1 + int(rand() * 4); paper = rand() < 0.6; partner = rand() < 0.45
      age = rand() < 0.1 ? "" : 18 + int(rand() * 62)
      risk = -0.5 + (k == 1 ? 1.8 : (k == 3 ? -1.2 : 0)) - 0.045 * t + 0.02 * (m - 70) + 0.45 * c + (p == 3 ? 0.6 : 0) - (partner ? 0.4 : 0)
      printf "%d,%.2f,%.2f,%d,%s,%s,%s,%s,%s,%s\n", t, m, m * t, c, age, contracts[k], pays[p], paper ? "true" : "false",
        partner ? "true" : "false", rand() < 1 / (1 + exp(-risk)) ? "true" : "false"
    }
  }'
}
dataset() {
  local id
  id=$(curl -s "${json[@]}" $FNV/api/v1/datasets -d "{\"name\":\"$1\",\"columns\":[
    {\"name\":\"tenure\",\"type\":\"numeric\"},{\"name\":\"monthly\",\"type\":\"numeric\"},{\"name\":\"total\",\"type\":\"numeric\"},
    {\"name\":\"calls\",\"type\":\"numeric\"},{\"name\":\"age\",\"type\":\"numeric\"},{\"name\":\"contract\",\"type\":\"categorical\"},
    {\"name\":\"payment\",\"type\":\"categorical\"},{\"name\":\"paperless\",\"type\":\"boolean\"},{\"name\":\"partner\",\"type\":\"boolean\"},
    {\"name\":\"churned\",\"type\":\"boolean\",\"role\":\"label\"}]}" | jq .id)
  rows "$2" "$3" > "$WORK/$1.csv"
  curl -s "${auth[@]}" -H "Content-Type: text/csv" --data-binary @"$WORK/$1.csv" "$FNV/api/v1/datasets/$id/rows?format=csv" > /dev/null
  rm "$WORK/$1.csv"
  echo "$id"
}
until_done() {
  local body
  while body=$(curl -s "${auth[@]}" "$FNV$1"); [ "$(jq -r .status <<< "$body")" = running ]; do sleep 1; done
  [ "$(jq -r .status <<< "$body")" = completed ] || { echo "$1 did not complete: $body" >&2; exit 1; }
  echo "$body"
}

TRAIN=$(dataset onnx-bench-train $TRAIN_ROWS 1)
run=$(curl -s "${json[@]}" $FNV/api/v1/training-runs -d "{\"model\":\"$MODEL\",\"version\":\"1.0.0\",\"task\":\"binaryClassification\",
  \"datasetId\":$TRAIN,\"trainer\":\"FastTree\",\"activate\":true}" | jq -r .id)
until_done "/api/v1/training-runs/$run" > /dev/null
curl -sS --fail-with-body "${auth[@]}" -o "$WORK/model.onnx" "$FNV/api/v1/models/$MODEL/versions/1.0.0/onnx"
curl -sS --fail-with-body "${auth[@]}" $FNV/api/v1/models/$MODEL/versions -F model=@"$WORK/model.onnx" -F 'metadata={"version":"2.0.0"}' > /dev/null
echo "$MODEL: 1.0.0 (mlnet, FastTree on $TRAIN_ROWS rows) and 2.0.0 (onnx, its export: $(stat -c %s "$WORK/model.onnx") bytes)"

input='{"tenure":3,"monthly":95.5,"total":286.5,"calls":4,"age":33,"contract":"month-to-month","payment":"electronic-check",
  "paperless":true,"partner":false}'
for version in 1.0.0 2.0.0; do
  write_post_lua "$WORK/$version.lua" "{\"version\":\"$version\",\"useCache\":false,\"inputs\":$input}"
  answer=$(curl -s "${json[@]}" $FNV/api/v1/models/$MODEL/predict -d "{\"version\":\"$version\",\"useCache\":false,\"inputs\":$input}")
  echo "  $version answers: $(jq -c '{label: .label, score: .score, probabilities: .probabilities}' <<< "$answer")"
  # Warm-up: the JIT, the engine or session pool; not measured.
  wrk -t1 -c8 -d3s -s "$WORK/$version.lua" $FNV/api/v1/models/$MODEL/predict > /dev/null
done

# One wrk run: "p50_ms p99_ms req_per_s".
measure() {
  local out rate p50 p99 bad
  out=$(wrk -t"$([ "$2" = 1 ] && echo 1 || echo 2)" -c"$2" -d"${SECONDS_PER_RUN}s" --latency -s "$WORK/$1.lua" \
    $FNV/api/v1/models/$MODEL/predict | wrk_stats)
  read -r rate p50 p99 bad <<< "$out"
  [ "$bad" = 0 ] || { echo "non-2xx answers: $bad" >&2; exit 1; }
  printf "%.3f %.3f %.1f\n" "$p50" "$p99" "$rate"
}
declare -A best_p50=([1.0.0]=1e9 [2.0.0]=1e9) best_rate=([1.0.0]=0 [2.0.0]=0) best_rate16=([1.0.0]=0 [2.0.0]=0)
for round in $(seq 1 "$ROUNDS"); do
  for version in 1.0.0 2.0.0; do
    single=$(measure $version 1)
    many=$(measure $version 16)
    read -r p50 p99 rate <<< "$single"
    read -r _ _ rate16 <<< "$many"
    echo "round $round $version: c=1 p50 ${p50} ms p99 ${p99} ms ${rate} req/s; c=16 ${rate16} req/s"
    best_p50[$version]=$(awk -v a="${best_p50[$version]}" -v b="$p50" 'BEGIN {print (b < a ? b : a)}')
    best_rate[$version]=$(awk -v a="${best_rate[$version]}" -v b="$rate" 'BEGIN {print (b > a ? b : a)}')
    best_rate16[$version]=$(awk -v a="${best_rate16[$version]}" -v b="$rate16" 'BEGIN {print (b > a ? b : a)}')
  done
done

BATCH=$(dataset onnx-bench-batch "$BATCH_ROWS" 2)
declare -A job_rate predict_rate
for version in 1.0.0 2.0.0; do
  job=$(curl -s "${json[@]}" $FNV/api/v1/batch-jobs -d "{\"model\":\"$MODEL\",\"version\":\"$version\",\"datasetId\":$BATCH}" | jq -r .id)
  result=$(until_done "/api/v1/batch-jobs/$job")
  # The job's own start and close (server clock), so the polling interval does not count.
  seconds=$(awk -v a="$(date -d "$(jq -r .startedAt <<< "$result")" +%s.%N)" -v b="$(date -d "$(jq -r .closedAt <<< "$result")" +%s.%N)" \
    'BEGIN {print b - a}')
  done_rows=$(jq '.result.rows' <<< "$result")
  predict_ms=$(jq '.result.timings.predictMs' <<< "$result")
  # The shipped Workflows:Batch:Parallelism is 2.
  lanes=$(jq '[.result.chunks, 2] | min' <<< "$result")
  job_rate[$version]=$(awk -v n="$done_rows" -v s="$seconds" 'BEGIN {printf "%.0f", n / s}')
  # PredictMs sums the chunks' predict time over the parallel lanes: divided by the lanes it is the wall time.
  predict_rate[$version]=$(awk -v n="$done_rows" -v ms="$predict_ms" -v l="$lanes" 'BEGIN {printf "%.0f", n / (ms / 1000 / l)}')
  printf 'batch job %s: %s rows in %.1f s = %s rows/s end to end; predict stage %s rows/s\n' "$version" "$done_rows" "$seconds" \
    "${job_rate[$version]}" "${predict_rate[$version]}"
done

awk -v m="${best_p50[1.0.0]}" -v o="${best_p50[2.0.0]}" -v mr="${best_rate[1.0.0]}" -v onr="${best_rate[2.0.0]}" \
  -v m16="${best_rate16[1.0.0]}" -v o16="${best_rate16[2.0.0]}" -v mj="${job_rate[1.0.0]}" -v oj="${job_rate[2.0.0]}" \
  -v mp="${predict_rate[1.0.0]}" -v op="${predict_rate[2.0.0]}" -v rows="$BATCH_ROWS" -v s="$SECONDS_PER_RUN" 'BEGIN {
  printf "single row (best of rounds, %s s per wrk run, useCache=false): p50 mlnet %.3f ms, onnx %.3f ms: onnx/mlnet latency %.2fx (target <= 1.5); c=1 %.0f vs %.0f req/s, c=16 %.0f vs %.0f req/s\n", s, m, o, o / m, mr, onr, m16, o16
  printf "batch of %d rows (one batch job each): mlnet %.0f rows/s, onnx %.0f rows/s: onnx/mlnet throughput %.2fx (target >= 0.8); predict stage alone %.2fx\n", rows, mj, oj, oj / mj, op / mp
}'
