#!/usr/bin/env bash
# Regenerates Formanova.Client/Generated from the committed OpenAPI snapshot docs/openapi.json with the Kiota version
# pinned in .config/dotnet-tools.json. CI runs it and fails when the result differs from what is committed.
set -euo pipefail
cd "$(dirname "$0")/.."

dotnet tool restore >/dev/null

# Kiota asks GitHub for a newer release on every run; a proxy on a closed loopback port keeps that request on this
# machine (it fails at once and Kiota goes on), and the update switch skips it where Kiota honours it.
log=$(mktemp)
input=$(mktemp --suffix=.json)
trap 'rm -f "$log" "$input"' EXIT

cp docs/openapi.json "$input"
if ! HTTPS_PROXY=http://127.0.0.1:9 HTTP_PROXY=http://127.0.0.1:9 NO_PROXY= \
  KIOTA_UPDATE__DISABLED=true KIOTA_TUTORIAL_ENABLED=false KIOTA_CONSOLE_COLORS_ENABLED=false \
  dotnet kiota generate \
    --language CSharp \
    --openapi "$input" \
    --output Formanova.Client/Generated \
    --class-name FormanovaApiClient \
    --namespace-name Formanova.Client.Generated \
    --exclude-backward-compatible \
    --clean-output \
    --log-level Warning >"$log" 2>&1; then
  cat "$log"
  exit 1
fi
# Kiota leaves its own log in the output folder; the lock file and the code depend on the document alone.
rm -f Formanova.Client/Generated/.kiota.log
lock=Formanova.Client/Generated/kiota-lock.json
jq --indent 2 '.descriptionLocation = "../../docs/openapi.json"' "$lock" >"$log" && cp "$log" "$lock"
echo "Formanova.Client/Generated regenerated from docs/openapi.json"
