"""Real containers: the operator as a pod in a kind cluster, the Apps' pods run by containerd,
their volumes made on the node by the storage provisioner (make test runs this tier through
hack/kind.sh test; see docs/kind.md)."""

from __future__ import annotations

import json
import re
import uuid
from typing import Any

import pytest
import yaml

from tests.kind.helpers import (
    GREETING,
    HOST_PORT,
    TIMEOUT,
    app,
    exec_in,
    http_get,
    operator_log,
    operator_pods,
    patch_app,
    pod_names,
    ready_pods,
    wait_app_ready,
    wait_ready_pods,
)
from tests.kube_helpers import ROOT, Kubectl, condition, wait_for

# The waits inside each test are what bound it; this only catches a hang outside them.
pytestmark = [pytest.mark.kind, pytest.mark.timeout(900)]

SLEEP = ["sleep", "1000000"]  # a process that keeps running, in the Flask image


def node_port_holders(cluster: Kubectl, port: int) -> list[str]:
    services = json.loads(cluster("get", "services", "--all-namespaces", "-o", "json"))["items"]
    return [f"{s['metadata']['namespace']}/{s['metadata']['name']}" for s in services
            if any(p.get("nodePort") == port for p in s["spec"].get("ports") or [])]


def test_flask_example_answers_on_localhost(cluster: Kubectl, kubectl: Kubectl) -> None:
    """examples/apps/flask.yaml as a user applies it; kind-config.yaml maps its nodePort 30080
    to localhost:8080 (the tier's own cluster: to HOST_PORT)."""
    # `make kind-e2e` leaves the example in the default namespace, holding nodePort 30080.
    cluster.in_namespace("default").run("delete", "app", "flask", "--ignore-not-found",
                                        "--wait=true", check=False)
    wait_for("nodePort 30080 to be free", lambda: node_port_holders(cluster, 30080) == [],
             timeout=60)
    kubectl("apply", "-f", str(ROOT / "examples" / "apps" / "flask.yaml"))
    wait_app_ready(kubectl, "flask")
    [pod] = wait_ready_pods(kubectl, "flask", 1)
    assert pod["spec"]["containers"][0]["image"] == "pylounge_flask_app:v1"
    url = f"http://localhost:{HOST_PORT}"
    reply = wait_for(f"the greeting on {url}",
                     lambda: (r if (r := http_get(url)) and GREETING in r
                              else None), timeout=60, interval=1)
    assert GREETING in reply
    printed = kubectl("get", "apps")
    assert re.search(r"^flask\s.*\bAvailable\b", printed, re.M), printed


def test_data_survives_pod_and_app_deletion(kubectl: Kubectl) -> None:
    spec = {"command": SLEEP, "volumes": [{"name": "data", "mountPath": "/data", "size": "1Gi"}]}
    kubectl.apply(app("keeper", **spec))
    wait_app_ready(kubectl, "keeper")
    [first] = wait_ready_pods(kubectl, "keeper", 1)
    token = uuid.uuid4().hex
    # written as UID 10001 (the restricted profile), on the node's disk
    exec_in(kubectl, first["metadata"]["name"], f"echo {token} > /data/token")
    claim = kubectl.get("pvc", "keeper-data")
    assert claim and claim["status"]["phase"] == "Bound"
    volume = claim["spec"]["volumeName"]
    pv = kubectl.get("pv", volume)
    assert pv and pv["spec"]["storageClassName"] == "standard"
    assert "/var/local-path-provisioner/" in json.dumps(pv["spec"])  # a directory on the node

    # the pod is deleted: its replacement reads the file
    kubectl("delete", "pod", first["metadata"]["name"], "--wait=false")
    second = wait_for("a new Ready pod", lambda: [
        p for p in ready_pods(kubectl, "keeper")
        if p["metadata"]["name"] != first["metadata"]["name"]], timeout=TIMEOUT, interval=1)[0]
    assert exec_in(kubectl, second["metadata"]["name"], "cat /data/token").strip() == token

    # the App is deleted (Retain, the default): the claim stays; re-created, it reads the file
    kubectl("delete", "app", "keeper", "--wait=true")
    wait_for("the Deployment to be gone", lambda: kubectl.get("deploy", "keeper") is None,
             timeout=TIMEOUT)
    kept = kubectl.get("pvc", "keeper-data")
    assert kept and kept["metadata"]["uid"] == claim["metadata"]["uid"]
    kubectl.apply(app("keeper", **spec))
    wait_app_ready(kubectl, "keeper")
    [third] = wait_ready_pods(kubectl, "keeper", 1)
    assert exec_in(kubectl, third["metadata"]["name"], "cat /data/token").strip() == token

    # a kept claim stays kept, even when the App that mounts it again says Delete
    patch_app(kubectl, "keeper", {"volumeDeletionPolicy": "Delete"})
    wait_app_ready(kubectl, "keeper")
    kubectl("delete", "app", "keeper", "--wait=true")
    wait_for("the Deployment to be gone", lambda: kubectl.get("deploy", "keeper") is None,
             timeout=TIMEOUT)
    still = kubectl.get("pvc", "keeper-data")
    assert still and still["metadata"]["uid"] == claim["metadata"]["uid"]


