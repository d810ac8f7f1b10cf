#!/usr/bin/env bash
# The product as shipped (issue 27): Formanova.Host published as the image publishes it (Release, ReadyToRun for
# linux-x64; SHIPPED_BUILD=1 uses the plain Release build instead), started with its default settings (embedded
# Temporal server, SQLite, the bootstrapped demo-churn model, the image's workstation GC) plus an admin key and rate
# limiting off, so that wrk measures the request path and not the per-key limit. Beside it, in the same run, the
# plain Kestrel baseline (bench/Formanova.Bench.Baseline: constant JSON from POST and GET). Every HTTP figure is
# wrk -t2 -c32 over loopback; each round measures the baseline and then every path, and a path's ratio is its rate
# over the baseline's rate in the same round (median over rounds). Then the synchronous workflow path beside its
# floor (the same step shape with no-op steps, measured in the same run), start-up time on existing data, resident
# memory idle and after a batch job, and a 1M-row CSV import, which bench/scripts/import.sh then compares with raw
# bulk inserts of the same rows and repeats on PostgreSQL. Prints the tables at the end.
# Usage: bench/scripts/shipped.sh [seconds per wrk run, 10] [rounds, 3] [batch/import rows, 1000000; 0 skips]
# Needs wrk, jq, curl. Quiet machine: check `uptime` before and after (docs/benchmarks.md).
set -euo pipefail
SECS=${1:-10} ROUNDS=${2:-3} ROWS=${3:-1000000}
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
# shellcheck source=bench/scripts/import-fixture.sh
source "$ROOT/bench/scripts/import-fixture.sh"
WORK=$(mktemp -d /tmp/formanova-shipped-XXXX)
PORT=5110 BASE_PORT=5111 KEY=bench-key-0123456789abcdef0123
FNV=http://127.0.0.1:$PORT BASE=http://127.0.0.1:$BASE_PORT
PUBLISHED=${FORMANOVA_SHIPPED_DIR:-/tmp/formanova-shipped-host}
HOST_DLL=$PUBLISHED/Formanova.Host.dll
BASE_DLL=$ROOT/bench/Formanova.Bench.Baseline/bin/Release/net10.0/Formanova.Bench.Baseline.dll
FLOOR_DLL=$ROOT/bench/Formanova.Bench.DevServer/bin/Release/net10.0/Formanova.Bench.DevServer.dll
HOST='' BASELINE=''
cleanup() {
  [ -n "$HOST" ] && kill "$HOST" 2>/dev/null && wait "$HOST" 2>/dev/null
  [ -n "$BASELINE" ] && kill "$BASELINE" 2>/dev/null && wait "$BASELINE" 2>/dev/null
  rm -rf "$WORK"
}
trap cleanup EXIT
echo "load before: $(cut -d' ' -f1-3 /proc/loadavg)"
if [ "${SHIPPED_BUILD:-0}" = 1 ]; then
  dotnet build -c Release "$ROOT/Formanova.Host" -v q > /dev/null
  HOST_DLL=$ROOT/Formanova.Host/bin/Release/net10.0/Formanova.Host.dll
else
  # The Dockerfile's publish (a few minutes the first time; incremental after).
  dotnet publish "$ROOT/Formanova.Host/Formanova.Host.csproj" -c Release -r linux-x64 --self-contained false -p:UseAppHost=false \
    -o "$PUBLISHED" -v q > /dev/null
fi
dotnet build -c Release "$ROOT/bench/Formanova.Bench.Baseline" -v q > /dev/null
dotnet build -c Release "$ROOT/bench/Formanova.Bench.DevServer" -v q > /dev/null

