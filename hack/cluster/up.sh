#!/usr/bin/env bash
# Brings up the local development cluster (idempotent): a real kube-apiserver, etcd,
# kube-controller-manager and kube-scheduler built from Go modules, with kwok playing one
# node, its pods and its volumes. RBAC authorization is on. The Service range is a /16
# (the API server's default /24 holds 254 Services, too few for the benchmark).
# OwnerReferencesPermissionEnforcement is on, as in OpenShift: setting blockOwnerDeletion in
# an ownerReference needs update on the owner's finalizers (the operator's RBAC has it).
# The controller manager and the scheduler run alone, without leader election: with it, they
# exit when the API server is away longer than their renew deadline (the fault tests restart
# it), and nothing here restarts them as a kubelet would.
# The kubeconfig lands at $CLUSTER_STATE/kubeconfig (.cluster/kubeconfig in the checkout by
# default, see versions.sh); binaries are cached outside it (see build.sh).
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=hack/cluster/versions.sh
source "$here/versions.sh"

name=$CLUSTER_NAME
state=$CLUSTER_STATE
kubeconfig="$state/kubeconfig"
export KWOK_WORKDIR="$state/kwok"
log() { printf '[cluster-up] %s\n' "$*" >&2; }

start=$SECONDS
bin=$("$here/build.sh" | tail -n 1)
export PATH="$bin:$PATH"
kubectl() { "$bin/kubectl" --kubeconfig "$kubeconfig" "$@"; }

# One cluster is created at a time on this machine: kwokctl takes the first ports it finds
# free, and two clusters created at once (two checkouts, the demo's and the tests') took the
# same ones. The lock is held until the new cluster serves, so the next one sees them in use.
exec 8>"$APP_OPERATOR_CACHE/cluster-create.lock"
flock 8

if [ -f "$kubeconfig" ] && kubectl get --raw /readyz >/dev/null 2>&1; then
    log "cluster '$name' is already running ($(kubectl get nodes --no-headers 2>/dev/null | wc -l) node(s))"
    echo "export KUBECONFIG=$kubeconfig"
    exit 0
fi

if kwokctl get clusters 2>/dev/null | grep -qx "$name"; then
    log "cluster '$name' exists but does not answer: recreating it"
    kwokctl delete cluster --name "$name" >&2 || true
fi
rm -f "$kubeconfig"
mkdir -p "$state"

# kwok's stages plus ours, in one configuration file for kwokctl. Ours replace kwok's
# pvc-provision (see stages.yaml); caches built before that still hold kwok's copy.
config="$state/kwok-config.yaml"
: >"$config"
for f in "$CLUSTER_CACHE"/kwok-stages/*.yaml "$here/stages.yaml"; do
    [ "$(basename "$f")" = pvc-provision.yaml ] && continue
    { cat "$f"; echo "---"; } >>"$config"
done

log "creating cluster '$name' (Kubernetes $K8S_VERSION, etcd $ETCD_VERSION, kwok $KWOK_VERSION)"
KWOK_KUBE_VERSION="$K8S_VERSION" \
KWOK_KUBE_BINARY_PREFIX="$bin" \
KWOK_KUBECTL_BINARY="$bin/kubectl" \
KWOK_ETCD_BINARY="$bin/etcd" \
KWOK_ETCD_VERSION="${ETCD_VERSION#v}" \
KWOK_CONTROLLER_BINARY="$bin/kwok" \
    kwokctl create cluster \
        --name "$name" \
        --runtime binary \
        --kube-authorization \
        --kube-audit-policy "$here/audit-policy.yaml" \
        --extra-args "kube-apiserver=service-cluster-ip-range=10.96.0.0/16" \
        --extra-args "kube-apiserver=enable-admission-plugins=OwnerReferencesPermissionEnforcement" \
        --extra-args "kube-controller-manager=leader-elect=false" \
        --extra-args "kube-scheduler=leader-elect=false" \
        --kubeconfig "$kubeconfig" \
        --config "$config" \
        --wait 2m \
        --quiet-pull >"$state/kwokctl.log" 2>&1 8>&- || {
    cat "$state/kwokctl.log" >&2
    log "kwokctl could not create the cluster (log above, also in $state/kwokctl.log)"
    exit 1
}

kubectl config use-context "kwok-$name" >/dev/null
kubectl apply -f "$here/objects.yaml" >&2

log "waiting for the node and the default ServiceAccount"
for _ in $(seq 1 120); do
    if kubectl get node kwok-node-0 -o jsonpath='{.status.conditions[?(@.type=="Ready")].status}' 2>/dev/null | grep -qx True &&
        kubectl get serviceaccount default -n default >/dev/null 2>&1; then
        log "cluster '$name' is up in $(( SECONDS - start ))s"
        echo "export KUBECONFIG=$kubeconfig"
        exit 0
    fi
    sleep 1
done
log "the node did not become Ready within 2 minutes; components:"
kwokctl get components --name "$name" >&2 || true
exit 1
