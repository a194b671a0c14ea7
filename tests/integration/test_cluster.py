"""The test cluster itself: what every other integration test relies on."""

import json
from pathlib import Path

from tests.kube_helpers import Kubectl, service_account_kubeconfig, wait_for


def test_a_node_is_ready(cluster: Kubectl) -> None:
    nodes = cluster.items("nodes")
    ready = [n for n in nodes for c in n["status"]["conditions"]
             if c["type"] == "Ready" and c["status"] == "True"]
    assert ready, f"no Ready node among {[n['metadata']['name'] for n in nodes]}"


def test_deployment_pods_become_ready(kubectl: Kubectl) -> None:
    kubectl("create", "deployment", "web", "--image=nginx:1.27", "--replicas=2")
    deployment = wait_for("availableReplicas == 2", lambda: (
        d := kubectl.get("deployment", "web")) and
        (d.get("status") or {}).get("availableReplicas") == 2 and d)
    assert deployment["status"]["readyReplicas"] == 2
    pods = kubectl.items("pods", "app=web")
    assert len(pods) == 2
    assert all(p["status"]["phase"] == "Running" for p in pods)


def test_claim_in_default_class_is_bound(kubectl: Kubectl) -> None:
    kubectl.apply({"apiVersion": "v1", "kind": "PersistentVolumeClaim",
                   "metadata": {"name": "data"},
                   "spec": {"accessModes": ["ReadWriteOnce"],
                            "resources": {"requests": {"storage": "1Gi"}}}})
    claim = wait_for("claim Bound", lambda: (c := kubectl.get("pvc", "data")) and
                     c.get("status", {}).get("phase") == "Bound" and c)
    assert claim["status"]["capacity"]["storage"] == "1Gi"


def test_garbage_collector_deletes_owned_objects(kubectl: Kubectl) -> None:
    kubectl("create", "configmap", "owner")
    owner = kubectl.get("configmap", "owner")
    assert owner is not None
    kubectl.apply({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {
        "name": "owned", "ownerReferences": [{
            "apiVersion": "v1", "kind": "ConfigMap", "name": "owner",
            "uid": owner["metadata"]["uid"]}]}})
    kubectl("delete", "configmap", "owner")
    wait_for("the owned ConfigMap to be collected",
             lambda: kubectl.get("configmap", "owned") is None)


def test_rbac_is_enforced(kubectl: Kubectl, namespace: str, tmp_path: Path) -> None:
    kubectl("create", "serviceaccount", "nobody")
    who = f"system:serviceaccount:{namespace}:nobody"
    denied = kubectl.run("auth", "can-i", "list", "secrets", f"--as={who}", check=False)
    assert denied.stdout.strip() == "no"
    # The same holds for a real token, not only for impersonation.
    token_kubeconfig = service_account_kubeconfig(kubectl, "nobody", tmp_path)
    as_nobody = Kubectl(str(token_kubeconfig), namespace)
    result = as_nobody.run("get", "secrets", check=False)
    assert result.returncode != 0
    assert "forbidden" in result.stderr.lower()
    assert as_nobody.run("get", "--raw", "/version", check=False).returncode == 0


def test_server_version(cluster: Kubectl) -> None:
    version = json.loads(cluster("version", "-o", "json"))
    assert version["serverVersion"]["gitVersion"].startswith("v1.36.")
