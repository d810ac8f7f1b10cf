#!/usr/bin/env bash
# Validates the deployment and observability files with whatever tools this machine has, and says which checks
# it skipped. Exits 1 if a check that ran found a problem.
#   deploy/validate.sh             run the checks
#   deploy/validate.sh --install   first install the tools (apt-get as root, npm into $FORMANOVA_TOOLS_DIR)
# Nothing here builds images or talks to a Docker engine or a cluster: neither exists on a developer machine.
set -uo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
tools="${FORMANOVA_TOOLS_DIR:-/tmp/formanova-tools}"
cd "$root" || exit 2

failed=()
skipped=()
passed=()

section() { printf '\n== %s\n' "$*"; }
pass() { passed+=("$1"); echo "PASS $1"; }
fail() { failed+=("$1"); echo "FAIL $1"; }
skip() { skipped+=("$1: $2"); echo "SKIP $1: $2"; }
have() { command -v "$1" >/dev/null 2>&1; }
# Runs a check, printing its output, and records the outcome under the given name.
run() {
  local name="$1"; shift
  if "$@"; then pass "$name"; else fail "$name"; fi
}

install_tools() {
  local packages=()
  have promtool || packages+=(prometheus)
  have yamllint || packages+=(yamllint)
  have shellcheck || packages+=(shellcheck)
  have docker-compose || packages+=(docker-compose)
  if [ ${#packages[@]} -gt 0 ]; then
    # policy-rc.d keeps the prometheus package from starting a server: only promtool is wanted.
    local own_policy=""
    if [ ! -e /usr/sbin/policy-rc.d ]; then
      printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d && chmod +x /usr/sbin/policy-rc.d && own_policy=1
    fi
    DEBIAN_FRONTEND=noninteractive apt-get update -qq \
      && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${packages[@]}"
    [ -n "$own_policy" ] && rm -f /usr/sbin/policy-rc.d
  fi
  if have npm; then
    mkdir -p "$tools"
    (cd "$tools" && npm install --no-audit --no-fund --loglevel=error \
      dockerfilelint@1.8.0 dockerfile-utils@0.16.3 kubernetes-models@4.5.1 js-yaml@5.5.0)
  fi
}

[ "${1:-}" = "--install" ] && install_tools

yaml_files=(docker-compose.yml)
while IFS= read -r file; do yaml_files+=("$file"); done < <(find deploy -type f \( -name '*.yml' -o -name '*.yaml' \) | sort)

section "YAML well-formedness"
if have python3 && python3 -c 'import yaml' 2>/dev/null; then
  run "yaml parse (${#yaml_files[@]} files)" python3 - "${yaml_files[@]}" <<'EOF'
import sys, yaml
bad = 0
for path in sys.argv[1:]:
    try:
        with open(path) as handle:
            list(yaml.safe_load_all(handle))
    except yaml.YAMLError as error:
        bad += 1
        print(f"{path}: {error}")
sys.exit(1 if bad else 0)
EOF
else
  skip "yaml parse" "python3 with PyYAML not found"
fi
if have yamllint; then
  run "yamllint" yamllint -c deploy/yamllint.yml "${yaml_files[@]}"
else
  skip "yamllint" "not installed (apt-get install yamllint)"
fi

section "JSON"
if have python3; then
  run "dashboard JSON" python3 -m json.tool deploy/grafana/dashboards/formanova.json /dev/null
else
  skip "dashboard JSON" "python3 not found"
fi

section "Prometheus"
if have promtool; then
  run "promtool check config" promtool check config deploy/prometheus/prometheus.yml
  if promtool check config deploy/prometheus/prometheus-kubernetes.yml >/dev/null 2>&1; then
    pass "promtool check config (kubernetes)"
  elif have python3 && python3 -c 'import yaml' 2>/dev/null; then
    # Debian builds Prometheus without Kubernetes service discovery, so its promtool rejects kubernetes_sd_configs.
    # Check everything else (relabelling, rule files) with a static target in its place.
    scratch="$(mktemp -d)"
    cp deploy/prometheus/alerts.yml "$scratch/"
    python3 - deploy/prometheus/prometheus-kubernetes.yml "$scratch/prometheus.yml" <<'EOF'
import sys, yaml
config = yaml.safe_load(open(sys.argv[1]))
for job in config["scrape_configs"]:
    if job.pop("kubernetes_sd_configs", None) is not None:
        job["static_configs"] = [{"targets": ["pod.example:8080"]}]
yaml.safe_dump(config, open(sys.argv[2], "w"))
EOF
    run "promtool check config (kubernetes; service discovery replaced by a static target)" promtool check config "$scratch/prometheus.yml"
    rm -rf "$scratch"
  else
    skip "promtool check config (kubernetes)" "this promtool lacks Kubernetes service discovery"
  fi
  run "promtool check rules" promtool check rules deploy/prometheus/alerts.yml
  run "promtool test rules" promtool test rules deploy/prometheus/alerts.test.yml
  if have python3 && python3 -c 'import yaml' 2>/dev/null; then
    # Every dashboard query, with Grafana's variables filled in, must parse as PromQL.
    scratch="$(mktemp -d)"
    python3 - "$scratch/dashboard-rules.yml" <<'EOF'
import json, sys, yaml
dashboard = json.load(open("deploy/grafana/dashboards/formanova.json"))
rules = []
for panel in dashboard["panels"]:
    for target in panel.get("targets", []):
        expr = target["expr"].replace("$__rate_interval", "5m").replace("$role", ".*").replace("$instance", ".*")
        rules.append({"record": f"dashboard:query_{len(rules)}", "expr": expr})
yaml.safe_dump({"groups": [{"name": "dashboard", "rules": rules}]}, open(sys.argv[1], "w"))
EOF
    run "dashboard PromQL (promtool)" promtool check rules "$scratch/dashboard-rules.yml"
    rm -rf "$scratch"
  fi
else
  skip "promtool" "not installed (apt-get install prometheus ships it)"
fi

section "docker compose"
if docker compose version >/dev/null 2>&1; then
  run "docker compose config" docker compose --env-file .env.example -f docker-compose.yml config --quiet
elif have docker-compose; then
  # The Python docker-compose 1.29 validates against the Compose Specification schema; Compose v2 is stricter
  # about some fields, and neither is a substitute for `docker compose up`.
  run "docker-compose config (v1)" docker-compose --env-file .env.example -f docker-compose.yml config --quiet
else
  skip "compose config" "neither the docker compose plugin nor docker-compose is installed"
fi
# The preflight service's script, as the container runs it: .env.example's placeholders are refused, each by name,
# and real-looking secrets pass.
preflight_refuses_placeholders() {
  local out secret
  # shellcheck disable=SC2046 # one word per KEY=value line of .env.example, none with spaces
  if out=$(env -i $(grep -E '^[A-Z_]+=' .env.example) sh deploy/compose/preflight.sh 2>&1); then
    echo "preflight accepted .env.example's placeholders"; return 1
  fi
  for secret in POSTGRES_PASSWORD TEMPORAL_DB_PASSWORD REDIS_PASSWORD GRAFANA_ADMIN_PASSWORD FORMANOVA_BOOTSTRAP_KEY; do
    grep -q "$secret" <<<"$out" || { echo "preflight did not name $secret: $out"; return 1; }
  done
  env -i POSTGRES_PASSWORD=7f3a9c1e5b2d8f4a6c0e TEMPORAL_DB_PASSWORD=2b8e4f6a0c9d1e3f5a7b REDIS_PASSWORD=9d1f3b5e7a2c4e6f8a0b \
    GRAFANA_ADMIN_PASSWORD=5c7e9a1b3d5f7a9c1e3b FORMANOVA_BOOTSTRAP_KEY=0a2c4e6f8b1d3f5a7c9e1b3d5f7a9c1e \
    sh deploy/compose/preflight.sh
}
run "compose preflight refuses placeholder secrets" preflight_refuses_placeholders
skip "compose up" "no Docker engine on this machine: images are not built or started"

section "Kubernetes"
rendered=""
if have kubectl; then
  rendered="$(mktemp)"
  run "kubectl kustomize" kubectl kustomize deploy/k8s -o "$rendered"
else
  skip "kustomize render" "kubectl not installed"
fi
if have node && [ -d "$tools/node_modules/kubernetes-models" ] && [ -d "$tools/node_modules/js-yaml" ]; then
  # The files as written, and as kustomize renders them (namespace and image applied).
  k8s_files=()
  for file in deploy/k8s/*.yaml deploy/k8s/optional/*.yaml; do
    [ "$file" = deploy/k8s/kustomization.yaml ] || k8s_files+=("$file")
  done
  [ -n "$rendered" ] && [ -s "$rendered" ] && k8s_files+=("$rendered")
  run "schemas (kubernetes-models, Kubernetes 1.27 OpenAPI)" \
    env NODE_PATH="$tools/node_modules" node deploy/tools/k8s-schema.js "${k8s_files[@]}"
else
  skip "Kubernetes schemas" "node or the npm tools in $tools missing (deploy/validate.sh --install)"
fi
[ -n "$rendered" ] && rm -f "$rendered"
if have python3 && python3 -c 'import yaml' 2>/dev/null; then
  run "cross-file consistency" python3 deploy/tools/consistency.py
else
  skip "cross-file consistency" "python3 with PyYAML not found"
fi
skip "kubectl apply --dry-run=server" "no cluster"

section "Dockerfile"
if [ -x "$tools/node_modules/.bin/dockerfile-utils" ]; then
  run "dockerfile-utils lint" "$tools/node_modules/.bin/dockerfile-utils" lint Dockerfile
else
  skip "dockerfile-utils" "not installed (deploy/validate.sh --install)"
fi
if [ -x "$tools/node_modules/.bin/dockerfilelint" ] && have python3; then
  # dockerfilelint 1.8.0 reads "--start-period" as the unknown option "--start" (its option regex stops at the
  # hyphen), so that one finding on the HEALTHCHECK line is discounted; anything else fails.
  "$tools/node_modules/.bin/dockerfilelint" -o json Dockerfile > "${TMPDIR:-/tmp}/dockerfilelint.json"
  run "dockerfilelint" python3 - "${TMPDIR:-/tmp}/dockerfilelint.json" <<'EOF'
import json, sys
report = json.load(open(sys.argv[1]))
issues = [issue for f in report["files"] for issue in f["issues"]
          if not (issue["title"] == "Invalid Argument Format" and issue["content"].startswith("HEALTHCHECK") and "--start-period" in issue["content"])]
for issue in issues:
    print(f"line {issue['line']}: {issue['title']}: {issue['content']}")
sys.exit(1 if issues else 0)
EOF
else
  skip "dockerfilelint" "not installed (deploy/validate.sh --install)"
fi
# deploy/tools/pin-images.sh against a stand-in registry, on copies: every pulled image gets the stand-in digest,
# no tag changes, and our own image is left alone.
pin_images_rewrites_every_pin() {
  local scratch digest
  scratch="$(mktemp -d)"
  digest="sha256:$(printf '0%.0s' $(seq 64))"
  mkdir -p "$scratch/deploy/tools"
  cp Dockerfile docker-compose.yml "$scratch/" && cp deploy/tools/pin-images.sh "$scratch/deploy/tools/"
  printf '#!/bin/sh\necho %s\n' "$digest" > "$scratch/resolver" && chmod +x "$scratch/resolver"
  FORMANOVA_DIGEST_RESOLVER="$scratch/resolver" "$scratch/deploy/tools/pin-images.sh" >/dev/null || { rm -rf "$scratch"; return 1; }
  local before after
  before=$(grep -hoE '^(FROM|[[:space:]]+image:)[[:space:]]+[^[:space:]]+' Dockerfile docker-compose.yml | awk '{print $2}' | sed 's/@.*//')
  after=$(grep -hoE '^(FROM|[[:space:]]+image:)[[:space:]]+[^[:space:]]+' "$scratch/Dockerfile" "$scratch/docker-compose.yml" | awk '{print $2}')
  local status=0
  [ "$(printf '%s\n' "$after" | sed 's/@.*//')" = "$before" ] || { echo "a tag changed"; status=1; }
  grep -v '^formanova:' <<<"$after" | grep -v "@$digest\$" && { echo "an image was not re-pinned"; status=1; }
  grep '^formanova:' <<<"$after" | grep -q '@' && { echo "our own image was pinned"; status=1; }
  rm -rf "$scratch"
  return "$status"
}
run "pin-images rewrites every pin (stand-in registry)" pin_images_rewrites_every_pin
skip "hadolint" "not packaged for Debian or npm (its npm wrapper downloads a binary, which this machine cannot)"
skip "docker build" "no Docker engine on this machine"

section "Other"
if have shellcheck; then
  run "shellcheck" shellcheck deploy/validate.sh deploy/tools/pin-images.sh deploy/compose/preflight.sh
else
  skip "shellcheck" "not installed"
fi
skip "OpenTelemetry collector config" "no otelcol binary to run 'otelcol validate' (YAML parsed above)"

section "Summary"
echo "passed:  ${#passed[@]}"
echo "skipped: ${#skipped[@]}"
for item in "${skipped[@]}"; do echo "  - $item"; done
echo "failed:  ${#failed[@]}"
for item in "${failed[@]}"; do echo "  - $item"; done
[ ${#failed[@]} -eq 0 ]
