"""What the kind tier's tests share: Apps, waits on real pods, diagnostics."""

from __future__ import annotations

import json
import os
import urllib.request
from pathlib import Path
from typing import Any

from tests.kube_helpers import OPERATOR_NAMESPACE, ROOT, Kubectl, condition, wait_for

KIND_KUBECONFIG = Path(os.environ.get("KIND_KUBECONFIG", str(ROOT / ".kind" / "kubeconfig")))
# The tier's own kind cluster (hack/kind.sh test), never the user's app-operator cluster, and
# the host port its copy of kind-config.yaml maps the example's nodePort 30080 to.
KIND_CLUSTER_NAME = os.environ.get("KIND_TEST_CLUSTER_NAME", "app-operator-test")
HOST_PORT = int(os.environ.get("KIND_HOST_PORT", "18080"))
FLASK_IMAGE = "pylounge_flask_app:v1"
GREETING = "Hello from PyLounge and Docker!"
# Kubernetes' and containerd's waits (image pull backoff, crash loop backoff, scheduling) are
# seconds; a slow 2-core machine running a whole cluster gets this much for each of them.
TIMEOUT = 180.0


def app(name: str, **spec: Any) -> dict[str, Any]:
    """An App of the Flask image, as a user would write it, with `spec` on top."""
    return {
        "apiVersion": "appoperator.dev/v1alpha1",
        "kind": "App",
        "metadata": {"name": name},
        "spec": {"image": FLASK_IMAGE, "imagePullPolicy": "IfNotPresent",
                 "securityProfile": "restricted", "runAsUser": 10001, "runAsGroup": 10001,
                 **spec},
    }


def http_get(url: str) -> str | None:
    """The body at `url`, or None while nothing answers there."""
    try:
        with urllib.request.urlopen(url, timeout=3) as response:
            body: bytes = response.read()
            return body.decode()
    except OSError:
        return None


def selector(name: str) -> str:
    return f"app.kubernetes.io/instance={name}"


def ready_pods(kubectl: Kubectl, name: str) -> list[dict[str, Any]]:
    """The App's pods that run in real containers and are Ready (none being deleted)."""
    ready = []
    for pod in kubectl.items("pods", selector(name)):
        if pod["metadata"].get("deletionTimestamp"):
            continue
        statuses = (pod.get("status") or {}).get("containerStatuses") or []
        conditions = {c["type"]: c["status"] for c in pod["status"].get("conditions") or []}
        if (conditions.get("Ready") == "True" and statuses
                and all(s.get("containerID", "").startswith("containerd://") for s in statuses)):
            ready.append(pod)
    return ready


def pod_names(kubectl: Kubectl, name: str) -> list[str]:
    return sorted(p["metadata"]["name"] for p in kubectl.items("pods", selector(name)))


def wait_app_ready(kubectl: Kubectl, name: str, timeout: float = TIMEOUT) -> dict[str, Any]:
    """The App's Ready=True (reason Available) for its current generation."""
    def probe() -> dict[str, Any] | None:
        current = kubectl.get("app", name)
        ready = condition(current, "Ready")
        if (current and ready.get("status") == "True" and ready.get("reason") == "Available"
                and current.get("status", {}).get("observedGeneration")
                == current["metadata"]["generation"]):
            return current
        return None
    return wait_for(f"App {name} to be Ready (Available)", probe, timeout=timeout, interval=1)


def wait_ready_pods(kubectl: Kubectl, name: str, count: int,
                    timeout: float = TIMEOUT) -> list[dict[str, Any]]:
    return wait_for(f"{count} Ready pods of {name}",
                    lambda: (pods if len(pods := ready_pods(kubectl, name)) == count else None),
                    timeout=timeout, interval=1)


def exec_in(kubectl: Kubectl, pod: str, script: str) -> str:
    return kubectl("exec", pod, "--", "sh", "-c", script)


def patch_app(kubectl: Kubectl, name: str, spec: dict[str, Any]) -> None:
    kubectl("patch", "app", name, "--type=merge", "-p", json.dumps({"spec": spec}))


OPERATOR_SELECTOR = "app.kubernetes.io/name=app-operator"


def operator_pods(cluster: Kubectl) -> list[dict[str, Any]]:
    pods = cluster.in_namespace(OPERATOR_NAMESPACE).items("pods", OPERATOR_SELECTOR)
    return [p for p in pods if not p["metadata"].get("deletionTimestamp")]


def operator_log(cluster: Kubectl) -> str:
    """The logs of every operator pod (the leader's and the standby's), each line prefixed."""
    result = cluster.in_namespace(OPERATOR_NAMESPACE).run(
        "logs", "-l", OPERATOR_SELECTOR, "--prefix", "--tail=-1", check=False)
    return result.stdout + result.stderr


def diagnostics(kubectl: Kubectl) -> str:
    parts = []
    for args in (("get", "apps,deploy,rs,pods,svc,pvc", "-o", "wide"),
                 ("describe", "apps,deploy,pods,pvc"),
                 ("get", "events", "--sort-by=.lastTimestamp")):
        result = kubectl.run(*args, check=False)
        parts.append(f"--- kubectl {' '.join(args)} ---\n{result.stdout}{result.stderr}")
    return "\n".join(parts)
