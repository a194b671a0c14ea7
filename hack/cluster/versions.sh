# Versions of the local cluster's components and where their binaries are cached.
# Sourced by the other scripts here; the Kubernetes and etcd versions are read from the
# go.mod files so that there is one place to change each.
_cluster_dir=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
_module_version() { sed -nE "s#^(require)?[[:space:]]*$1 (v[0-9.]+).*#\\2#p" "$2" | head -n 1; }
K8S_VERSION=$(_module_version k8s.io/kubernetes "$_cluster_dir/go.mod")
ETCD_VERSION=$(_module_version go.etcd.io/etcd/server/v3 "$_cluster_dir/etcd/go.mod")
KWOK_VERSION=v0.8.0
APP_OPERATOR_CACHE=${APP_OPERATOR_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/app-operator}
CLUSTER_CACHE="$APP_OPERATOR_CACHE/k8s-$K8S_VERSION"
export K8S_VERSION ETCD_VERSION KWOK_VERSION APP_OPERATOR_CACHE CLUSTER_CACHE
# Which local cluster: its kwokctl name and the folder that holds its state (kubeconfig, kwok's
# work directory, logs). `make cluster-up`/`demo` use app-operator in .cluster/; `make test`
# uses a cluster of its own (.cluster-test/, see the Makefile), so the tests never share an API
# server with an operator the demo left running.
CLUSTER_NAME=${CLUSTER_NAME:-app-operator}
CLUSTER_STATE=${CLUSTER_STATE:-$(cd "$_cluster_dir/../.." && pwd)/.cluster}
export CLUSTER_NAME CLUSTER_STATE
