#!/usr/bin/env bash
# `make demo-sim`: the demo for a machine without Docker. The local cluster (hack/cluster: a real
# kube-apiserver, controller manager and scheduler, with kwok's simulated node) and the operator
# as a process beside it; the example Flask App deployed and shown Ready. Its pods are simulated:
# kwok marks them Running and Ready, no container runs, so nothing answers on a port (`make demo`
# runs real pods in kind). The operator keeps running in the background afterwards
# (logs: .cluster/operator.log; stop it with `make stop`).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
: "${KUBECONFIG:=$root/.cluster/kubeconfig}"
export KUBECONFIG
step() { printf '\n==> %s\n' "$*"; }

cat <<'MSG'
The simulated-pod demo: a real API server and the operator, but pods are simulated by kwok
(Running and Ready, no container runs, no port answers). With Docker, `make demo` runs the
same App in kind with real pods.
MSG

hack/stop-operator.sh >/dev/null
step "starting the operator (logs: .cluster/operator.log)"
nohup .venv/bin/app-operator run >"$root/.cluster/operator.log" 2>&1 &
echo $! >"$root/.cluster/operator.pid"
for _ in $(seq 1 60); do
    grep -q "app-operator started" "$root/.cluster/operator.log" 2>/dev/null && break
    kill -0 "$(cat "$root/.cluster/operator.pid")" 2>/dev/null || {
        cat "$root/.cluster/operator.log"; echo "the operator exited" >&2; exit 1; }
    sleep 0.5
done

step "kubectl apply -f examples/apps/flask.yaml"
kubectl apply -f examples/apps/flask.yaml

step "kubectl wait --for=condition=Ready app/flask"
kubectl wait --for=condition=Ready app/flask --timeout=120s

step "kubectl get apps"
kubectl get apps
step "what the operator made of it"
kubectl get deployments,services,pods -l app.kubernetes.io/instance=flask
step "events on the App"
kubectl get events --field-selector involvedObject.kind=App,involvedObject.name=flask \
    --sort-by=.lastTimestamp -o custom-columns=REASON:.reason,MESSAGE:.message
cat <<MSG

The pods above are simulated (kwok): no container runs. The operator keeps running in the
background. Try:
  export KUBECONFIG=$KUBECONFIG
  kubectl scale app/flask --replicas=3 && kubectl get apps -w
  kubectl explain app.spec.ports
  make stop          # stop the operator
  make cluster-down  # stop the operator and delete the local cluster
MSG
