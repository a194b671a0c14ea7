"""Installing and removing the operator on the local cluster leaves the CRD, the Apps and
what they run: `kubectl delete -f dist/install.yaml` and `helm uninstall` remove the operator
only.

The cluster is shared with every other test (and other sessions): dist/install.yaml's
namespace app-operator-system and its cluster-wide names are in use there (tests/integration/
test_rbac.py installs the same manifests). So the bundle is installed into the test's own
namespace under cluster-wide names of its own, the same objects otherwise; the Helm release
has a name and namespace of its own. Before anything is deleted, each test checks that what
it will delete holds no CRD: the App CRD is never deleted here.
"""

from __future__ import annotations

import copy
import json
import subprocess
import uuid
from pathlib import Path
from typing import Any

import pytest

from tests.kube_helpers import (
    Kubectl,
    OperatorProcess,
    app_manifest,
    service_account_kubeconfig,
    wait_for,
)
from tests.release.conftest import CHART, documents

# The first test of a session may build helm from its Go module (hack/helm/build.sh): about
# four minutes on a busy 2-core machine, cached afterwards.
pytestmark = pytest.mark.timeout(900)

CRD = "apps.appoperator.dev"
Object = dict[str, Any]


def relocated_bundle(install: list[Object], namespace: str, suffix: str) -> list[Object]:
    """install.yaml's objects in `namespace`, its cluster-wide ones renamed with `suffix`
    (and every reference to them), the Namespace object left out (the test made its own)."""
    moved: list[Object] = []
    operator_namespace = "app-operator-system"
    for source in install:
        obj = copy.deepcopy(source)
        if obj["kind"] == "Namespace":
            continue
        metadata = obj["metadata"]
        if "namespace" in metadata:
            metadata["namespace"] = namespace
        else:
            metadata["name"] = f"{metadata['name']}-{suffix}"
        for subject in obj.get("subjects", []):
            if subject.get("namespace") == operator_namespace:
                subject["namespace"] = namespace
        if obj["kind"] == "ClusterRoleBinding":
            obj["roleRef"]["name"] = f"{obj['roleRef']['name']}-{suffix}"
        if obj["kind"] == "ValidatingAdmissionPolicyBinding":
            obj["spec"]["policyName"] = f"{obj['spec']['policyName']}-{suffix}"
        moved.append(obj)
    return moved


def an_app_and_its_deployment(kubectl: Kubectl, kubeconfig: str, namespace: str,
                              log: Path) -> None:
    """An App reconciled by the operator (a process, as in the integration tier, with the
    credentials of `kubeconfig`): its Deployment exists, owned by the App."""
    kubectl.apply(app_manifest("kept"))
    operator = OperatorProcess(kubeconfig, [namespace], log).start()
    try:
        wait_for("the App's Deployment", lambda: kubectl.get("deployment", "kept"), timeout=90)
    except AssertionError:
        raise AssertionError(f"no Deployment; the operator's log:\n{operator.logs()[-4000:]}"
                             ) from None
    finally:
        operator.stop()


def assert_everything_kept(cluster: Kubectl, kubectl: Kubectl) -> None:
    crd = cluster.get("customresourcedefinition", CRD)
    assert crd is not None and not crd["metadata"].get("deletionTimestamp")
    app = kubectl.get("app", "kept")
    assert app is not None and not app["metadata"].get("deletionTimestamp")
    deployment = kubectl.get("deployment", "kept")
    assert deployment is not None and not deployment["metadata"].get("deletionTimestamp")
    (owner,) = deployment["metadata"]["ownerReferences"]
    assert owner["uid"] == app["metadata"]["uid"]


