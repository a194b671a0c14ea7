#!/usr/bin/env bash
# Builds Traefik (the kind tier's Gateway API implementation) from its Go module, CGO off, into
# a cache outside the checkout, keyed by content (Traefik's version, the Go toolchain, this
# script, traefik-ext/ and lego-dns/), as hack/helm/build.sh caches helm:
#   ~/.cache/app-operator/traefik-<version>/bin/traefik   (bin/.key: the key it was built for)
# Prints the binary's path on the last line of stdout; progress goes to stderr.
# TRAEFIK=/path/to/traefik skips the build (a traefik of your own).
#
# What the Go module proxy here does not give, and what is done instead:
# - the nested module github.com/traefik/traefik/dynamic/ext (go.mod replaces it with
#   ./pkg/config/dynamic/ext, which no module zip carries): traefik-ext/ of this directory;
# - the web UI's built assets (webui/static holds only a placeholder, the UI is built with
#   Node in Traefik's release): the binary embeds the placeholder and the kind tier runs with
#   the dashboard off, so nothing serves it;
# - the version of Traefik's fork of go-http-auth that go.mod replaces
#   github.com/abbot/go-http-auth with (github.com/containous/go-http-auth, a 2026 commit):
#   the fork's 2020 commit, which Traefik v2 used and which has all Traefik calls (upstream
#   v0.4.0 lacks CheckSecret and RequireAuthStale); only the basicAuth and digestAuth
#   middlewares use it, and the kind tier uses neither;
# - the SDKs of six DNS hosts that lego's registry of ACME DNS-01 providers imports: lego is
#   copied beside the source with that one package replaced by lego-dns/ of this directory
#   (no DNS provider; ACME's HTTP and TLS challenges are unchanged), which also spares
#   compiling some 180 providers.
# `go install ...@version` refuses a module with replace directives, so the module is copied
# to a work directory and built there with its own go.mod and go.sum.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=hack/gateway/versions.sh
source "$here/versions.sh"
if [ -n "${TRAEFIK:-}" ]; then echo "$TRAEFIK"; exit 0; fi
log() { printf '[traefik-build] %s\n' "$*" >&2; }
cache="$APP_OPERATOR_CACHE/traefik-$TRAEFIK_VERSION"
bin="$cache/bin/traefik"
mkdir -p "$cache"
exec 9>"$cache/.build.lock"
if ! flock -n 9; then
    log "another build of Traefik $TRAEFIK_VERSION runs: waiting for it"
    flock 9
fi
key=$( { echo "$TRAEFIK_VERSION"; go version; cat "$0" "$here"/traefik-ext/* "$here"/lego-dns/*; } |
       sha256sum | cut -c1-16)
if [ -x "$bin" ] && [ "$(cat "$cache/bin/.key" 2>/dev/null)" = "$key" ]; then
    echo "$bin"; exit 0
fi
start=$SECONDS
module=github.com/traefik/traefik/v3
log "downloading $module@$TRAEFIK_VERSION from the Go module proxy"
dir=$(cd /tmp && GOFLAGS=-mod=mod go mod download -json "$module@$TRAEFIK_VERSION" |
      sed -nE 's/^[[:space:]]*"Dir": "(.*)",?$/\1/p')
[ -d "$dir" ] || { log "go mod download $module@$TRAEFIK_VERSION gave no directory"; exit 1; }
want=$(sed -nE 's/^go ([0-9.]+).*/\1/p' "$dir/go.mod")
have=$(go env GOVERSION | sed 's/^go//')
if [ "$(printf '%s\n%s\n' "$want" "$have" | sort -V | head -n 1)" != "$want" ]; then
    log "Traefik $TRAEFIK_VERSION's go.mod asks for Go $want; this machine has $have:" \
        "set TRAEFIK_VERSION in hack/gateway/versions.sh to a release that accepts it"
    exit 1
fi
src="$cache/src"
rm -rf "$src" && cp -r "$dir" "$src" && chmod -R u+w "$src"
mkdir -p "$src/pkg/config/dynamic/ext"
cp "$here"/traefik-ext/* "$src/pkg/config/dynamic/ext/"
http_auth=v0.4.1-0.20200324110947-a37a7636d23e
lego=github.com/go-acme/lego/v5
lego_version=$(sed -nE "s#^[[:space:]]*$lego (v[^ ]+).*#\1#p" "$src/go.mod" | head -n 1)
lego_dir=$(cd /tmp && GOFLAGS=-mod=mod go mod download -json "$lego@$lego_version" |
           sed -nE 's/^[[:space:]]*"Dir": "(.*)",?$/\1/p')
[ -d "$lego_dir" ] || { log "go mod download $lego@$lego_version gave no directory"; exit 1; }
# _lego: a directory whose name starts with _ is not part of Traefik's own packages
cp -r "$lego_dir" "$src/_lego" && chmod -R u+w "$src/_lego"
rm -f "$src"/_lego/providers/dns/*.go
cp "$here"/lego-dns/providers.go "$src/_lego/providers/dns/"
(cd "$src" && go mod edit -replace "$lego=./_lego" \
    -replace "github.com/abbot/go-http-auth=github.com/containous/go-http-auth@$http_auth")
ldflags="-s -w -X $module/pkg/version.Version=$TRAEFIK_VERSION -X $module/pkg/version.Codename=app-operator"
log "building traefik $TRAEFIK_VERSION (CGO off): about 12 minutes on 2 cores the first time, log in $cache/build.log"
rm -rf "$cache/bin.new" && mkdir -p "$cache/bin.new"
# -mod=mod: go.sum gets the lines of that go-http-auth (checked against sum.golang.org)
(cd "$src" && CGO_ENABLED=0 GOFLAGS="-trimpath -buildvcs=false -mod=mod" \
    go build -v -ldflags "$ldflags" -o "$cache/bin.new/traefik" ./cmd/traefik) >"$cache/build.log" 2>&1 &
pid=$!
next=$(( SECONDS + 30 ))
while kill -0 "$pid" 2>/dev/null; do
    sleep 2
    if (( SECONDS >= next )); then
        log "$(( SECONDS - start ))s, $(grep -cv '^go: downloading' "$cache/build.log") packages compiled so far"
        next=$(( SECONDS + 30 ))
    fi
done
if ! wait "$pid"; then
    tail -n 30 "$cache/build.log" >&2
    log "the build failed, full log in $cache/build.log"
    exit 1
fi
"$cache/bin.new/traefik" version >&2
echo "$key" >"$cache/bin.new/.key"
rm -rf "$cache/bin" "$src" && mv "$cache/bin.new" "$cache/bin"
log "traefik $TRAEFIK_VERSION built in $(( SECONDS - start ))s"
echo "$bin"
