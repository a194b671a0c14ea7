#!/usr/bin/env bash
# The kind flow a user follows: hack/kind.sh up | load | deploy | e2e | down | node-image
#   up          create the cluster of kind-config.yaml (or reuse it when it runs)
#   load        load app-operator:dev, pylounge_flask_app:v1 and app-operator/postgres:15 into it
#   deploy      kubectl apply crds/, then -k manifests, and wait for the operator's rollout
#   gateway     the Gateway API CRDs, Traefik (built here) and the Gateway app-operator/
#               app-operator-gateway on localhost:8081 (HTTP) and :8443 (HTTPS): hack/gateway/
#   e2e         all of the above, the Flask example App Ready, `curl localhost:8080`
#   down        delete the cluster
#   node-image  build the local node image only (prints its tag)
#   test [ARGS] the kind tier of `make test`: up, load, deploy, pytest tests/kind ARGS; the
#               cluster is deleted afterwards when this command created it (KIND_KEEP=1 keeps it)
# Which node image: $KIND_NODE_IMAGE when set; else kind's own public image when Docker Hub
# answers; else the one built here from Go modules and Debian packages (hack/kind/node-image.sh,
# cached). Where `docker run --privileged` fails (no CAP_SYS_RESOURCE on this host), kind runs
# with hack/kind/shim first on PATH (see docs/kind.md).
# The cluster's kubeconfig goes to $KIND_KUBECONFIG (default ~/.kube/config, as kind does);
# $KUBECONFIG is never written, so a local cluster's kubeconfig stays as it is.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
if [ "${1:-}" = test ]; then
    # The tier's cluster is its own: not the user's app-operator cluster (which may run the
    # demo), not written into the user's kubeconfig, the example's NodePort on another host
    # port. Two checkouts' tiers take turns (a lock), as they would share that name and port.
    export KIND_CLUSTER_NAME=${KIND_TEST_CLUSTER_NAME:-app-operator-test}
    export KIND_HOST_PORT=${KIND_HOST_PORT:-18080}
    export KIND_GATEWAY_HTTP_PORT=${KIND_GATEWAY_HTTP_PORT:-18081}
    export KIND_GATEWAY_HTTPS_PORT=${KIND_GATEWAY_HTTPS_PORT:-18443}
    export KIND_KUBECONFIG=${KIND_KUBECONFIG:-$root/.kind/kubeconfig}
