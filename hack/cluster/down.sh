#!/usr/bin/env bash
# Stops and deletes the local development cluster. The cached binaries stay.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
source "$here/versions.sh"
name=$CLUSTER_NAME
export KWOK_WORKDIR="$CLUSTER_STATE/kwok"
bin="$CLUSTER_CACHE/bin"
if [ -x "$bin/kwokctl" ] && "$bin/kwokctl" get clusters 2>/dev/null | grep -qx "$name"; then
    "$bin/kwokctl" delete cluster --name "$name"
else
    echo "[cluster-down] no cluster '$name' here"
fi
rm -f "$CLUSTER_STATE/kubeconfig"
