#!/usr/bin/env bash
# Says whether the local development cluster runs, and what it runs.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
source "$here/versions.sh"
name=$CLUSTER_NAME
kubeconfig="$CLUSTER_STATE/kubeconfig"
bin="$CLUSTER_CACHE/bin"
if [ ! -x "$bin/kubectl" ]; then
    echo "binaries not built yet (make cluster-up builds them into $CLUSTER_CACHE)"
    exit 1
fi
if [ ! -f "$kubeconfig" ] || ! "$bin/kubectl" --kubeconfig "$kubeconfig" get --raw /readyz >/dev/null 2>&1; then
    echo "cluster '$name' is not running (make cluster-up)"
    exit 1
fi
echo "cluster '$name' is running; KUBECONFIG=$kubeconfig"
KWOK_WORKDIR="$CLUSTER_STATE/kwok" "$bin/kwokctl" get components --name "$name" 2>/dev/null
"$bin/kubectl" --kubeconfig "$kubeconfig" version
"$bin/kubectl" --kubeconfig "$kubeconfig" get nodes -o wide
