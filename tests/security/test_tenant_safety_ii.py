"""Issue 23 (tenant safety II), on the local cluster: what a user with the built-in `edit`
role in one namespace (or with App rights only) can no longer do through the operator.

- grow the operator's memory with ConfigMaps that carry its labels (the caches keep only the
  names of objects that are no App's child, and a digest of a ConfigMap's values);
- have the operator adopt a Deployment planted under an App's name with its labels, or
  delete a labelled ConfigMap `<app>-files` it did not make (ownership is the controller
  ownerReference's uid, never labels);
- slip network, service-mesh or cloud-identity annotations onto the pods (refused at
  admission by the CRD's rules, with the reason).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.kube_helpers import (
    Kubectl,
    OperatorProcess,
    app_manifest,
    condition,
    free_port,
    scrape,
    service_account_kubeconfig,
    wait_for,
    wait_ready,
    wait_stalled,
)
from tests.security.test_attacks import healthy, refused

pytestmark = pytest.mark.usefixtures("api_watchdog")

LABELS = {"app.kubernetes.io/managed-by": "app-operator", "app.kubernetes.io/name": "flask",
          "app.kubernetes.io/instance": "flask"}
# The manifests' memory limit for the operator's container.
MEMORY_LIMIT = 512 * 2**20
# The attack of issue 23 was 200 ConfigMaps of 900 KiB; 60 of them keep the test within a
# minute and still prove the bound: held whole, they add about 55 MB to an operator of
# about 75 MB, far past the 20% the test allows.
ATTACK_COUNT = 60
ATTACK_SIZE = 900 * 1024


@pytest.fixture
def editor(installed: Kubectl, kubectl: Kubectl, namespace: str) -> Kubectl:
    """kubectl as a user with the built-in `edit` role in this namespace only."""
    kubectl("create", "serviceaccount", "editor")
    kubectl("create", "rolebinding", "editor", "--clusterrole=edit",
            f"--serviceaccount={namespace}:editor")
    as_editor = kubectl.as_user(f"system:serviceaccount:{namespace}:editor")
    wait_for("the editor to be allowed to create ConfigMaps", lambda: as_editor.run(
        "auth", "can-i", "create", "configmaps", check=False).stdout.strip() == "yes",
        timeout=30)
    return as_editor


@pytest.fixture
def watched_operator(installed: Kubectl, namespace: str, tmp_path: Path,
                     request: pytest.FixtureRequest) -> Iterator[tuple[OperatorProcess, int]]:
    """The operator as its own ServiceAccount, with its metrics on a port of its own."""
    account_kubeconfig = service_account_kubeconfig(
        installed.in_namespace("app-operator-system"), "app-operator", tmp_path)
    port = free_port()
    process = OperatorProcess(str(account_kubeconfig), [namespace], tmp_path / "operator.log",
                              extra_args=("--metrics-bind-address", f"127.0.0.1:{port}"))
    process.start()
    yield process, port
    process.stop()
    report = getattr(request.node, "rep_call", None)
    if report is not None and report.failed:
        print(f"--- operator log ---\n{process.logs()[-6000:]}")


def memory(process: OperatorProcess) -> tuple[int, int]:
    """The process's resident set size now and at its peak (VmRSS, VmHWM), in bytes."""
    assert process.process is not None
    fields = dict(line.split(":", 1) for line in Path(
        f"/proc/{process.process.pid}/status").read_text().splitlines() if ":" in line)
    return (int(fields["VmRSS"].split()[0]) * 1024, int(fields["VmHWM"].split()[0]) * 1024)


def ignored_config_maps(port: int) -> float:
    return scrape(port).get('app_operator_ignored_objects{kind="ConfigMap"}', 0.0)


# 1. Memory: labelled ConfigMaps made by an `edit` user.

def test_labelled_config_maps_of_an_edit_user_do_not_grow_the_operator(
        editor: Kubectl, tenant: Kubectl,
        watched_operator: tuple[OperatorProcess, int]) -> None:
    operator, port = watched_operator
    tenant.apply(app_manifest(files=[{"mountPath": "/etc/app.conf", "content": "a = 1\n"}]))
    wait_ready(tenant)
    baseline, _ = memory(operator)
    payload = "x" * ATTACK_SIZE
    attack = {"apiVersion": "v1", "kind": "List", "items": [
        {"apiVersion": "v1", "kind": "ConfigMap",
         "metadata": {"name": f"attack-{i}", "labels": {**LABELS,
                                                        "app.kubernetes.io/instance": f"a{i}"}},
         "data": {"payload": payload}} for i in range(ATTACK_COUNT)]}
    editor.run("create", "-f", "-", "--request-timeout=120s", stdin=json.dumps(attack))
    wait_for(f"the operator to have seen the {ATTACK_COUNT} ConfigMaps", lambda: (
        ignored_config_maps(port) == ATTACK_COUNT), timeout=120)
    after, _ = memory(operator)
    assert after <= 1.2 * baseline, (
        f"RSS {after / 2**20:.0f} MiB after the attack, {baseline / 2**20:.0f} MiB before")
    logs = operator.logs()
    assert logs.count("holds objects labelled") == 1, logs[-3000:]
    # The App still converges, its files compared by digest: a new content is applied.
    tenant.apply(app_manifest(files=[{"mountPath": "/etc/app.conf", "content": "a = 2\n"}]))
    wait_for("the new content in the files ConfigMap", lambda: (
        (c := editor.get("configmap", "flask-files")) is not None
        and "a = 2\n" in c["data"].values()))
    wait_ready(tenant)

    # A restart lists them all again, in pages: its peak stays under the manifests' limit.
    operator.stop()
    operator.start()
    wait_for("the restarted operator to have listed them", lambda: (
        ignored_config_maps(port) == ATTACK_COUNT), timeout=120)
    # The pages parsed whole are given back once the list is in (cache._give_back_memory).
    restarted = wait_for("the restarted operator back within 20% of its baseline", lambda: (
        rss if (rss := memory(operator)[0]) <= 1.2 * baseline else None), timeout=30)
    _, peak = memory(operator)
    print(f"RSS: {baseline / 2**20:.1f} MiB before the attack, {after / 2**20:.1f} MiB after; "
          f"restarted {restarted / 2**20:.1f} MiB, peak {peak / 2**20:.1f} MiB")
    assert peak < MEMORY_LIMIT
    healthy(operator)


