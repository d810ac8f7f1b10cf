#!/bin/sh
# Refuses to let the compose stack start with a placeholder or short secret. Compose's ${VAR:?} only catches an
# unset value; "change-me" from .env.example would otherwise become the real PostgreSQL, Redis and Grafana password.
# Runs in the one-shot "preflight" service (every service that takes a secret waits for it to succeed) and in
# deploy/validate.sh. POSIX sh: the image it runs in has only busybox.
#   POSTGRES_PASSWORD=... REDIS_PASSWORD=... deploy/compose/preflight.sh   exits 1 and names each bad variable
set -u

min_length=16
bad=0

# Lower-cased values that are placeholders or the services' well-known defaults, whatever their length.
placeholder() {
  case "$(printf '%s' "$1" | tr '[:upper:]' '[:lower:]')" in
    change-me | changeme | change_me | changeit | password | passw0rd | secret | admin | postgres | redis | grafana \
      | temporal | formanova | example | test | default | xxx* | todo* | "<"*">" | *change-me* | *changeme*)
      return 0 ;;
  esac
  return 1
}

check() {
  name="$1"
  minimum="$2"
  eval "value=\${$name:-}"
  if [ -z "$value" ]; then
    echo "preflight: $name is not set: set it in .env (see .env.example)" >&2
    bad=1
  elif placeholder "$value"; then
    echo "preflight: $name is a placeholder value: replace it in .env, e.g. with \$(openssl rand -hex 24)" >&2
    bad=1
  elif [ "${#value}" -lt "$minimum" ]; then
    echo "preflight: $name has ${#value} characters; use at least $minimum, e.g. \$(openssl rand -hex 24)" >&2
    bad=1
  fi
}

check POSTGRES_PASSWORD "$min_length"
check TEMPORAL_DB_PASSWORD "$min_length"
check REDIS_PASSWORD "$min_length"
check GRAFANA_ADMIN_PASSWORD "$min_length"
# The host refuses a bootstrap key under 24 characters too (Auth:BootstrapKey); failing here says so before any
# service starts rather than in the API's crash loop.
check FORMANOVA_BOOTSTRAP_KEY 24

if [ "$bad" -ne 0 ]; then
  echo "preflight: refusing to start the stack" >&2
  exit 1
fi
echo "preflight: secrets look real"