# Starts the host; START_MS is the milliseconds from launch to a 200 from /health/ready.
start_host() {
  local t0
  t0=$(date +%s%N)
  # Workstation GC as the Dockerfile's image sets it (DOTNET_gcServer=0); export DOTNET_gcServer=1 to compare.
  DOTNET_gcServer=${DOTNET_gcServer:-0} Formanova__DataDirectory=$WORK/data Auth__BootstrapKey=$KEY ASPNETCORE_URLS=$FNV \
    Temporal__Embedded__Port=7310 RateLimiting__Enabled=false dotnet "$HOST_DLL" >> "$WORK/host.log" 2>&1 &
  HOST=$!
  until curl -sf -o /dev/null "$FNV/health/ready"; do sleep 0.01; done
  START_MS=$(( ($(date +%s%N) - t0) / 1000000 ))
}
stop_host() { kill "$HOST"; wait "$HOST" 2>/dev/null || true; HOST=''; }
rss_mib() { awk '/VmRSS/ {printf "%.0f", $2 / 1024}' "/proc/$1/status"; }
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
auth=(-H "Authorization: Bearer $KEY" -H "Content-Type: application/json")

start_host; first_start=$START_MS
until [ "$(curl -s "${auth[@]}" "$FNV/api/v1/models/demo-churn" | jq -r '.activeVersion // empty')" != "" ]; do sleep 0.5; done
sleep 10   # let the first start's background work (demo training, preload) settle before "idle"
idle_rss=$(rss_mib "$HOST")
ASPNETCORE_URLS=$BASE dotnet "$BASE_DLL" > "$WORK/baseline.log" 2>&1 &
BASELINE=$!
until curl -sf -o /dev/null "$BASE/"; do sleep 0.1; done

input='"tenure_months":3,"monthly_charges":95.5,"total_charges":286.5,"support_calls":4,"age":33,"data_usage_gb":12.5,
"contract":"month-to-month","payment_method":"electronic-check","paperless_billing":true,"has_partner":false'
hit_body="{\"inputs\":{$(tr -d '\n' <<< "$input"),\"feedback\":\"too expensive\"}}"
cat > "$WORK/post.lua" <<EOF
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer $KEY"
wrk.body = $(jq -Rs . <<< "$hit_body")
EOF
# Distinct inputs: each request changes monthly_charges, each thread from its own range, so no two requests share a
# cache key (an L1 or L2 miss every time).
cat > "$WORK/miss.lua" <<EOF
local threads = 0
function setup(thread) threads = threads + 1; thread:set("id", threads) end
function init() n = id * 100000000 end
local template = $(jq -Rs . <<< "{\"inputs\":{$(tr -d '\n' <<< "$input" | sed 's/"monthly_charges":95.5/"monthly_charges":%d.%03d/'),\"feedback\":\"x\"}}")
function request()
  n = n + 1
  return wrk.format("POST", nil, {["Content-Type"] = "application/json", ["Authorization"] = "Bearer $KEY"},
    string.format(template, math.floor(n / 1000), n % 1000))
end
EOF
printf 'wrk.headers["Authorization"] = "Bearer %s"\n' "$KEY" > "$WORK/get.lua"
curl -sf "${auth[@]}" "$FNV/api/v1/models/demo-churn/predict" -d "$hit_body" > /dev/null
curl -sf "${auth[@]}" "$FNV/api/v1/keys/me" > /dev/null

# wrk's req/s and p50 (ms) for one path: run URL [lua] [threads connections]
run() {
  local out
  out=$(wrk -t"${4:-2}" -c"${5:-32}" -d"${SECS}s" --latency ${2:+-s "$WORK/$2"} "$1")
  awk '/Requests\/sec/ {r = $2} /^ +50%/ {p = $2} END {
    if (p ~ /us$/) p = substr(p, 1, length(p) - 2) / 1000; else if (p ~ /ms$/) p = substr(p, 1, length(p) - 2) + 0;
    else if (p ~ /s$/) p = substr(p, 1, length(p) - 1) * 1000; print r, p}' <<< "$out"
}
declare -A rates ratios
for round in $(seq 1 "$ROUNDS"); do
  read -r base_post _ < <(run "$BASE/" post.lua)
  read -r base_get _ < <(run "$BASE/")
  read -r r _ < <(run "$FNV/api/v1/models/demo-churn/predict" post.lua); rates[hit]+="$r "; ratios[hit]+="$(jq -n "$r/$base_post") "
  read -r r _ < <(run "$FNV/api/v1/models/demo-churn/predict" miss.lua); rates[miss]+="$r "; ratios[miss]+="$(jq -n "$r/$base_post") "
  read -r r _ < <(run "$FNV/api/v1/keys/me" get.lua); rates[me]+="$r "; ratios[me]+="$(jq -n "$r/$base_get") "
  read -r r _ < <(run "$FNV/health/live"); rates[live]+="$r "; ratios[live]+="$(jq -n "$r/$base_get") "
  rates[base_post]+="$base_post " rates[base_get]+="$base_get "
  echo "round $round: baseline POST $base_post, GET $base_get; last hit $r req/s; $(date +%T)" >&2
