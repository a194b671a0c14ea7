#!/usr/bin/env bash
# The kind flow a user follows (needs Docker and access to kind's node image on a registry):
#   hack/kind.sh up | load | deploy | e2e | down
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
cluster=app-operator
KIND_VERSION=${KIND_VERSION:-v0.33.0}
log() { printf '[kind] %s\n' "$*" >&2; }

kind_bin() {
    if command -v kind >/dev/null 2>&1; then command -v kind; return; fi
    local bin=${APP_OPERATOR_CACHE:-$HOME/.cache/app-operator}/bin
    if [ ! -x "$bin/kind" ]; then
        log "installing kind $KIND_VERSION with go install"
        GOBIN="$bin" go install "sigs.k8s.io/kind@$KIND_VERSION"
    fi
    echo "$bin/kind"
}
kind=$(kind_bin)

case "${1:-}" in
    up)
        "$kind" get clusters 2>/dev/null | grep -qx "$cluster" ||
            "$kind" create cluster --config kind-config.yaml
        ;;
    load)
        "$kind" load docker-image app-operator:dev pylounge_flask_app:v1 --name "$cluster"
        ;;
    deploy)
        kubectl --context "kind-$cluster" apply -k manifests
        kubectl --context "kind-$cluster" -n app-operator-system rollout status deploy/app-operator --timeout=120s
        ;;
    e2e)
        "$0" up && "$0" load && "$0" deploy
        kubectl --context "kind-$cluster" apply -f examples/apps/flask.yaml
        kubectl --context "kind-$cluster" wait --for=condition=Ready app/flask --timeout=180s
        kubectl --context "kind-$cluster" get apps
        log "curl http://localhost:8080"
        for _ in $(seq 1 30); do
            if reply=$(curl -fsS http://localhost:8080); then
                echo "$reply"
                grep -q "Hello from PyLounge and Docker!" <<<"$reply" && exit 0
            fi
            sleep 2
        done
        log "the Flask app did not answer on localhost:8080"
        exit 1
        ;;
    down)
        "$kind" delete cluster --name "$cluster"
        ;;
    *)
        echo "usage: $0 up|load|deploy|e2e|down" >&2
        exit 2
        ;;
esac
