#!/usr/bin/env bash
# Installs the kind tier's gateway into a running kind cluster (`hack/kind.sh gateway` calls it
# with the cluster's kind binary, name and kubeconfig): the Gateway API CRDs (standard channel,
# crds.sh), Traefik's image (image.sh) loaded into the node, Traefik with its RBAC, the
# GatewayClass `traefik`, and the Gateway `app-operator` in the namespace app-operator-gateway,
# with HTTP and HTTPS listeners (a self-signed certificate for *.example.test, made here with
# openssl once and kept in the Secret app-operator-gateway-tls). Idempotent: run it again and
# only what changed is applied. Waits until the Gateway is Programmed.
# Needs: KIND (kind binary), KIND_CLUSTER_NAME, KIND_KUBECONFIG; KUBECTL (default: kubectl).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
# shellcheck source=hack/gateway/versions.sh
source "$here/versions.sh"
log() { printf '[gateway] %4ds %s\n' "$SECONDS" "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }
: "${KIND:?the kind binary}" "${KIND_CLUSTER_NAME:?the kind cluster}" "${KIND_KUBECONFIG:?its kubeconfig}"
kubectl() {
    "${KUBECTL:-kubectl}" --kubeconfig "$KIND_KUBECONFIG" --context "kind-$KIND_CLUSTER_NAME" "$@"
}
docker=$("$root/hack/images/docker.sh")
node="$KIND_CLUSTER_NAME-control-plane"

[ "$("$docker" inspect -f '{{.State.Running}}' "$node" 2>/dev/null)" = true ] ||
    die "no kind cluster $KIND_CLUSTER_NAME runs (no container $node): hack/kind.sh up first"
# The NodePorts must reach the host; a cluster made before kind-config.yaml mapped them
# cannot get them (kind maps ports only at creation).
for port in 30081 30443; do
    "$docker" port "$node" "$port/tcp" >/dev/null 2>&1 ||
        die "the node $node maps no host port to the gateway's NodePort $port: it was created" \
            "before kind-config.yaml mapped it; delete the cluster (hack/kind.sh down, or" \
            "kind delete cluster --name $KIND_CLUSTER_NAME) and create it again"
done

crds=$("$here/crds.sh" | tail -n 1)
log "Gateway API $GATEWAY_API_VERSION CRDs (standard channel) from $crds"
kubectl apply --server-side --force-conflicts -f "$crds" >/dev/null
mapfile -t names < <(sed -nE 's/^  name: ([a-z]+\.gateway\.networking\.k8s\.io)$/\1/p' "$crds")
kubectl wait --for=condition=Established --timeout=60s "${names[@]/#/crd/}" >/dev/null

image=$("$here/image.sh" | tail -n 1)
log "loading $image into $KIND_CLUSTER_NAME"
"$KIND" load docker-image "$image" --name "$KIND_CLUSTER_NAME" >&2

log "Traefik, its GatewayClass and the Gateway app-operator"
sed "s#image: TRAEFIK_IMAGE#image: $image#" "$here/traefik.yaml" | kubectl apply -f - >/dev/null
if ! kubectl -n app-operator-gateway get secret app-operator-gateway-tls >/dev/null 2>&1; then
    tls=$(mktemp -d)
    trap 'rm -rf "$tls"' EXIT
    openssl req -x509 -newkey rsa:2048 -nodes -days 3650 -subj "/CN=*.example.test" \
        -addext "subjectAltName=DNS:*.example.test,DNS:example.test" \
        -keyout "$tls/tls.key" -out "$tls/tls.crt" 2>/dev/null
    kubectl -n app-operator-gateway create secret tls app-operator-gateway-tls \
        --cert "$tls/tls.crt" --key "$tls/tls.key" >/dev/null
    log "made a self-signed certificate for *.example.test (Secret app-operator-gateway/app-operator-gateway-tls)"
fi
kubectl -n traefik-system rollout status deploy/traefik --timeout=180s >&2
kubectl -n app-operator-gateway wait --for=condition=Programmed gateway/app-operator --timeout=120s >/dev/null
http=$("$docker" port "$node" 30081/tcp | head -n 1)
https=$("$docker" port "$node" 30443/tcp | head -n 1)
log "Gateway app-operator/app-operator-gateway Programmed: HTTP on ${http##*:}, HTTPS on ${https##*:}" \
    "(curl --resolve flask.example.test:${http##*:}:127.0.0.1 http://flask.example.test:${http##*:}/)"