done
median() { tr ' ' '\n' <<< "$1" | grep -v '^$' | sort -g | awk '{a[NR] = $1} END {print (NR % 2 ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2)}'; }
range() { tr ' ' '\n' <<< "$1" | grep -v '^$' | sort -g | awk 'NR == 1 {lo = $1} {hi = $1} END {printf "%.0f-%.0f", lo, hi}'; }

# The synchronous workflow path: a warm-up (the tiered JIT of the workflow path), one caller (latency, CPU per
# request), then 32 (throughput). Then its floor: the same step shape with no-op steps (Bench.DevServer --shape
# processing), the same embedded server in process with the SDK worker, over gRPC on loopback without gzip, with its
# history in a SQLite file as the shipped default; run while the host idles, so the two do not share the cores.
sync_body="{\"model\":\"demo-churn\",\"inputs\":{$(tr -d '\n' <<< "$input"),\"feedback\":\"too expensive\"}}"
printf 'wrk.method = "POST"\nwrk.headers["Content-Type"] = "application/json"\nwrk.headers["Authorization"] = "Bearer %s"\nwrk.body = %s\n' \
  "$KEY" "$(jq -Rs . <<< "$sync_body")" > "$WORK/sync.lua"
run "$FNV/api/v1/predictions" sync.lua 2 8 > /dev/null
cpu0=$(cpu_ticks "$HOST")
out=$(wrk -t1 -c1 -d"${SECS}s" --latency -s "$WORK/sync.lua" "$FNV/api/v1/predictions")
cpu1=$(cpu_ticks "$HOST")
sync1_rate=$(awk '/Requests\/sec/ {print $2}' <<< "$out")
sync1_p50=$(awk '/^ +50%/ {print $2}' <<< "$out")
sync1_cpu=$(jq -n "($cpu1 - $cpu0) * 10 / ($sync1_rate * $SECS)")   # ticks are 10 ms
read -r sync32_rate sync32_p50 < <(run "$FNV/api/v1/predictions" sync.lua 2 32)
after_http_rss=$(rss_mib "$HOST")
# About as many runs as the host answered: the 32-caller round, the one-caller samples, and a warm-up of both.
floor_n=$(jq -n "[$sync32_rate * $SECS | floor, 200] | max") floor_1=$(jq -n "[$sync1_rate * $SECS | floor, 50] | max")
read -r _ floor1_p50 _ floor1_cpu _ floor32_rate _ floor32_cpu < <(dotnet "$FLOOR_DLL" --storage sqlite --shape processing \
  --concurrency 32 --workflows "$floor_n" --warmup "$floor_n" --rounds 1 --latency-samples "$floor_1" |
  awk '/^floor:/ {$1 = ""; print}') || true
# A floor bench that failed leaves its figures empty: the table says so instead of the script stopping.
floor_ratio='n/a'
[ -n "${floor32_rate:-}" ] && floor_ratio=$(printf "%.2f" "$(jq -n "$sync32_rate / $floor32_rate")")

