#!/usr/bin/env bash
# Builds helm from its Go module (only the Go module proxy answers here) into a cache outside
# the checkout, keyed by version, as hack/cluster/build.sh caches Kubernetes:
#   ~/.cache/app-operator/helm-<version>/bin/helm
# Prints the binary's path on the last line of stdout; progress goes to stderr.
# HELM=/path/to/helm skips the build (a helm of your own).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=hack/helm/version.sh
source "$here/version.sh"
if [ -n "${HELM:-}" ]; then echo "$HELM"; exit 0; fi
cache=${APP_OPERATOR_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/app-operator}/helm-$HELM_VERSION
bin="$cache/bin/helm"
log() { printf '[helm-build] %s\n' "$*" >&2; }
mkdir -p "$cache"
exec 9>"$cache/.build.lock"
flock 9
if [ -x "$bin" ] && [ "$("$bin" version --template '{{.Version}}')" = "$HELM_VERSION" ]; then
    echo "$bin"; exit 0
fi
# helm's Makefile stamps its version and the Kubernetes version it assumes without a cluster
# (`helm template`, `helm lint`) from the client-go it is built with: do the same, or helm
# believes it talks to Kubernetes 1.20 and a chart's kubeVersion >= 1.30 fails to render.
mod=$(cd /tmp && GOFLAGS=-mod=mod go mod download -json "helm.sh/helm/v3@$HELM_VERSION" |
      sed -nE 's/^[[:space:]]*"GoMod": "(.*)",?$/\1/p')
client_go=$(sed -nE 's#^[[:space:]]*k8s.io/client-go v0\.([0-9]+)\..*#\1#p' "$mod" | head -n 1)
[ -n "$client_go" ] || { log "no k8s.io/client-go in $mod"; exit 1; }
ldflags="-s -w -X helm.sh/helm/v3/internal/version.version=$HELM_VERSION"
ldflags+=" -X helm.sh/helm/v3/internal/version.gitTreeState=clean"
for pkg in helm.sh/helm/v3/pkg/lint/rules helm.sh/helm/v3/pkg/chartutil; do
    ldflags+=" -X $pkg.k8sVersionMajor=1 -X $pkg.k8sVersionMinor=$client_go"
done
log "building helm $HELM_VERSION (Kubernetes 1.$client_go assumed offline); a few minutes the first time"
start=$SECONDS
# go install, not go build: no go.mod of ours; the module's own go.sum pins its dependencies.
(cd /tmp && CGO_ENABLED=0 GOBIN="$cache/bin.new" GOFLAGS="-trimpath -buildvcs=false" \
    go install -ldflags "$ldflags" "helm.sh/helm/v3/cmd/helm@$HELM_VERSION") >"$cache/build.log" 2>&1 || {
    tail -n 30 "$cache/build.log" >&2; exit 1; }
rm -rf "$cache/bin" && mv "$cache/bin.new" "$cache/bin"
log "helm $HELM_VERSION built in $(( SECONDS - start ))s"
echo "$bin"
