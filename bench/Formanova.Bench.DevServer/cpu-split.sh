#!/usr/bin/env bash
# Server CPU per workflow: runs the standalone Release server and the bench against it in separate processes and
# reports the server's CPU time during the bench only (start-up excluded), divided by the workflows it ran
# (N measured + 100 warm-up + 100 latency samples).
# usage: bench/Formanova.Bench.DevServer/cpu-split.sh [:memory:|path/to.db] [workflows] [port]
set -euo pipefail
cd "$(dirname "$0")/../.."
db=${1:-:memory:}; n=${2:-2000}; port=${3:-7399}
server=Formanova.DevServer/bin/Release/net10.0/Formanova.DevServer.dll
bench=bench/Formanova.Bench.DevServer/bin/Release/net10.0/Formanova.Bench.DevServer.dll
log=$(mktemp)
cpu() { local st; read -ra st < "/proc/$1/stat"; echo $(( st[13] + st[14] )); }
dotnet "$server" --port "$port" --db "$db" > "$log" 2>&1 &
pid=$!
trap 'kill $pid 2>/dev/null || true; rm -f "$log"' EXIT
for _ in $(seq 1 120); do grep -q listening "$log" && break; sleep 0.5; done
before=$(cpu $pid)
# One round after 100 warm-up workflows, so that the divisor below is what the server really ran.
dotnet "$bench" --address "127.0.0.1:$port" --workflows "$n" --rounds 1 --warmup 100 --latency-samples 100
after=$(cpu $pid)
ticks=$(getconf CLK_TCK)
awk -v t=$((after - before)) -v hz="$ticks" -v w=$((n + 200)) 'BEGIN { printf "server CPU: %.2f s, %.2f ms per workflow\n", t / hz, 1000 * t / hz / w }'
