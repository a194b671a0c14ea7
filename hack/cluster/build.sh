#!/usr/bin/env bash
# Builds the local cluster's binaries from Go modules into a cache outside the checkout,
# so every clone (and CI) on this machine reuses one build:
#   kube-apiserver, kube-controller-manager, kube-scheduler, kubectl  (hack/cluster/go.mod)
#   etcd 3.6                                                          (hack/cluster/etcd/go.mod)
#   kwok, kwokctl                                                     (go install ...@KWOK_VERSION)
# Prints the cache's bin directory on the last line of stdout; progress goes to stderr.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=hack/cluster/versions.sh
source "$here/versions.sh"

bin="$CLUSTER_CACHE/bin"
mkdir -p "$CLUSTER_CACHE"
exec 9>"$CLUSTER_CACHE/.build.lock"
flock 9

log() { printf '[cluster-build] %s\n' "$*" >&2; }

# go build -v prints one line per package it compiles: count them to show progress.
build_with_progress() {
    local what=$1 logfile=$2
    shift 2
    local start=$SECONDS
    ("$@" >"$logfile" 2>&1) &
    local pid=$!
    while kill -0 "$pid" 2>/dev/null; do
        sleep 15
        kill -0 "$pid" 2>/dev/null || break
        log "$what: $(( SECONDS - start ))s, $(wc -l <"$logfile") packages compiled so far"
    done
    if ! wait "$pid"; then
        tail -n 40 "$logfile" >&2
        log "$what: build failed, full log in $logfile"
        return 1
    fi
    log "$what: built in $(( SECONDS - start ))s"
}

stamp_matches() { [ -f "$1" ] && [ "$(cat "$1")" = "$2" ]; }

total_start=$SECONDS
built_any=false
export CGO_ENABLED=0 GOFLAGS="-trimpath -buildvcs=false"

k8s_stamp="$K8S_VERSION $(cat "$here/go.mod" "$here/go.sum" | sha256sum | cut -c1-16)"
if ! stamp_matches "$bin/.k8s.stamp" "$k8s_stamp"; then
    log "building Kubernetes $K8S_VERSION (kube-apiserver, kube-controller-manager, kube-scheduler, kubectl)"
    log "a cold build takes 15-30 minutes on 2 cores; later runs reuse $CLUSTER_CACHE"
    minor=${K8S_VERSION#v1.}; minor=${minor%%.*}
    ldflags=""
    for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
        ldflags+=" -X $pkg.gitVersion=$K8S_VERSION -X $pkg.gitMajor=1 -X $pkg.gitMinor=$minor"
        ldflags+=" -X $pkg.gitTreeState=clean -X $pkg.buildDate=$(date -u +%Y-%m-%dT%H:%M:%SZ)"
    done
    staging="$CLUSTER_CACHE/staging-k8s"
    rm -rf "$staging" && mkdir -p "$staging"
    (cd "$here" && build_with_progress "kubernetes" "$CLUSTER_CACHE/build-k8s.log" \
        go build -v -ldflags "-s -w$ldflags" -o "$staging/" \
        k8s.io/kubernetes/cmd/kube-apiserver k8s.io/kubernetes/cmd/kube-controller-manager \
        k8s.io/kubernetes/cmd/kube-scheduler k8s.io/kubernetes/cmd/kubectl)
    mkdir -p "$bin"
    mv "$staging"/* "$bin/" && rmdir "$staging"
    echo "$k8s_stamp" >"$bin/.k8s.stamp"
    built_any=true
fi

etcd_stamp="$ETCD_VERSION $(cat "$here/etcd/go.mod" "$here/etcd/go.sum" | sha256sum | cut -c1-16)"
if ! stamp_matches "$bin/.etcd.stamp" "$etcd_stamp"; then
    log "building etcd $ETCD_VERSION"
    mkdir -p "$bin"
    (cd "$here/etcd" && build_with_progress "etcd" "$CLUSTER_CACHE/build-etcd.log" \
        go build -v -ldflags "-s -w" -o "$bin/etcd.new" .)
    mv "$bin/etcd.new" "$bin/etcd"
    echo "$etcd_stamp" >"$bin/.etcd.stamp"
    built_any=true
fi

if ! stamp_matches "$bin/.kwok.stamp" "$KWOK_VERSION"; then
    log "building kwok and kwokctl $KWOK_VERSION"
    mkdir -p "$bin"
    build_with_progress "kwok" "$CLUSTER_CACHE/build-kwok.log" \
        env GOBIN="$bin" go install -v -ldflags "-s -w" \
        "sigs.k8s.io/kwok/cmd/kwok@$KWOK_VERSION" "sigs.k8s.io/kwok/cmd/kwokctl@$KWOK_VERSION"
    # kwok's published stages (node heartbeat, pod readiness, volume provisioning) are read
    # from its module at cluster creation; keep them next to the binaries.
    kwok_dir=$(cd / && go mod download -json "sigs.k8s.io/kwok@$KWOK_VERSION" | sed -n 's/.*"Dir": "\(.*\)",/\1/p')
    rm -rf "$CLUSTER_CACHE/kwok-stages" && mkdir -p "$CLUSTER_CACHE/kwok-stages"
    for stage in node/fast/node-initialize node/heartbeat-with-lease/node-heartbeat-with-lease \
        pod/fast/pod-ready pod/fast/pod-complete pod/fast/pod-delete \
        volume/fast/pvc-delete volume/fast/pv-bind volume/fast/pv-delete; do
        cp "$kwok_dir/kustomize/stage/$stage.yaml" "$CLUSTER_CACHE/kwok-stages/"
    done
    echo "$KWOK_VERSION" >"$bin/.kwok.stamp"
    built_any=true
fi

if $built_any; then
    log "all binaries built in $(( SECONDS - total_start ))s; cache size $(du -sh "$CLUSTER_CACHE" | cut -f1)"
fi
echo "$bin"
