#!/usr/bin/env bash
# Builds every binary of the local kind node image from Go modules (and pause from C), into
# $KIND_CACHE/bin, each step skipped when its stamp (version + hash of its inputs) matches:
#   kind                                    go install sigs.k8s.io/kind@KIND_VERSION
#   kubelet kubeadm kube-proxy              k8s.io/kubernetes, the local cluster's go.mod
#   kube-apiserver kube-controller-manager kube-scheduler kubectl
#                                           reused from the local cluster's build (hack/cluster)
#   containerd ctr containerd-shim-runc-v2  github.com/containerd/containerd/v2
#   runc                                    github.com/opencontainers/runc (cgo, seccomp)
#   crictl                                  sigs.k8s.io/cri-tools
#   cni/{host-local,loopback,ptp,bridge,portmap}  github.com/containernetworking/plugins
#   etcd                                    hack/kind/etcd (go.etcd.io/etcd/server/v3)
#   coredns                                 hack/kind/coredns (github.com/coredns/coredns)
#   local-path-provisioner                  github.com/rancher/local-path-provisioner
#   pause                                   build/pause/linux/pause.c of k8s.io/kubernetes
# Prints the bin directory on stdout; progress on stderr.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=hack/kind/lib.sh
source "$here/lib.sh"

bin="$KIND_CACHE/bin"
logs="$KIND_CACHE/logs"
mkdir -p "$bin" "$logs"
exec 9>"$KIND_CACHE/.build-binaries.lock"
flock 9
export GOFLAGS="-trimpath -buildvcs=false"

# step NAME STAMP_KEY FUNCTION: runs FUNCTION unless bin/.NAME.stamp holds STAMP_KEY.
step() {
    local name=$1 key=$2 fn=$3
    if stamp_matches "$bin/.$name.stamp" "$key"; then return; fi
    log "building $name"
    "$fn"
    echo "$key" >"$bin/.$name.stamp"
}

build_kind() {
    run_logged "kind $KIND_VERSION" "$logs/kind.log" \
        env CGO_ENABLED=0 GOBIN="$bin" go install -v -ldflags "-s -w" "sigs.k8s.io/kind@$KIND_VERSION"
}

# The control plane binaries come from the local cluster's build (same module, same stamping):
# hack/cluster/build.sh builds them once (or waits for a build under way) and prints its bin dir.
build_control_plane() {
    local cluster_bin
    cluster_bin=$("$here/../cluster/build.sh")
    for b in kube-apiserver kube-controller-manager kube-scheduler kubectl; do
        cp "$cluster_bin/$b" "$bin/$b.new" && mv "$bin/$b.new" "$bin/$b"
    done
}

