#!/usr/bin/env bash
# `make demo`: the tutorial's Flask App on Kubernetes with real pods, in one command.
#   1. the images app-operator:dev and pylounge_flask_app:v1 (hack/images/build.sh)
#   2. the kind cluster of kind-config.yaml, `app-operator` (hack/kind.sh up: kind's public node
#      image where Docker Hub answers, else the one built here from Go modules, once)
#   3. the images loaded, the CRD and manifests/ applied: the operator runs as a pod
#   4. the gateway (hack/kind.sh gateway): Gateway API CRDs, Traefik built here (the first time
#      about 13 minutes, then cached), the Gateway app-operator on localhost:8081 and :8443
#   5. examples/apps/flask.yaml applied, waited for, and its greeting fetched from localhost:8080
# Each step is built on hack/kind.sh (the same steps as `make kind-e2e`) and skips what is done
# already, so a second run takes seconds. Without Docker: `make demo-sim` (simulated pods).
# The cluster is kind's usual one: its kubeconfig in ~/.kube/config (KIND_KUBECONFIG elsewhere),
# context kind-app-operator made current. `make stop` deletes it.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
# shellcheck source=hack/kind/lib.sh
source hack/kind/lib.sh # log/die with the seconds since the start (KIND_T0, shared with children)
cluster=$KIND_CLUSTER_NAME
context="kind-$cluster"
export KIND_KUBECONFIG=${KIND_KUBECONFIG:-$HOME/.kube/config}
host_port=8080 # kind-config.yaml's hostPort for the example's nodePort 30080
greeting="Hello from PyLounge and Docker!"
steps=6
step() { printf '\n==> [%d/%d %4ds] %s\n' "$1" "$steps" "$(( $(date +%s) - KIND_T0 ))" "$2" >&2; }

# the kubectl built with the node's Kubernetes (hack/kind/build-binaries.sh), else the one on PATH
kubectl_bin() {
    if [ -x "$KIND_CACHE/bin/kubectl" ]; then echo "$KIND_CACHE/bin/kubectl"; else command -v kubectl; fi
}
kube() { "$(kubectl_bin)" --kubeconfig "$KIND_KUBECONFIG" --context "$context" "$@"; }

if ! docker_bin=$(hack/images/docker.sh); then
    die "no Docker engine here, and none could be installed or started: \`make demo-sim\` runs \
the same demo with simulated pods (no Docker needed)"
fi
# kind maps localhost:8080 (and the gateway's 8081 and 8443) to the cluster; another program
# holding one would fail the creation.
if ! "$docker_bin" inspect "$cluster-control-plane" >/dev/null 2>&1; then
    for port in "$host_port" 8081 8443; do
        if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
            die "something listens on localhost:$port already, which kind-config.yaml maps to \
the cluster (8080: the Flask App's nodePort 30080; 8081, 8443: the gateway's): stop it, or change \
hostPort in kind-config.yaml"
        fi
    done
fi

step 1 "images app-operator:dev and pylounge_flask_app:v1 (built once, then Docker's cache)"
hack/images/build.sh

step 2 "kind cluster $cluster (the first time: kind and maybe its node image are built, minutes)"
hack/kind.sh up

step 3 "the operator in the cluster: images loaded, kubectl apply crds/ and -k manifests"
hack/kind.sh load
hack/kind.sh deploy

step 4 "the gateway: Gateway API CRDs, Traefik (built here the first time, about 13 minutes), the Gateway app-operator"
hack/kind.sh gateway

step 5 "the Flask App: kubectl apply -f examples/apps/flask.yaml"
kube apply -f examples/apps/flask.yaml
kube wait --for=condition=Ready app/flask --timeout=300s
kube get apps
log "curl http://localhost:$host_port"
reply=""
for _ in $(seq 1 60); do
    reply=$(curl -fsS --max-time 5 "http://localhost:$host_port" 2>/dev/null) && break
    sleep 1
done
grep -qF "$greeting" <<<"$reply" ||
    die "the Flask App did not answer on localhost:$host_port (last reply: ${reply:-none})"
printf '\n%s\n' "$reply"

step 6 "the same App by host name: spec.route on the Gateway, curl http://flask.example.test:8081"
# What a user writes to reach an App by name: its route (docs/reference.md, "Routes"). The
# operator renders an HTTPRoute; Traefik, the Gateway's controller, sends flask.example.test
# to the App's Service.
kube patch app flask --type merge -p '{"spec": {"route": {"hosts": ["flask.example.test"],
  "parent": {"gateway": {"name": "app-operator", "namespace": "app-operator-gateway"}}}}}'
kube wait --for=condition=Ready app/flask --timeout=300s
log "curl --resolve flask.example.test:8081:127.0.0.1 http://flask.example.test:8081/"
by_name=""
for _ in $(seq 1 60); do
    by_name=$(curl -fsS --max-time 5 --resolve flask.example.test:8081:127.0.0.1 \
        http://flask.example.test:8081/ 2>/dev/null) && break
    sleep 1
done
grep -qF "$greeting" <<<"$by_name" ||
    die "the Flask App did not answer as flask.example.test on localhost:8081 (last reply: ${by_name:-none})"
printf '\n%s\n' "$by_name"
kube get app flask -o jsonpath='{.status.url}{"\n"}'

hints=()
if [ "$("$(kubectl_bin)" --kubeconfig "$KIND_KUBECONFIG" config current-context 2>/dev/null)" != "$context" ]; then
    hints+=("kubectl config use-context $context   # kubectl talks to another cluster now")
fi
if [ -n "${KUBECONFIG:-}" ] && [ "$KUBECONFIG" != "$KIND_KUBECONFIG" ]; then
    hints+=("export KUBECONFIG=$KIND_KUBECONFIG   # the kind cluster's kubeconfig")
fi
if ! command -v kubectl >/dev/null 2>&1; then
    hints+=("export PATH=$KIND_CACHE/bin:\$PATH   # kubectl")
fi
cat >&2 <<MSG

Done in $(( $(date +%s) - KIND_T0 ))s: that greeting came from a real pod of the App flask, through
its Service's nodePort 30080, which kind-config.yaml maps to http://localhost:$host_port.
The operator runs in the cluster (kubectl -n app-operator-system logs deploy/app-operator).
The same App by host name: its spec.route put it on the Gateway app-operator (namespace
app-operator-gateway, Traefik), which answers on localhost:8081 (HTTP) and localhost:8443
(HTTPS, *.example.test). For a browser, add "127.0.0.1 flask.example.test" to /etc/hosts and
open http://flask.example.test:8081/ (docs/kind.md, "A gateway").
MSG
if [ ${#hints[@]} -gt 0 ]; then
    printf '\nFirst:\n' >&2
    printf '  %s\n' "${hints[@]}" >&2
fi
cat >&2 <<MSG

Next: the tour in README.md ("A tour"), starting with
  kubectl get apps
  kubectl scale app/flask --replicas=2
When done: make stop   (deletes this kind cluster)
MSG
