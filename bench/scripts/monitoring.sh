#!/usr/bin/env bash
# Model monitoring's costs (issue 26, docs/benchmarks.md "Model monitoring"), on the shipped host (published as
# bench/scripts/shipped.sh publishes it: Release, ReadyToRun for linux-x64; SHIPPED_BUILD=1 uses the plain Release
# build; FORMANOVA_HOST_DLL=<path> runs a given build as is, for smoke runs) at its defaults plus an admin key and
# rate limiting off:
#  a. live profiling on the predict path: the same host started twice in one run, once at defaults (Monitoring:Enabled
#     true) and once with Monitoring:Enabled=false, demo-churn under a monitoring policy both times; wrk -t2 -c32 on
#     POST /api/v1/models/demo-churn/predict with distinct inputs (every request a cache miss, every one profiled);
#     ROUNDS rounds alternating on/off, one fresh host per run; prints each round's ratio off/on and their median
#     (target <= 1.05: profiling costs at most 5 % of the throughput), and the host's CPU per request on/off, which
#     the rest of the machine disturbs less than the rate.
#  b. a drift check over ROWS stored predictions: demo-churn's prediction log filled with ROWS rows (with feedback)
#     by a direct bulk insert into the SQLite table data_prediction_log (setup, not measured: copies of one real logged
#     prediction, so the format is the product's), live windows from 2,000 real predictions; then the time of
#     POST /api/v1/models/demo-churn/monitoring/check until the check is stored (GET .../monitoring shows it).
# Usage: bench/scripts/monitoring.sh [seconds per wrk run, 10] [rounds, 5] [stored predictions, 1000000]
# Needs wrk, jq, curl, sqlite3. Quiet machine: check `uptime` before and after (docs/benchmarks.md).
set -euo pipefail
SECS=${1:-10} ROUNDS=${2:-5} ROWS=${3:-1000000}
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
# shellcheck source=bench/scripts/lib.sh
source "$ROOT/bench/scripts/lib.sh"
bench_begin monitoring
PORT=5112 TEMPORAL_PORT=7312
FNV=http://127.0.0.1:$PORT
load_report before
if [ -n "${FORMANOVA_HOST_DLL:-}" ]; then
  HOST_DLL=$FORMANOVA_HOST_DLL
else
  build_shipped_host
fi

# start_host DATA_DIR MONITORING_ENABLED: the host at defaults on its own data directory (and working directory, where
# the SQLite file goes).
start_host() { READY_POLL=0.05 start_host_at "$1" "$WORK/host.log" Monitoring__Enabled="$2"; }
auth=(-H "Authorization: Bearer $KEY" -H "Content-Type: application/json")
api() { curl -sf "${auth[@]}" "$@"; }

# The demo model ready, its version profiled (else nothing would be counted and part a would measure nothing), and
# monitored: a policy that only checks (no schedule firing within the run: hourly; no actions).
prepare_model() {
  wait_active_version demo-churn
  local version
  version=$(api "$FNV/api/v1/models/demo-churn" | jq -r .activeVersion)
  if ! api "$FNV/api/v1/models/demo-churn/versions/$version" | jq -e '.report.profile.features | length > 0' > /dev/null; then
    echo "demo-churn $version has no reference profile: nothing would be profiled" >&2
    exit 1
  fi
  api -X PUT "$FNV/api/v1/models/demo-churn/monitoring/policy" \
    -d '{"intervalMinutes":60,"windowMinutes":1440,"thresholds":{"minRows":200,"minFeedback":50},"actions":{"notify":false}}' > /dev/null
}

# Distinct inputs, as shipped.sh makes them, monthly_charges kept under 200.
write_miss_lua "$WORK/miss.lua" 200
rate() { wrk -t2 -c32 -d"${SECS}s" -s "$WORK/miss.lua" "$FNV/api/v1/models/demo-churn/predict" | wrk_stats | cut -d' ' -f1; }
# rate_cpu: "REQ_PER_S CPU_MS_PER_REQUEST", the host's own CPU (user + system) over the run divided by its requests.
rate_cpu() {
  local t0 t1 r
  t0=$(cpu_ticks "$HOST"); r=$(rate); t1=$(cpu_ticks "$HOST")
  printf "%s %.3f\n" "$r" "$(jq -n "($t1 - $t0) * 1000 / $(getconf CLK_TCK) / ($r * $SECS)")"
}

