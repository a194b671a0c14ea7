#!/usr/bin/env bash
# The Gateway API CRDs (standard channel) from the Go module sigs.k8s.io/gateway-api (GitHub's
# release files do not answer here; the module zip carries the same config/crd/standard/), as
# one file in a cache outside the checkout, named by its content:
#   ~/.cache/app-operator/gateway-api-<version>/standard-<sha256 prefix>.yaml
# The module's files are checked by Go against the checksum database on download. Prints the
# file's path on the last line of stdout.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=hack/gateway/versions.sh
source "$here/versions.sh"
log() { printf '[gateway-api] %s\n' "$*" >&2; }
cache="$APP_OPERATOR_CACHE/gateway-api-$GATEWAY_API_VERSION"
mkdir -p "$cache"
exec 9>"$cache/.lock"
flock 9
pointer="$cache/current-$(sha256sum <"$0" | cut -c1-12)"  # a changed script makes the file again
if [ -s "$pointer" ] && [ -s "$cache/$(cat "$pointer")" ]; then
    echo "$cache/$(cat "$pointer")"; exit 0
fi
module=sigs.k8s.io/gateway-api
log "downloading $module@$GATEWAY_API_VERSION from the Go module proxy"
dir=$(cd /tmp && GOFLAGS=-mod=mod go mod download -json "$module@$GATEWAY_API_VERSION" |
      sed -nE 's/^[[:space:]]*"Dir": "(.*)",?$/\1/p')
kustomization="$dir/config/crd/kustomization.yaml"
[ -s "$kustomization" ] || { log "$module@$GATEWAY_API_VERSION has no $kustomization"; exit 1; }
# the standard channel's files, in the order of the module's own kustomization.yaml
mapfile -t files < <(sed -nE 's#^[[:space:]]*-[[:space:]]+(standard/.*\.yaml)$#\1#p' "$kustomization")
[ "${#files[@]}" -gt 0 ] || { log "no standard/*.yaml listed in $kustomization"; exit 1; }
tmp=$(mktemp "$cache/.bundle.XXXXXX")
for f in "${files[@]}"; do
    grep -q "gateway.networking.k8s.io/channel: standard\|kind: ValidatingAdmissionPolicy" "$dir/config/crd/$f" ||
        { rm -f "$tmp"; log "$f is not of the standard channel"; exit 1; }
    printf -- '---\n# %s@%s config/crd/%s\n' "$module" "$GATEWAY_API_VERSION" "$f" >>"$tmp"
    cat "$dir/config/crd/$f" >>"$tmp"
done
name="standard-$(sha256sum <"$tmp" | cut -c1-16).yaml"
mv "$tmp" "$cache/$name"
echo "$name" >"$pointer"
log "${#files[@]} files of the standard channel in $cache/$name"
echo "$cache/$name"
