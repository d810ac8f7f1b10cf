# shellcheck shell=bash
# Sourced by the bench scripts after they set ROOT (the repository): what every host bench repeats. The caller sets
# FNV (http://127.0.0.1:PORT), TEMPORAL_PORT and HOST_DLL before it starts a host; everything stays on loopback.
KEY=bench-key-0123456789abcdef0123
# demo-churn's feature columns as JSON members (no braces, no feedback): the demo model's usual request.
DEMO_INPUT='"tenure_months":3,"monthly_charges":95.5,"total_charges":286.5,"support_calls":4,"age":33,"data_usage_gb":12.5,'
DEMO_INPUT+='"contract":"month-to-month","payment_method":"electronic-check","paperless_billing":true,"has_partner":false'

# bench_begin NAME: WORK, a fresh folder under /tmp, and the EXIT trap that stops what the bench started (HOST and
# BENCH_PIDS, by PID), runs the script's bench_cleanup_hook if it defines one, and removes WORK.
bench_begin() {
  WORK=$(mktemp -d "/tmp/formanova-$1-XXXX")
  HOST='' BENCH_PIDS=()
  trap bench_cleanup EXIT
}
bench_cleanup() {
  local pid
  # `|| true`: a process that dies of the signal reports 143, which set -e would turn into the trap's exit.
  for pid in "${BENCH_PIDS[@]}" $HOST; do
    { kill "$pid" && wait "$pid"; } 2>/dev/null || true
  done
  if declare -F bench_cleanup_hook > /dev/null; then bench_cleanup_hook || true; fi
  rm -rf "$WORK"
}

load_report() { echo "load $1: $(cut -d' ' -f1-3 /proc/loadavg)"; }

# build_release_host: HOST_DLL, the Release build of this tree's Formanova.Host.
build_release_host() {
  dotnet build -c Release "$ROOT/Formanova.Host" -v q > /dev/null
  HOST_DLL=$ROOT/Formanova.Host/bin/Release/net10.0/Formanova.Host.dll
}
# build_shipped_host: HOST_DLL, the host as the Dockerfile publishes it (Release, ReadyToRun for linux-x64) into
# FORMANOVA_SHIPPED_DIR (a few minutes the first time; incremental after); SHIPPED_BUILD=1 the plain Release build.
build_shipped_host() {
  if [ "${SHIPPED_BUILD:-0}" = 1 ]; then
    build_release_host
    return
  fi
  local published=${FORMANOVA_SHIPPED_DIR:-/tmp/formanova-shipped-host}
  dotnet publish "$ROOT/Formanova.Host/Formanova.Host.csproj" -c Release -r linux-x64 --self-contained false -p:UseAppHost=false \
    -o "$published" -v q > /dev/null
  HOST_DLL=$published/Formanova.Host.dll
}

# start_host_at DATA_DIR LOG [VAR=VALUE...]: HOST_DLL at its defaults plus the bench key and rate limiting off, on FNV
# with its embedded Temporal on TEMPORAL_PORT, data and working directory DATA_DIR, output appended to LOG; returns
# once /health/ready answers (polled every READY_POLL seconds, 0.1 by default), HOST its PID. A host that exits
# before it is ready ends the bench with its log's tail.
start_host_at() {
  mkdir -p "$1"
  (cd "$1" && exec env Formanova__DataDirectory="$1" Auth__BootstrapKey="$KEY" ASPNETCORE_URLS="$FNV" \
    Temporal__Embedded__Port="$TEMPORAL_PORT" RateLimiting__Enabled=false "${@:3}" dotnet "$HOST_DLL" >> "$2" 2>&1) &
  HOST=$!
  until curl -sf -o /dev/null "$FNV/health/ready"; do
    kill -0 "$HOST" 2>/dev/null || { tail -20 "$2" >&2; exit 1; }
    sleep "${READY_POLL:-0.1}"
  done
}
stop_host() { kill "$HOST"; wait "$HOST" 2>/dev/null || true; HOST=''; }
# wait_active_version MODEL: until the model (demo-churn: the demo model's bootstrap) has an active version.
wait_active_version() {
  until [ "$(curl -s -H "Authorization: Bearer $KEY" "$FNV/api/v1/models/$1" | jq -r '.activeVersion // empty')" != "" ]; do
    sleep 0.5
  done
}

cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }

# write_post_lua FILE BODY: a wrk script that POSTs BODY as JSON with the bench key.
write_post_lua() {
  printf 'wrk.method = "POST"\nwrk.headers["Content-Type"] = "application/json"\nwrk.headers["Authorization"] = "Bearer %s"\nwrk.body = %s\n' \
    "$KEY" "$(jq -Rs . <<< "$2")" > "$1"
}
# write_miss_lua FILE [MODULO]: a wrk script POSTing demo-churn inputs that are all distinct, so no two requests share
# a cache key (an L1 or L2 miss every time): each request changes monthly_charges, each thread from its own range.
# With MODULO the integer part wraps at it (monthly_charges stays within the values the model has seen).
write_miss_lua() {
  local template
  template=$(jq -Rs . <<< "{\"inputs\":{${DEMO_INPUT/\"monthly_charges\":95.5/\"monthly_charges\":%d.%03d},\"feedback\":\"x\"}}")
  cat > "$1" <<EOF
local threads = 0
function setup(thread) threads = threads + 1; thread:set("id", threads) end
function init() n = id * 100000000 end
local template = $template
function request()
  n = n + 1
  return wrk.format("POST", nil, {["Content-Type"] = "application/json", ["Authorization"] = "Bearer $KEY"},
    string.format(template, math.floor(n / 1000)${2:+ % $2}, n % 1000))
end
EOF
}

# wrk_stats: wrk's output (with --latency for the percentiles) on stdin -> "REQ_PER_S P50_MS P99_MS NON_2XX".
wrk_stats() {
  awk 'function ms(v) { if (v ~ /us$/) return v / 1000; if (v ~ /ms$/) return v + 0; if (v ~ /s$/) return v * 1000; return v + 0 }
    /Requests\/sec/ {r = $2} /^ +50%/ {p50 = ms($2)} /^ +99%/ {p99 = ms($2)} /Non-2xx/ {bad = $NF}
    END {print r, p50 + 0, p99 + 0, bad + 0}'
}

# median LIST: the median of the numbers in LIST (separated by spaces or new lines).
median() {
  tr ' ' '\n' <<< "$1" | grep -v '^$' | sort -g |
    awk '{a[NR] = $1} END {print (NR % 2 ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2)}'
}
