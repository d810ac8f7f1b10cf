#!/usr/bin/env bash
# Moves the image pins in Dockerfile and docker-compose.yml: for every image written as name:tag[@sha256:...], asks
# the registry for the digest the tag names today and writes name:tag@sha256:<digest>. To move to a new release,
# edit the tag first (e.g. aspnet:10.0.12 -> 10.0.13), then run this; review the diff and rebuild.
#   deploy/tools/pin-images.sh           rewrite the files
#   deploy/tools/pin-images.sh --check   only list pins whose tag now names another digest (a rebuilt base image)
# Needs a registry client: crane, `docker buildx imagetools`, or skopeo (tried in that order), or a command of your
# own in FORMANOVA_DIGEST_RESOLVER that prints the index digest of the reference it is given.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."

resolve() {
  if [ -n "${FORMANOVA_DIGEST_RESOLVER:-}" ]; then
    $FORMANOVA_DIGEST_RESOLVER "$1"
  elif command -v crane >/dev/null 2>&1; then
    crane digest "$1"
  elif docker buildx version >/dev/null 2>&1; then
    docker buildx imagetools inspect --format '{{json .Manifest.Digest}}' "$1" | tr -d '"'
  elif command -v skopeo >/dev/null 2>&1; then
    skopeo inspect --format '{{.Digest}}' "docker://$1"
  else
    echo "pin-images: no registry client (crane, docker buildx, skopeo) and no FORMANOVA_DIGEST_RESOLVER" >&2
    exit 2
  fi
}

check_only=0
[ "${1:-}" = "--check" ] && check_only=1
moved=0
# Our own image (formanova:...) is built here, not pulled.
refs=$(grep -hoE '^(FROM|[[:space:]]+image:)[[:space:]]+[^[:space:]]+' Dockerfile docker-compose.yml \
  | awk '{print $2}' | grep -v '^formanova:' | sort -u)
for ref in $refs; do
  tagged="${ref%@*}"
  digest=$(resolve "$tagged")
  [[ "$digest" =~ ^sha256:[0-9a-f]{64}$ ]] || { echo "pin-images: $tagged resolved to '$digest'" >&2; exit 1; }
  [ "$ref" = "$tagged@$digest" ] && continue
  moved=$((moved + 1))
  echo "$ref -> $tagged@$digest"
  if [ "$check_only" -eq 0 ]; then
    # Exact string replacement (no regex): image names contain dots and slashes.
    for file in Dockerfile docker-compose.yml; do
      REF="$ref" NEW="$tagged@$digest" perl -0pi -e 's/\Q$ENV{REF}\E(?=\s)/$ENV{NEW}/g' "$file"
    done
  fi
done
echo "pin-images: $moved pin(s) $([ "$check_only" -eq 1 ] && echo "would move" || echo "moved")"
[ "$check_only" -eq 0 ] || [ "$moved" -eq 0 ]
