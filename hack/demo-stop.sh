#!/usr/bin/env bash
# `make stop`: ends what the demos left running. `make demo-sim`'s operator process is stopped
# (its local cluster stays: `make cluster-down` deletes it); `make demo`'s kind cluster
# (app-operator, or $KIND_CLUSTER_NAME) is deleted. Never installs or starts Docker: on a machine
# without a running Docker engine there is no kind cluster to delete.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
hack/stop-operator.sh
# shellcheck source=hack/kind/versions.sh
source hack/kind/versions.sh
docker=/usr/bin/docker
[ -x "$docker" ] || docker=$(command -v docker || true)
if [ -n "$docker" ] && "$docker" info >/dev/null 2>&1 &&
    "$docker" inspect "$KIND_CLUSTER_NAME-control-plane" >/dev/null 2>&1; then
    hack/kind.sh down
    echo "deleted the demo's kind cluster $KIND_CLUSTER_NAME"
fi