def test_claim_goes_with_the_app_under_delete(kubectl: Kubectl) -> None:
    """volumeDeletionPolicy Delete: the claim is deleted with the App, and the provisioner
    removes its volume from the node."""
    kubectl.apply(app("scratch", command=SLEEP, volumeDeletionPolicy="Delete",
                      volumes=[{"name": "data", "mountPath": "/data", "size": "100Mi"}]))
    wait_app_ready(kubectl, "scratch")
    [pod] = wait_ready_pods(kubectl, "scratch", 1)
    exec_in(kubectl, pod["metadata"]["name"], "echo x > /data/x")
    claim = kubectl.get("pvc", "scratch-data")
    assert claim and claim["status"]["phase"] == "Bound"
    volume = claim["spec"]["volumeName"]
    kubectl("delete", "app", "scratch", "--wait=true")
    wait_for("the claim to be deleted with the App",
             lambda: kubectl.get("pvc", "scratch-data") is None, timeout=TIMEOUT)
    wait_for(f"the volume {volume} to be removed",
             lambda: kubectl.get("pv", volume) is None, timeout=TIMEOUT)


def test_scale_to_three_then_suspend(kubectl: Kubectl) -> None:
    kubectl.apply(app("web", ports=[{"name": "http", "containerPort": 5000}],
                      probes={"readiness": {"httpGet": {"path": "/", "port": "http"}}}))
    wait_app_ready(kubectl, "web")
    kubectl("scale", "app/web", "--replicas=3")
    pods = wait_ready_pods(kubectl, "web", 3)
    assert len({p["status"]["podIP"] for p in pods}) == 3
    assert wait_app_ready(kubectl, "web")["status"]["readyReplicas"] == 3

    # a ReadWriteOnce volume serves one replica: back to one, with a volume, then suspended
    patch_app(kubectl, "web", {"replicas": 1, "volumes": [
        {"name": "cache", "mountPath": "/cache", "size": "100Mi"}]})
    wait_app_ready(kubectl, "web")
    wait_ready_pods(kubectl, "web", 1)
    claim = kubectl.get("pvc", "web-cache")
    assert claim and claim["status"]["phase"] == "Bound"
    patch_app(kubectl, "web", {"suspend": True})
    wait_for("no pods left", lambda: not pod_names(kubectl, "web"), timeout=TIMEOUT)
    suspended = wait_for("Ready reason Suspended", lambda: (
        a if condition(a := kubectl.get("app", "web"), "Ready").get("reason") == "Suspended"
        else None), timeout=TIMEOUT)
    assert condition(suspended, "Ready")["status"] == "True"
    assert kubectl.get("service", "web") is not None
    kept = kubectl.get("pvc", "web-cache")
    assert kept and kept["metadata"]["uid"] == claim["metadata"]["uid"]


