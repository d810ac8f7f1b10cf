#!/usr/bin/env bash
# Lints the committed OpenAPI document (docs/openapi.json, kept equal to the served one by OpenApiDocumentTests) with
# the pinned Redocly and Spectral CLIs in scripts/openapi-lint/. Any error or warning from either fails.
# Usage: scripts/lint-openapi.sh [document]   (installs the linters with `npm ci` on first use)
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
lint="$root/scripts/openapi-lint"
document="$(realpath "${1:-$root/docs/openapi.json}")"

if [ ! -x "$lint/node_modules/.bin/redocly" ] || [ ! -x "$lint/node_modules/.bin/spectral" ]; then
  (cd "$lint" && npm ci --no-audit --no-fund --loglevel=error)
fi

status=0
echo "Redocly (recommended-strict):"
(cd "$lint" && REDOCLY_TELEMETRY=off REDOCLY_SUPPRESS_UPDATE_NOTICE=true \
  node_modules/.bin/redocly lint --config redocly.yaml --format=stylish "$document") || status=1
echo "Spectral (spectral:oas, fail on warn):"
(cd "$lint" && node_modules/.bin/spectral lint --ruleset .spectral.yaml --fail-severity=warn "$document") || status=1
exit "$status"