fi
# shellcheck source=hack/kind/lib.sh
source hack/kind/lib.sh
cluster=$KIND_CLUSTER_NAME
context="kind-$cluster"
# The host port of the example's NodePort 30080: kind-config.yaml says 8080; and of the
# gateway's NodePorts 30081 and 30443 (hack/gateway/): 8081 and 8443. Other ports get a copy
# of the config with those ports.
host_port=${KIND_HOST_PORT:-8080}
gateway_http_port=${KIND_GATEWAY_HTTP_PORT:-8081}
gateway_https_port=${KIND_GATEWAY_HTTPS_PORT:-8443}
kind_config() {
    local ports="$host_port $gateway_http_port $gateway_https_port" copy from_to from to
    if [ "$ports" = "8080 8081 8443" ]; then echo kind-config.yaml; return; fi
    mkdir -p .kind
    copy=".kind/kind-config-${ports// /-}.yaml"
    # `t`: a line already changed is not changed again (8080 -> 8081 stays 8081)
    sed -e "s/hostPort: 8080 /hostPort: $host_port /;t" \
        -e "s/hostPort: 8081 /hostPort: $gateway_http_port /;t" \
        -e "s/hostPort: 8443 /hostPort: $gateway_https_port /" kind-config.yaml >"$copy"
    for from_to in "8080:$host_port" "8081:$gateway_http_port" "8443:$gateway_https_port"; do
        from=${from_to%%:*} to=${from_to#*:}
        grep -q "hostPort: $to " "$copy" ||
            die "kind-config.yaml has no 'hostPort: $from' mapping to change"
    done
    echo "$copy"
}
export KIND_KUBECONFIG=${KIND_KUBECONFIG:-$HOME/.kube/config}
mkdir -p "$(dirname "$KIND_KUBECONFIG")"
# the kubectl built with the node's Kubernetes (build-binaries.sh), else the one on PATH
kubectl() {
    local bin="$KIND_CACHE/bin/kubectl"
    [ -x "$bin" ] || bin=$(command -v kubectl)
    "$bin" --kubeconfig "$KIND_KUBECONFIG" --context "$context" "$@"
}

docker_bin=$(hack/images/docker.sh)
kind_bin() {
    if [ -n "${KIND:-}" ]; then echo "$KIND"; return; fi
    hack/kind/build-binaries.sh >/dev/null
    echo "$KIND_CACHE/bin/kind"
}

# Prints the node image to use ("" means kind's default public image).
node_image() {
    if [ -n "${KIND_NODE_IMAGE:-}" ]; then
        echo "$KIND_NODE_IMAGE"
    elif [[ "$(curl -s --max-time 5 -o /dev/null -w '%{http_code}' https://registry-1.docker.io/v2/ || true)" =~ ^(200|401)$ ]]; then
        log "Docker Hub answers: kind's public node image"
        echo ""
    else
        log "no registry answers: the local node image (built once, then cached)"
        hack/kind/node-image.sh
    fi
}

# Puts the docker shim first on PATH when --privileged cannot work on this host. The probe
# runs a file that does not exist in an empty image (made locally, nothing pulled): runc
# applies the capabilities before it looks for the file, so the two errors tell the cases apart.
use_shim_if_needed() {
    local probe=app-operator/kind-privileged-probe:empty out
    if ! "$docker_bin" image inspect "$probe" >/dev/null 2>&1; then
        tar -cf - --files-from /dev/null | "$docker_bin" import - "$probe" >/dev/null
    fi
    out=$("$docker_bin" run --rm --privileged --entrypoint /no-such-file "$probe" 2>&1 || true)
    if grep -q 'unable to apply caps' <<<"$out"; then
        log "docker run --privileged fails here (no CAP_SYS_RESOURCE): kind runs through hack/kind/shim/docker"
        export PATH="$root/hack/kind/shim:$PATH"
        export APP_OPERATOR_REAL_DOCKER="$docker_bin"
    elif ! grep -q 'no-such-file' <<<"$out"; then
        printf '%s\n' "$out" >&2
        die "docker run --privileged fails here for an unknown reason"
    fi
}

cluster_running() {
    [ "$("$docker_bin" inspect -f '{{.State.Running}}' "$cluster-control-plane" 2>/dev/null)" = true ] &&
        "$kind" get clusters 2>/dev/null | grep -qx "$cluster"
}

up() {
    if cluster_running; then
        "$kind" export kubeconfig --name "$cluster" --kubeconfig "$KIND_KUBECONFIG" 2>/dev/null
        # a node that was restarted (dockerd restarted, the machine rebooted) may not come back
        local _
        for _ in $(seq 1 30); do
            if kubectl get --raw /readyz >/dev/null 2>&1 &&
                kubectl wait --for=condition=Ready node --all --timeout=5s >/dev/null 2>&1; then
                log "cluster $cluster runs already (kubectl --context $context)"
                return
            fi
            sleep 2
        done
        log "cluster $cluster runs but does not answer or its node is not Ready: creating it again"
    fi
    if "$kind" get clusters 2>/dev/null | grep -qx "$cluster"; then
        log "deleting the cluster $cluster that does not work"
        "$kind" delete cluster --name "$cluster" --kubeconfig "$KIND_KUBECONFIG"
    fi
    local image start=$SECONDS
    image=$(node_image)
    log "creating cluster $cluster${image:+ from $image}"
    "$kind" create cluster --name "$cluster" --config "$(kind_config)" ${image:+--image "$image"} \
        --kubeconfig "$KIND_KUBECONFIG" --wait 0s
    log "waiting for the node, CoreDNS and the storage provisioner"
    kubectl wait --for=condition=Ready node --all --timeout=180s
    kubectl -n kube-system rollout status deploy/coredns --timeout=180s
    kubectl -n local-path-storage rollout status deploy/local-path-provisioner --timeout=180s 2>/dev/null ||
        true # kind's public image names it the same; an image without it has no such Deployment
    log "cluster $cluster ready in $(( SECONDS - start ))s (kubectl --context $context)"
}

load() {
    local start=$SECONDS
    "$kind" load docker-image app-operator:dev pylounge_flask_app:v1 app-operator/postgres:15 --name "$cluster"
    log "images loaded in $(( SECONDS - start ))s"
}

deploy() {
    local start=$SECONDS existed=false
    kubectl -n app-operator-system get deploy/app-operator >/dev/null 2>&1 && existed=true
    # The CRD first, apart: manifests/ does not hold it (deleting manifests/ keeps the Apps).
    kubectl apply --server-side --force-conflicts -f crds/
    kubectl apply -k manifests
    # a pod that runs already keeps the image it started with: restart it after a load
    if $existed; then kubectl -n app-operator-system rollout restart deploy/app-operator; fi
    kubectl -n app-operator-system rollout status deploy/app-operator --timeout=180s
    log "operator deployed in $(( SECONDS - start ))s"
}

gateway() {
    KIND="$kind" KUBECTL="$KIND_CACHE/bin/kubectl" hack/gateway/install.sh
}

e2e() {
    up
    load
    deploy
    gateway
    local start=$SECONDS
    kubectl apply -f examples/apps/flask.yaml
    kubectl wait --for=condition=Ready app/flask --timeout=180s
    kubectl get apps
    log "Flask App Ready in $(( SECONDS - start ))s; curl http://localhost:$host_port"
    local reply
    for _ in $(seq 1 30); do
        if reply=$(curl -fsS --max-time 5 "http://localhost:$host_port"); then
            echo "$reply"
            grep -q "Hello from PyLounge and Docker!" <<<"$reply" && return 0
        fi
        sleep 2
    done
    die "the Flask app did not answer on localhost:$host_port"
}

tier() {
    local existed=false rc=0 start=$SECONDS
    mkdir -p "$APP_OPERATOR_CACHE"
    exec 8>"$APP_OPERATOR_CACHE/kind-tier.lock"
    if ! flock -n 8; then
        log "another checkout's kind tier runs: waiting for it to finish"
        flock 8
    fi
    cluster_running && existed=true
    up
    load
    deploy
    gateway
    log "pytest tests/kind"
    local output
    output=$(mktemp)
    set +e
    KIND_TIER_READY=1 "${PYTEST:-$root/.venv/bin/pytest}" tests/kind "$@" | tee "$output"
    rc=${PIPESTATUS[0]}
    set -e
    log "kind tier finished in $(( SECONDS - start ))s (pytest exit $rc)"
    if ! $existed && [ "${KIND_KEEP:-0}" != 1 ]; then
        log "deleting the cluster this run created (KIND_KEEP=1 keeps it)"
        "$kind" delete cluster --name "$cluster" --kubeconfig "$KIND_KUBECONFIG" >&2
    fi
    # make test's output ends with pytest's summary line, as CI expects.
    tail -n 1 "$output"
    rm -f "$output"
    return $rc
}

case "${1:-}" in
    up|load|deploy|gateway|e2e|down|test) kind=$(kind_bin); use_shim_if_needed ;;&
    up) up ;;
    load) load ;;
    deploy) deploy ;;
    gateway) gateway ;;
    e2e) e2e ;;
    down) "$kind" delete cluster --name "$cluster" --kubeconfig "$KIND_KUBECONFIG" ;;
    node-image) hack/kind/node-image.sh ;;
    test) shift; tier "$@" ;;
    *)
        echo "usage: $0 up|load|deploy|gateway|e2e|down|node-image|test [pytest args]" >&2
        exit 2
        ;;
esac