def test_deleted_deployment_comes_back_with_its_pods(kubectl: Kubectl) -> None:
    kubectl.apply(app("drift", command=SLEEP))
    wait_app_ready(kubectl, "drift")
    [before] = wait_ready_pods(kubectl, "drift", 1)
    deployment = kubectl.get("deploy", "drift")
    assert deployment is not None
    kubectl("delete", "deploy", "drift", "--wait=false")
    wait_for("a new Deployment", lambda: (
        d if (d := kubectl.get("deploy", "drift"))
        and d["metadata"]["uid"] != deployment["metadata"]["uid"] else None), timeout=TIMEOUT)
    [after] = wait_ready_pods(kubectl, "drift", 1)
    assert after["metadata"]["uid"] != before["metadata"]["uid"]
    wait_app_ready(kubectl, "drift")


# The pod-level problems of the contract: each reported within 60 s as Ready=False with its
# reason (also in `kubectl get apps`' STATUS column), and cleared by the fix.
PROBLEM_WAIT = 60.0


def wait_problem(kubectl: Kubectl, name: str, reason: str) -> dict[str, Any]:
    seen: list[dict[str, Any]] = []

    def probe() -> dict[str, Any] | None:
        ready = condition(kubectl.get("app", name), "Ready")
        seen[:] = [ready]
        return ready if ready.get("status") == "False" and ready.get("reason") == reason else None
    try:
        ready = wait_for(f"App {name} Ready=False reason {reason}", probe, timeout=PROBLEM_WAIT,
                         interval=1)
    except AssertionError as timeout:
        raise AssertionError(f"{timeout}; the App's Ready condition: {seen}") from None
    # Between a crash loop's restarts the container runs for a moment and the Deployment may
    # count the pod available: the STATUS column is read until it shows the reason too.
    wait_for(f"`kubectl get apps {name}` to show {reason}",
             lambda: reason in kubectl("get", "apps", name), timeout=PROBLEM_WAIT, interval=1)
    return ready


@pytest.mark.parametrize(("problem", "fix", "reason", "expect"), [
    pytest.param({"image": "localhost/app-operator/no-such-image:v1"},
                 {"image": "pylounge_flask_app:v1"}, "ImagePullBackOff",
                 r"localhost/app-operator/no-such-image:v1", id="image-pull"),
    pytest.param({"command": ["sh", "-c", "echo starting; exit 3"]}, {"command": SLEEP},
                 "CrashLoopBackOff", r"(?is)exit.*\b3\b|\b3\b.*exit",
                 id="crash-loop"),
    pytest.param({"command": SLEEP, "resources": {"requests": {"cpu": "64"}}},
                 {"resources": {"requests": {"cpu": "10m"}}}, "Unschedulable",
                 r"Insufficient cpu", id="unschedulable"),
])
def test_pod_problem_in_status_then_cleared(kubectl: Kubectl, problem: dict[str, Any],
                                            fix: dict[str, Any], reason: str,
                                            expect: str) -> None:
    name = "broken"
    kubectl.apply(app(name, **{"command": SLEEP, **problem}))
    ready = wait_problem(kubectl, name, reason)
    assert re.search(expect, ready.get("message", "")), ready
    patch_app(kubectl, name, fix)
    wait_app_ready(kubectl, name)
    wait_ready_pods(kubectl, name, 1)


def test_operator_pod_log_is_clean(cluster: Kubectl) -> None:
    """Run last: everything above went through the operator's pods, under its ServiceAccount."""
    pods = operator_pods(cluster)
    assert pods, "no operator pod"
    log = operator_log(cluster)
    for pod in pods:
        assert pod["spec"]["serviceAccountName"] == "app-operator"
        assert pod["spec"]["containers"][0]["securityContext"]["readOnlyRootFilesystem"] is True
        restarts = sum(s["restartCount"] for s in pod["status"]["containerStatuses"])
        assert restarts == 0, f"{pod['metadata']['name']} restarted {restarts} times"
    assert "Forbidden" not in log, log[-6000:]
    assert "Traceback" not in log, log[-6000:]
    namespace = cluster("get", "namespace", "app-operator-system", "-o", "json")
    labels = yaml.safe_load(namespace)["metadata"]["labels"]
    assert labels["pod-security.kubernetes.io/enforce"] == "restricted"