# 3. Ownership by the controller ownerReference's uid, never by labels.

def test_a_planted_deployment_with_the_labels_is_never_adopted(
        editor: Kubectl, tenant: Kubectl, kubectl: Kubectl,
        watched_operator: tuple[OperatorProcess, int]) -> None:
    operator, _ = watched_operator
    editor.apply({
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": "flask", "labels": LABELS},
        "spec": {"replicas": 1, "selector": {"matchLabels": {
            "app.kubernetes.io/name": "flask", "app.kubernetes.io/instance": "flask"}},
            "template": {"metadata": {"labels": LABELS}, "spec": {
                "hostAliases": [{"ip": "10.0.0.66", "hostnames": ["api.example.com"]}],
                "containers": [{"name": "flask", "image": "flask:1"},
                               {"name": "miner", "image": "miner:1"}]}}}})
    planted = kubectl.get("deployment", "flask")
    assert planted is not None
    tenant.apply(app_manifest())
    app = wait_stalled(tenant, "flask", "NameConflict")
    message = condition(app, "Stalled")["message"]
    assert "Deployment flask (owned by nobody" in message
    assert condition(app, "Ready")["status"] == "False"
    now = kubectl.get("deployment", "flask", managed_fields=True)
    assert now is not None
    assert now["spec"]["template"] == planted["spec"]["template"]
    assert not now["metadata"].get("ownerReferences")
    assert "app-operator" not in {f.get("manager") for f in now["metadata"]["managedFields"]}
    assert [c["name"] for c in now["spec"]["template"]["spec"]["containers"]] == [
        "flask", "miner"]
    healthy(operator)


def test_a_labelled_files_config_map_the_app_did_not_make_is_never_deleted(
        editor: Kubectl, tenant: Kubectl,
        watched_operator: tuple[OperatorProcess, int]) -> None:
    operator, _ = watched_operator
    editor.apply({"apiVersion": "v1", "kind": "ConfigMap",
                  "metadata": {"name": "flask-files", "labels": LABELS},
                  "data": {"settings": "theirs"}})
    planted = editor.get("configmap", "flask-files")
    assert planted is not None
    tenant.apply(app_manifest())  # no inline files: an own flask-files would be pruned
    wait_ready(tenant)
    # Another App made after it shows the operator has worked through the first one.
    tenant.apply(app_manifest("other"))
    wait_ready(tenant, "other")
    after = editor.get("configmap", "flask-files")
    assert after is not None and after["metadata"]["uid"] == planted["metadata"]["uid"]
    assert after["data"] == {"settings": "theirs"}
    assert "deleted ConfigMap flask-files" not in operator.logs()
    healthy(operator)


# 4. podAnnotations of the network, service-mesh and identity families, at admission.

@pytest.mark.parametrize(("key", "reason"), [
    ("k8s.v1.cni.cncf.io/networks", "network attachments or addresses (CNI)"),
    ("v1.multus-cni.io/default-network", "network attachments or addresses (CNI)"),
    ("cni.projectcalico.org/ipAddrs", "network attachments or addresses (CNI)"),
    ("sidecar.istio.io/inject", "sidecar or traffic interception"),
    ("traffic.sidecar.istio.io/excludeOutboundIPRanges", "sidecar or traffic interception"),
    ("linkerd.io/inject", "sidecar or traffic interception"),
    ("iam.amazonaws.com/role", "cloud or secrets identity"),
    ("eks.amazonaws.com/role-arn", "cloud or secrets identity"),
    ("azure.workload.identity/client-id", "cloud or secrets identity"),
    ("iam.gke.io/gcp-service-account", "cloud or secrets identity"),
])
def test_network_mesh_and_identity_pod_annotations_are_refused(
        tenant: Kubectl, key: str, reason: str) -> None:
    refused(tenant, app_manifest(podAnnotations={key: "x"}), f"podAnnotations: {key} would",
            reason)


# 2. Sizes count bytes as the API server stores them; a whole App is bounded.

EMOJI = "\U0001F600"  # 4 bytes in UTF-8, one character


@pytest.mark.parametrize(("spec", "fragment"), [
    # 40,000 characters, 160,000 bytes: within a bound of characters, not of bytes.
    ({"env": [{"name": f"V{i}", "value": EMOJI * 8000} for i in range(5)]},
     "env: the values may have at most 131072 bytes in all (UTF-8)"),
    ({"args": [EMOJI * 4096] * 5}, "args: at most 65536 bytes in all (UTF-8)"),
    # Each field within its own bound, together past 256 KiB.
    ({"command": ["x" * 4096] * 16, "args": ["x" * 4096] * 16,
      "env": [{"name": f"V{i}", "value": "v" * 512} for i in range(200)],
      "files": [{"mountPath": "/a", "content": "\u00e9" * 16384}]},
     "an App may hold at most 262144 bytes (256 KiB, UTF-8)"),
])
def test_sizes_count_bytes_and_a_whole_app_is_bounded(tenant: Kubectl, spec: dict[str, object],
                                                      fragment: str) -> None:
    refused(tenant, app_manifest(**spec), fragment)
    assert tenant.get("app", "flask") is None
