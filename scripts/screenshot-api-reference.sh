#!/usr/bin/env bash
# Takes docs/images/api-reference.png (or the path given): the Scalar reference at /scalar in headless Chromium,
# scrolled to the first operation of /openapi/v1.json that has a description and a request example.
#   scripts/screenshot-api-reference.sh [output.png]
# It runs the page test, Formanova.Tests/Host/Api/ApiReferencePageTests.cs, which starts the real host on a free
# loopback port, checks what the page shows against the live document and lets the page reach nothing but loopback,
# so a screenshot is only written when that check passes. Needs Debian's chromium (apt-get install chromium; the
# script installs it as root when absent) or FORMANOVA_CHROMIUM naming a Chromium binary.
set -euo pipefail
cd "$(dirname "$0")/.."

out=$(realpath -m "${1:-docs/images/api-reference.png}")
mkdir -p "$(dirname "$out")"

if [ -z "${FORMANOVA_CHROMIUM:-}" ] && ! command -v chromium >/dev/null 2>&1; then
  echo "installing chromium" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >&2
  apt-get install -y -qq --no-install-recommends chromium >&2
fi

# FORMANOVA_REQUIRE_SERVICES=1: a missing browser fails instead of skipping, so no run ends without a screenshot.
rm -f "$out"
FORMANOVA_REQUIRE_SERVICES=1 FORMANOVA_API_REFERENCE_SCREENSHOT="$out" \
  dotnet test Formanova.Tests --filter "FullyQualifiedName~ApiReferencePageTests.Reference_WhenOpenedInHeadlessChromium" \
  --logger "console;verbosity=normal"
[ -s "$out" ] || { echo "no screenshot was written to $out" >&2; exit 1; }
echo "wrote $out"