def test_deleting_the_install_bundle_keeps_the_crd_and_the_apps(
        dist: Path, cluster: Kubectl, kubectl: Kubectl, namespace: str,
        tmp_path: Path) -> None:
    install = documents((dist / "install.yaml").read_text())
    # Never delete the CRD of a shared cluster: fail here, before anything is deleted.
    assert "CustomResourceDefinition" not in {o["kind"] for o in install}, (
        "dist/install.yaml holds the CRD: deleting it would delete every App")
    # Install as docs/install.md says: the CRDs first, then the operator.
    cluster("apply", "--server-side", "--force-conflicts", "-f", str(dist / "crds.yaml"))
    suffix = uuid.uuid4().hex[:6]
    bundle = tmp_path / "install.yaml"
    bundle.write_text("\n---\n".join(json.dumps(o) for o in relocated_bundle(
        install, namespace, suffix)))
    try:
        cluster("apply", "--server-side", "-f", str(bundle))
        an_app_and_its_deployment(kubectl, cluster.kubeconfig, namespace,
                                  tmp_path / "operator.log")

        cluster("delete", "-f", str(bundle), "--wait=true")
        assert cluster.get("clusterrole", f"app-operator-{suffix}") is None  # operator gone
        assert kubectl.get("deployment", "app-operator") is None
        assert_everything_kept(cluster, kubectl)
    finally:  # nothing cluster-wide left behind when the test fails halfway (no CRD in it)
        cluster.run("delete", "-f", str(bundle), "--ignore-not-found", "--wait=false",
                    check=False)


def helm_run(helm: str, cluster: Kubectl, *args: str) -> str:
    result = subprocess.run([helm, "--kubeconfig", cluster.kubeconfig, *args],
                            capture_output=True, text=True, timeout=300, check=False)
    assert result.returncode == 0, f"helm {' '.join(args)}: {result.stderr}"
    return result.stdout


def test_helm_uninstall_keeps_the_crd_and_the_apps(helm: str, cluster: Kubectl,
                                                   kubectl: Kubectl, namespace: str,
                                                   tmp_path: Path) -> None:
    release = f"rel-{uuid.uuid4().hex[:6]}"
    try:
        helm_install_and_uninstall(helm, cluster, kubectl, namespace, release, tmp_path)
    finally:  # the release's cluster-wide objects, when the test failed before uninstall
        cluster.run("delete", ",".join(RELEASE_CLUSTER_KINDS), "-l",
                    f"app.kubernetes.io/instance={release}", "--ignore-not-found",
                    "--wait=false", check=False, namespaced=False)


# What the chart makes outside the release's namespace (the CRD is never one of them).
RELEASE_CLUSTER_KINDS = ("clusterroles", "clusterrolebindings", "validatingadmissionpolicies",
                         "validatingadmissionpolicybindings")


def helm_install_and_uninstall(helm: str, cluster: Kubectl, kubectl: Kubectl, namespace: str,
                               release: str, tmp_path: Path) -> None:
    helm_run(helm, cluster, "install", release, str(CHART), "--namespace", namespace,
             "--set", f"watchNamespaces={{{namespace}}}")
    manifest = helm_run(helm, cluster, "get", "manifest", release, "--namespace", namespace)
    # What uninstall deletes: never the CRD (fail here, before anything is deleted).
    assert "CustomResourceDefinition" not in {o["kind"] for o in documents(manifest)}
    fullname = f"{release}-app-operator"
    assert kubectl.get("deployment", fullname) is not None
    assert kubectl.get("rolebinding", fullname) is not None
    # The operator runs as the release's ServiceAccount: what watchNamespaces grants (its
    # ClusterRole bound in this namespace only) is enough to reconcile an App here.
    account = service_account_kubeconfig(kubectl, fullname, tmp_path)
    an_app_and_its_deployment(kubectl, str(account), namespace, tmp_path / "operator.log")

    helm_run(helm, cluster, "uninstall", release, "--namespace", namespace, "--wait")
    assert kubectl.get("deployment", fullname) is None
    assert cluster.get("clusterrole", fullname) is None
    assert_everything_kept(cluster, kubectl)