# kubelet, kubeadm and kube-proxy from the local cluster's own go.mod/go.sum (so the versions
# are the same and go's build cache is shared with that build) plus the go.sum lines these
# three need beyond the control plane's (k8s-extra.sum).
build_node_k8s() {
    local src="$KIND_CACHE/src/k8s" minor=${K8S_VERSION#v1.}
    minor=${minor%%.*}
    rm -rf "$src" && mkdir -p "$src"
    cp "$here/../cluster/go.mod" "$src/go.mod"
    cat "$here/../cluster/go.sum" "$here/k8s-extra.sum" | sort -u >"$src/go.sum"
    local ldflags="" pkg
    for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
        ldflags+=" -X $pkg.gitVersion=$K8S_VERSION -X $pkg.gitMajor=1 -X $pkg.gitMinor=$minor"
        ldflags+=" -X $pkg.gitTreeState=clean -X $pkg.buildDate=$(date -u +%Y-%m-%dT%H:%M:%SZ)"
    done
    mkdir -p "$src/out"
    (cd "$src" && run_logged "kubelet, kubeadm, kube-proxy $K8S_VERSION" "$logs/k8s.log" \
        env CGO_ENABLED=0 go build -mod=mod -v -ldflags "-s -w$ldflags" -o out/ \
        k8s.io/kubernetes/cmd/kubelet k8s.io/kubernetes/cmd/kubeadm k8s.io/kubernetes/cmd/kube-proxy)
    if ! diff -q <(sort -u "$src/go.sum") <(cat "$here/../cluster/go.sum" "$here/k8s-extra.sum" | sort -u) >/dev/null; then
        log "note: go.sum lines were added that hack/kind/k8s-extra.sum lacks:"
        comm -23 <(sort -u "$src/go.sum") <(cat "$here/../cluster/go.sum" "$here/k8s-extra.sum" | sort -u) >&2
    fi
    mv "$src"/out/* "$bin/"
}

build_containerd() {
    local ld="-s -w -X github.com/containerd/containerd/v2/version.Version=$CONTAINERD_VERSION"
    ld+=" -X github.com/containerd/containerd/v2/version.Revision=module-proxy"
    local m="github.com/containerd/containerd/v2/cmd"
    run_logged "containerd $CONTAINERD_VERSION" "$logs/containerd.log" \
        env CGO_ENABLED=1 GOBIN="$bin" go install -v -tags "no_aufs no_zfs no_btrfs no_devmapper" \
        -ldflags "$ld" "$m/containerd@$CONTAINERD_VERSION" "$m/ctr@$CONTAINERD_VERSION"
    # the shim is static, as containerd's Makefile builds it
    run_logged "containerd-shim-runc-v2 $CONTAINERD_VERSION" "$logs/containerd-shim.log" \
        env CGO_ENABLED=0 GOBIN="$bin" go install -v -ldflags "$ld" \
        "$m/containerd-shim-runc-v2@$CONTAINERD_VERSION"
}

build_runc() {
    if ! dpkg -s libseccomp-dev pkg-config >/dev/null 2>&1; then
        log "installing libseccomp-dev and pkg-config (runc is built with seccomp)"
        apt-get update -qq >&2
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq libseccomp-dev pkg-config >&2
    fi
    run_logged "runc $RUNC_VERSION" "$logs/runc.log" \
        env CGO_ENABLED=1 GOBIN="$bin" go install -v -tags seccomp \
        -ldflags "-s -w -X main.version=${RUNC_VERSION#v} -X main.gitCommit=module-proxy" \
        "github.com/opencontainers/runc@$RUNC_VERSION"
}

build_crictl() {
    run_logged "crictl $CRICTL_VERSION" "$logs/crictl.log" \
        env CGO_ENABLED=0 GOBIN="$bin" go install -v \
        -ldflags "-s -w -X sigs.k8s.io/cri-tools/pkg/version.Version=$CRICTL_VERSION" \
        "sigs.k8s.io/cri-tools/cmd/crictl@$CRICTL_VERSION"
}

build_cni() {
    local m="github.com/containernetworking/plugins/plugins" v=$CNI_PLUGINS_VERSION
    mkdir -p "$bin/cni"
    run_logged "CNI plugins $v" "$logs/cni.log" \
        env CGO_ENABLED=0 GOBIN="$bin/cni" go install -v \
        -ldflags "-s -w -X github.com/containernetworking/plugins/pkg/utils/buildversion.BuildVersion=$v" \
        "$m/ipam/host-local@$v" "$m/main/loopback@$v" "$m/main/ptp@$v" "$m/main/bridge@$v" \
        "$m/meta/portmap@$v"
}

build_etcd() {
    (cd "$here/etcd" && run_logged "etcd $KIND_ETCD_VERSION" "$logs/etcd.log" \
        env CGO_ENABLED=0 go build -v -ldflags "-s -w" -o "$bin/etcd" .)
}

build_coredns() {
    (cd "$here/coredns" && run_logged "coredns $COREDNS_VERSION" "$logs/coredns.log" \
        env CGO_ENABLED=0 go build -v -ldflags "-s -w" -o "$bin/coredns" .)
}

build_local_path() {
    run_logged "local-path-provisioner $LOCAL_PATH_PROVISIONER_VERSION" "$logs/local-path.log" \
        env CGO_ENABLED=0 GOBIN="$bin" go install -v \
        -ldflags "-s -w -X main.VERSION=$LOCAL_PATH_PROVISIONER_VERSION" \
        "github.com/rancher/local-path-provisioner@$LOCAL_PATH_PROVISIONER_VERSION"
}

build_pause() {
    local dir
    dir=$(cd / && go mod download -json "k8s.io/kubernetes@$K8S_VERSION" | sed -n 's/.*"Dir": "\(.*\)",/\1/p')
    gcc -Os -Wall -Werror -static -DVERSION="$K8S_VERSION" -o "$bin/pause" "$dir/build/pause/linux/pause.c"
    strip "$bin/pause"
}

start=$SECONDS
step kind "$KIND_VERSION" build_kind
step k8s "$K8S_VERSION $(hash_of "$here/../cluster/go.mod" "$here/../cluster/go.sum" "$here/k8s-extra.sum")" build_node_k8s
step containerd "$CONTAINERD_VERSION" build_containerd
step runc "$RUNC_VERSION" build_runc
step crictl "$CRICTL_VERSION" build_crictl
step cni "$CNI_PLUGINS_VERSION bridge" build_cni
step etcd "$KIND_ETCD_VERSION $(hash_of "$here/etcd")" build_etcd
step coredns "$COREDNS_VERSION $(hash_of "$here/coredns")" build_coredns
step local-path-provisioner "$LOCAL_PATH_PROVISIONER_VERSION" build_local_path
step pause "$K8S_VERSION" build_pause
# last: hack/cluster/build.sh waits for a build of the local cluster that may be under way
if ! stamp_matches "$bin/.control-plane.stamp" "$(cat "$CLUSTER_CACHE/bin/.k8s.stamp" 2>/dev/null)"; then
    log "kube-apiserver, kube-controller-manager, kube-scheduler, kubectl: the local cluster's build"
    build_control_plane
    cat "$CLUSTER_CACHE/bin/.k8s.stamp" >"$bin/.control-plane.stamp"
fi
(( SECONDS - start < 2 )) || log "binaries ready in $(( SECONDS - start ))s: $(du -sh "$bin" | cut -f1) in $bin"
echo "$bin"
