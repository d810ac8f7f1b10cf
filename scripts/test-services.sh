#!/usr/bin/env bash
# Starts (or stops) a throwaway PostgreSQL 15 cluster and Redis server on loopback ports for the test suite.
#   scripts/test-services.sh start   -> prints the export lines for FORMANOVA_TEST_POSTGRES / FORMANOVA_TEST_REDIS
#   scripts/test-services.sh stop
# State lives under ${FORMANOVA_SERVICES_DIR:-/tmp/formanova-test-services}. Needs root (installs packages
# with apt-get when absent, and runs PostgreSQL as the postgres user because initdb refuses root).
set -euo pipefail

dir="${FORMANOVA_SERVICES_DIR:-/tmp/formanova-test-services}"
pg_port="${FORMANOVA_PG_PORT:-55432}"
redis_port="${FORMANOVA_REDIS_PORT:-56379}"
pg_bin=/usr/lib/postgresql/15/bin

log() { echo "[test-services] $*" >&2; }

install_packages() {
  local missing=()
  [ -x "$pg_bin/initdb" ] || missing+=(postgresql-15)
  command -v redis-server >/dev/null 2>&1 || missing+=(redis-server)
  if [ ${#missing[@]} -gt 0 ]; then
    log "installing ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >&2
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
  fi
}

start() {
  install_packages
  mkdir -p "$dir"
  chmod 755 "$dir"

  local pgdata="$dir/pg"
  if [ ! -f "$pgdata/PG_VERSION" ]; then
    rm -rf "$pgdata"
    install -d -o postgres -g postgres -m 700 "$pgdata"
    runuser -u postgres -- "$pg_bin/initdb" -D "$pgdata" -U postgres --auth=trust --encoding=UTF8 --no-locale >/dev/null
  fi
  install -d -o postgres -g postgres "$dir/pg-socket"
  if ! runuser -u postgres -- "$pg_bin/pg_ctl" -D "$pgdata" status >/dev/null 2>&1; then
    touch "$dir/pg.log" && chown postgres "$dir/pg.log"
    runuser -u postgres -- "$pg_bin/pg_ctl" -D "$pgdata" -l "$dir/pg.log" -w -t 60 \
      -o "-c listen_addresses=127.0.0.1 -p $pg_port -k $dir/pg-socket -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=300" start >&2
  fi

  if ! redis-cli -h 127.0.0.1 -p "$redis_port" ping >/dev/null 2>&1; then
    redis-server --bind 127.0.0.1 --port "$redis_port" --save "" --appendonly no --daemonize yes \
      --pidfile "$dir/redis.pid" --logfile "$dir/redis.log" --dir "$dir" >&2
    for _ in $(seq 1 50); do
      redis-cli -h 127.0.0.1 -p "$redis_port" ping >/dev/null 2>&1 && break
      sleep 0.1
    done
  fi

  echo "export FORMANOVA_TEST_POSTGRES='Host=127.0.0.1;Port=$pg_port;Username=postgres;Database=postgres;Pooling=true'"
  echo "export FORMANOVA_TEST_REDIS='127.0.0.1:$redis_port'"
}

stop() {
  if [ -f "$dir/pg/PG_VERSION" ]; then
    runuser -u postgres -- "$pg_bin/pg_ctl" -D "$dir/pg" -m fast stop >/dev/null 2>&1 || true
  fi
  if [ -f "$dir/redis.pid" ]; then
    redis-cli -h 127.0.0.1 -p "$redis_port" shutdown nosave >/dev/null 2>&1 || kill "$(cat "$dir/redis.pid")" 2>/dev/null || true
  fi
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  *) echo "usage: $0 start|stop" >&2; exit 2 ;;
esac
