#!/usr/bin/env bash
# Builds the Traefik image the kind tier's gateway runs, locally (no registry answers here),
# from the binary of build-traefik.sh. The tag carries a hash of the binary and the
# Dockerfile, so a new binary makes a new tag (the Deployment rolls) and an unchanged one is
# reused. Prints the image's name on the last line of stdout; progress goes to stderr.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
# shellcheck source=hack/gateway/versions.sh
source "$here/versions.sh"
log() { printf '[traefik-image] %s\n' "$*" >&2; }
docker=$("$root/hack/images/docker.sh")
bin=$("$here/build-traefik.sh" | tail -n 1)
key=$(cat "$bin" "$here/traefik.Dockerfile" | sha256sum | cut -c1-12)
image="$TRAEFIK_IMAGE_REPO:$TRAEFIK_VERSION-$key"
if "$docker" image inspect "$image" >/dev/null 2>&1; then
    echo "$image"; exit 0
fi
start=$SECONDS
context=$(mktemp -d)
trap 'rm -rf "$context"' EXIT
cp "$bin" "$context/traefik"
cp "$here/traefik.Dockerfile" "$context/Dockerfile"
"$docker" build -q -t "$image" "$context" >/dev/null
log "$image built in $(( SECONDS - start ))s"
echo "$image"
