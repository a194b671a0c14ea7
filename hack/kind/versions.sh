# shellcheck shell=bash
# Versions of everything in the local kind node image, and where it is cached.
# Sourced by the scripts here. Kubernetes' version is the local cluster's (hack/cluster/go.mod);
# etcd's and CoreDNS's are the ones kubeadm of that version asks for, read from their wrapper
# modules (hack/kind/etcd, hack/kind/coredns); the rest follow kind's base image (images/base/
# Dockerfile of KIND_VERSION) where the Go module proxy serves that version.
_kind_dir=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=hack/cluster/versions.sh
source "$_kind_dir/../cluster/versions.sh"
KIND_VERSION=v0.33.0
CONTAINERD_VERSION=v2.3.4
RUNC_VERSION=v1.4.3
CRICTL_VERSION=v1.36.0
CNI_PLUGINS_VERSION=v1.9.1
LOCAL_PATH_PROVISIONER_VERSION=v0.0.30
KIND_ETCD_VERSION=$(_module_version go.etcd.io/etcd/server/v3 "$_kind_dir/etcd/go.mod")
COREDNS_VERSION=$(_module_version github.com/coredns/coredns "$_kind_dir/coredns/go.mod")
# the storage provisioner's images, only ever loaded into the node, never pulled
LOCAL_PATH_PROVISIONER_IMAGE=localhost/app-operator/local-path-provisioner:$LOCAL_PATH_PROVISIONER_VERSION
LOCAL_PATH_HELPER_IMAGE=localhost/app-operator/local-path-helper:$LOCAL_PATH_PROVISIONER_VERSION
KIND_CACHE="$APP_OPERATOR_CACHE/kind-$K8S_VERSION"
# the user's cluster (make kind-up, kind-e2e); the kind tier of `make test` uses a cluster of
# its own (hack/kind.sh test), so it never deploys over what a user runs
KIND_CLUSTER_NAME=${KIND_CLUSTER_NAME:-app-operator}
export KIND_VERSION CONTAINERD_VERSION RUNC_VERSION CRICTL_VERSION CNI_PLUGINS_VERSION \
    LOCAL_PATH_PROVISIONER_VERSION LOCAL_PATH_PROVISIONER_IMAGE LOCAL_PATH_HELPER_IMAGE KIND_ETCD_VERSION COREDNS_VERSION KIND_CACHE KIND_CLUSTER_NAME