# a. Each round: a fresh host with profiling on, then off (the order alternates), each on its own data directory.
ratios='' on_rates='' off_rates='' cpu_ratios='' on_cpus='' off_cpus=''
for round in $(seq 1 "$ROUNDS"); do
  order=(true false); [ $((round % 2)) = 0 ] && order=(false true)
  declare -A r=() c=()
  for enabled in "${order[@]}"; do
    start_host "$WORK/a-$round-$enabled" "$enabled"
    prepare_model
    rate > /dev/null   # warm-up: JIT, the reference profile read, the model loaded
    read -r rps cpu <<< "$(rate_cpu)"
    r[$enabled]=$rps c[$enabled]=$cpu
    stop_host
  done
  on_rates+="${r[true]} " off_rates+="${r[false]} " on_cpus+="${c[true]} " off_cpus+="${c[false]} "
  ratio=$(jq -n "${r[false]} / ${r[true]}") cpu_ratio=$(jq -n "${c[true]} / ${c[false]}")
  ratios+="$ratio " cpu_ratios+="$cpu_ratio "
  echo "round $round: profiling on ${r[true]} req/s ${c[true]} ms CPU/req, off ${r[false]} req/s ${c[false]} ms CPU/req," \
    "throughput off/on $(printf '%.3f' "$ratio"), CPU on/off $(printf '%.3f' "$cpu_ratio"); $(date +%T)" >&2
done

# b. The check over ROWS stored predictions.
DATA=$WORK/b
start_host "$DATA" true
prepare_model
rows=$(python3 -c 'import json, random
random.seed(5)
print(json.dumps([{"tenure_months": random.randint(0, 72), "monthly_charges": round(random.uniform(20, 120), 2),
  "total_charges": round(random.uniform(20, 8000), 2), "support_calls": random.randint(0, 5), "age": random.randint(18, 78),
  "data_usage_gb": round(random.uniform(0, 50), 1), "contract": random.choice(["month-to-month", "one-year", "two-year"]),
  "payment_method": random.choice(["electronic-check", "credit-card", "bank-transfer"]),
  "paperless_billing": random.random() < 0.5, "has_partner": random.random() < 0.5, "feedback": ""} for _ in range(500)]))')
for _ in 1 2 3 4; do api "$FNV/api/v1/models/demo-churn/predict/batch" -d "{\"rows\":$rows}" > /dev/null; done
# The windows are written at a check; this one also makes sure the log writer has flushed a real row to copy.
api -X POST "$FNV/api/v1/models/demo-churn/monitoring/check" > /dev/null
stop_host
DB=$(find "$DATA" -name formanova.db | head -1)
t0=$(date +%s%N)
sqlite3 "$DB" > /dev/null <<SQL
PRAGMA journal_mode = WAL;
PRAGMA synchronous = OFF;
WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < $ROWS)
INSERT INTO data_prediction_log (prediction_id, model_name, model_version, task, source, predicted_at, label, value, score,
    probabilities, latency_ms, cached, outcome_label, outcome_value, feedback_at, correct, log_loss, abs_error)
SELECT 'bench-' || i, t.model_name, t.model_version, t.task, t.source, t.predicted_at, t.label, t.value, t.score,
    t.probabilities, t.latency_ms, t.cached, t.label, NULL, t.predicted_at, (i % 7 <> 0), 0.35, NULL
FROM n, (SELECT * FROM data_prediction_log WHERE model_name = 'demo-churn' ORDER BY id DESC LIMIT 1) AS t;
SQL
load_s=$(jq -n "($(date +%s%N) - $t0) / 1e9")
stored=$(sqlite3 "$DB" "SELECT COUNT(*) FROM data_prediction_log WHERE model_name = 'demo-churn'")
start_host "$DATA" true
wait_active_version demo-churn
before=$(api "$FNV/api/v1/models/demo-churn/monitoring?limit=1" | jq -r '.latest.checkedAt // ""')
t0=$(date +%s%N)
check=$(api -X POST "$FNV/api/v1/models/demo-churn/monitoring/check")
until latest=$(api "$FNV/api/v1/models/demo-churn/monitoring?limit=1" | jq -c '.latest') \
  && [ "$(jq -r '.checkedAt // ""' <<< "$latest")" != "$before" ]; do sleep 0.05; done
check_s=$(jq -n "($(date +%s%N) - $t0) / 1e9")
stop_host
load_report after
echo "check: $(jq -c '{status, rows, performance}' <<< "$latest"); answered at stage $(jq -r .stage <<< "$check")" >&2

cat <<EOF

| Measure ($(basename "$(dirname "$HOST_DLL")"): defaults, rate limiting off) | Figure | Target |
| --- | --- | --- |
| \`POST /api/v1/models/demo-churn/predict\`, distinct inputs, wrk -t2 -c32 ${SECS} s: profiling on / off, medians of $ROUNDS rounds | $(median "$on_rates") / $(median "$off_rates") req/s | |
| Throughput off / on, median of the rounds' ratios ($ratios) | $(printf '%.3f' "$(median "$ratios")")x | <= 1.05x |
| Host CPU per request on / off: $(median "$on_cpus") / $(median "$off_cpus") ms; median of the rounds' ratios ($cpu_ratios) | $(printf '%.3f' "$(median "$cpu_ratios")")x | |
| Drift check over $stored stored predictions of demo-churn, $ROWS of them with feedback (bulk insert, setup: $(printf '%.1f' "$load_s") s) | $(printf '%.2f' "$check_s") s | |
EOF