# Import and batch: ROWS rows of demo-churn's columns into the embedded SQLite, then a batch job over them.
import_rate='skipped' batch_rate='skipped' batch_rss='skipped'
if [ "$ROWS" -gt 0 ]; then
  write_import_csv "$WORK/rows.csv" "$ROWS"
  read -r import_rate ds < <(import_rows "$FNV" "$KEY" "$WORK/rows.csv" shipped-bench)
  batch=$(curl -s "${auth[@]}" "$FNV/api/v1/batch-jobs" -d "{\"model\":\"demo-churn\",\"datasetId\":$ds}" | jq -r .id)
  t0=$(date +%s%N)
  until [ "$(curl -s "${auth[@]}" "$FNV/api/v1/batch-jobs/$batch" | jq -r .status)" != running ]; do sleep 0.2; done
  batch_rate="$(jq -n "$ROWS * 1e9 / ($(date +%s%N) - $t0) | floor") rows/s ($(curl -s "${auth[@]}" "$FNV/api/v1/batch-jobs/$batch" | jq -r .status))"
  batch_rss=$(rss_mib "$HOST")
fi

# Start-up on existing data: three restarts, the median.
stop_host
starts=''
for _ in 1 2 3; do start_host; starts+="$START_MS "; stop_host; done
restart_ms=$(median "$starts")
# The import against its raw floors, and on PostgreSQL (bench/scripts/import.sh; its own host, on port 5114).
import_table=''
if [ "$ROWS" -gt 0 ]; then
  import_table=$(HOST_DLL=$HOST_DLL IMPORT_CSV=$WORK/rows.csv IMPORT_SQLITE_RATE=$import_rate \
    "$ROOT/bench/scripts/import.sh" "$ROWS" "${IMPORT_RUNS:-1}")
fi
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)"

cat <<EOF

| Measure ($(basename "$(dirname "$HOST_DLL")"): defaults, rate limiting off; wrk -t2 -c32, ${SECS} s x ${ROUNDS} rounds) | Figure | Ratio to plain Kestrel (median of rounds) | Target |
| --- | --- | --- | --- |
| Plain Kestrel baseline, POST / GET constant JSON | $(range "${rates[base_post]}") / $(range "${rates[base_get]}") req/s | 1 | |
| \`POST /api/v1/models/demo-churn/predict\`, same body (L1 hit) | $(range "${rates[hit]}") req/s | $(printf "%.2f" "$(median "${ratios[hit]}")") | >= 0.75 |
| same, distinct inputs (cache miss) | $(range "${rates[miss]}") req/s | $(printf "%.2f" "$(median "${ratios[miss]}")") | >= 0.6 |
| \`GET /api/v1/keys/me\` (authenticated trivial GET) | $(range "${rates[me]}") req/s | $(printf "%.2f" "$(median "${ratios[me]}")") | >= 0.8 |
| \`GET /health/live\` (open) | $(range "${rates[live]}") req/s | $(printf "%.2f" "$(median "${ratios[live]}")") | |
| \`POST /api/v1/predictions\`, 1 caller | p50 $sync1_p50, $sync1_rate req/s, $(printf "%.1f" "$sync1_cpu") ms host CPU per request | | p50 <= 10 ms |
| same, 32 callers | $sync32_rate req/s, p50 ${sync32_p50} ms | $floor_ratio of the floor's runs/s | >= 0.8 |
| Floor: the step shape with no-op steps (SQLite history), 1 in flight | p50 $floor1_p50 ms, $floor1_cpu ms CPU per run | | |
| same, 32 in flight | $floor32_rate runs/s, $floor32_cpu ms CPU per run | 1 | |
| CSV import into SQLite, $ROWS rows x 12 columns | $import_rate rows/s | | |
| Batch job over those rows (demo-churn) | $batch_rate | | |
| Start to /health/ready: first start / on existing data (median of 3) | $first_start / $restart_ms ms | | <= 3000 ms |
| Resident memory: idle after start / after the HTTP runs / after the batch job | $idle_rss / $after_http_rss / $batch_rss MiB | | idle <= 250 MiB |
EOF
echo "$import_table"
