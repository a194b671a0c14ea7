"""What an App author cannot do, checked without a cluster: the model's twin of each CRD
rule, the rendering that keeps unchanged Apps quiet, kept claims, bounded messages.
tests/security/ runs the same attacks against a real API server."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
import yaml
from pydantic import ValidationError

from app_operator.core import model, render, status
from app_operator.core.model import AppSpec, parse_quantity
from app_operator.core.render import AppRef
from app_operator.core.status import Observed
from app_operator.runtime import kube

from .conftest import make_spec
from .fake_api import FakeApi, app_body, reconciler


@pytest.mark.parametrize("value", [
    "1e99999999999", "1e999", "1E+100", "9" * 19, "1.0000000001", "-1", "+1", "1e", "Gi",
    "1.5Gj", " 1Gi", "1Gi ", "", "0x10", 2**53, -1,
])
def test_quantities_outside_the_strict_form_are_refused(value: str | int) -> None:
    with pytest.raises(ValueError, match="not a quantity"):
        parse_quantity(value)
    with pytest.raises(ValidationError):
        make_spec(resources={"limits": {"cpu": value}})
    if isinstance(value, str):
        with pytest.raises(ValidationError):
            make_spec(volumes=[{"name": "d", "mountPath": "/d", "size": value}])


@pytest.mark.parametrize("value", ["8Ei", "800Ei", "10E", "1e19", "9999999999999999P"])
def test_quantities_kubernetes_cannot_keep_exactly_are_refused(value: str) -> None:
    """A claim of "8Ei" is stored as 9223372036854775807: never equal to what the App says,
    it would be applied again on every reconcile."""
    with pytest.raises(ValidationError, match="less than 8Ei"):
        make_spec(resources={"limits": {"memory": value}})
    with pytest.raises(ValidationError, match="less than 8Ei"):
        make_spec(volumes=[{"name": "d", "mountPath": "/d", "size": value}])


@pytest.mark.parametrize("value", ["500m", "1Gi", "2", "1e3", "1E-3", ".5", "0.5", "1.5Gi",
                                   "999999999999999999", "5e18", 2**53 - 1, 0])
def test_quantities_of_the_strict_form_are_read(value: str | int) -> None:
    make_spec(resources={"limits": {"cpu": value}})


def test_strict_quantity_pattern_is_what_the_crd_and_its_cel_rules_check() -> None:
    text = json.dumps(yaml.safe_load(open_crd()))
    assert json.dumps(model.QUANTITY_PATTERN)[1:-1] in text
    volume_rules = spec_schema()["properties"]["volumes"]["items"]["x-kubernetes-validations"]
    for rule in volume_rules:
        if "quantity(" in rule["rule"]:
            # quantity() runs only behind the strict pattern (&& and || short-circuit in CEL)
            guard = rule["rule"].index("matches(")
            assert guard < rule["rule"].index("quantity("), rule["rule"]


@pytest.mark.parametrize("key", [
    "container.apparmor.security.beta.kubernetes.io/flask",
    "seccomp.security.alpha.kubernetes.io/pod",
    "container.seccomp.security.alpha.kubernetes.io/flask",
    "kubernetes.io/psp",
    "pod-security.kubernetes.io/enforce",
    "io.kubernetes.cri-o.Devices",
    "io.containerd.runc.v2.whatever",
    "run.oci.keep_original_groups",
    "io.katacontainers.config.hypervisor.kernel_params",
])
def test_pod_annotations_that_change_security_are_refused(key: str) -> None:
    with pytest.raises(ValidationError, match="securityProfile"):
        make_spec(podAnnotations={key: "unconfined"})


# Issue 23 item 4: each family of annotations that a cluster component reads to change what
# a pod can reach or who it is, refused with the family's reason.
POD_ANNOTATION_FAMILIES = {
    "CNI": ["k8s.v1.cni.cncf.io/networks", "v1.multus-cni.io/default-network",
            "cni.projectcalico.org/ipAddrs", "cni.projectcalico.org/ipv4pools",
            "policy.cilium.io/proxy-visibility"],
    "service mesh": ["sidecar.istio.io/inject", "traffic.sidecar.istio.io/excludeOutboundPorts",
                     "proxy.istio.io/config", "linkerd.io/inject",
                     "config.linkerd.io/skip-outbound-ports",
                     "consul.hashicorp.com/connect-inject"],
    "cloud or secrets identity": [
        "iam.amazonaws.com/role", "eks.amazonaws.com/role-arn",
        "azure.workload.identity/client-id", "iam.gke.io/gcp-service-account",
        "vault.hashicorp.com/role"],
    "runtime": ["io.kubernetes.cri-o.userns-mode", "dev.gvisor.spec.mount.x.share"],
}
FAMILY_REASONS = {"CNI": "network attachments or addresses (CNI)",
                  "service mesh": "sidecar or traffic interception",
                  "cloud or secrets identity": "a cloud or secrets identity",
                  "runtime": "container runtime options"}


@pytest.mark.parametrize(("family", "key"), [
    (family, key) for family, keys in POD_ANNOTATION_FAMILIES.items() for key in keys])
def test_pod_annotations_of_each_refused_family_are_refused_with_its_reason(
        family: str, key: str) -> None:
    with pytest.raises(ValidationError) as error:
        make_spec(podAnnotations={key: "x"})
    assert f"podAnnotations: {key} would" in str(error.value)
    assert FAMILY_REASONS[family] in str(error.value)


@pytest.mark.parametrize("family", [f for f in POD_ANNOTATION_FAMILIES if f != "runtime"])
def test_the_crd_refuses_each_family_at_admission_with_its_reason(family: str) -> None:
    """The CRD's CEL rule for a family carries a pattern that matches each of its keys (the
    same pattern the model uses) and a message with the reason; tests/security sends them
    to a real API server."""
    rules = spec_schema()["properties"]["podAnnotations"]["x-kubernetes-validations"]
    ours = [r for r in rules if FAMILY_REASONS[family] in r.get("messageExpression", "")]
    assert len(ours) == 1, rules
    pattern = next(p for p, reason in model.REFUSED_POD_ANNOTATION_FAMILIES
                   if FAMILY_REASONS[family] in reason)
    assert model.cel_matches("k", pattern) in ours[0]["rule"]
    for key in POD_ANNOTATION_FAMILIES[family]:
        assert re.match(pattern, key), key


@pytest.mark.parametrize("key", [
    "prometheus.io/scrape", "app.kubernetes.io/version", "team", "example.com/owner",
    "kubectl.kubernetes.io/default-container",
    "cluster-autoscaler.kubernetes.io/safe-to-evict",
    # Near the refused families, yet not in them.
    "istio-version", "example.com/linkerd", "amazonaws-note", "team.example.com/iam",
])
def test_ordinary_pod_annotations_are_kept(key: str) -> None:
    assert make_spec(podAnnotations={key: "true"}).pod_annotations == {key: "true"}


@pytest.mark.parametrize(("fields", "message"), [
    ({"podAnnotations": {"a" * 1200: "x"}}, "not a valid key"),
    ({"podAnnotations": {"bad key": "x"}}, "not a valid key"),
    ({"service": {"annotations": {f"k{i}": "x" * 2000 for i in range(40)}}},
     "bytes in all"),
    ({"podAnnotations": {f"k{i}": "x" for i in range(65)}}, "at most 64"),
    ({"podLabels": {"team": "a b"}}, "pattern"),
    ({"env": [{"name": f"V{i}", "value": "x" * 30000} for i in range(5)]}, "bytes in all"),
    ({"args": ["x" * 4000] * 20}, "bytes in all"),
    ({"args": ["a\x00b"]}, "pattern"),
    ({"env": [{"name": "A", "value": "\x1b[31m"}]}, "pattern"),
    ({"workingDir": "/app\n"}, "pattern"),
    ({"image": " busybox:latest "}, "pattern"),
    ({"imagePullSecrets": ["Not_A_Name"]}, "pattern"),
    # The API server's server-side apply fails (500) on a list with a key twice.
    ({"imagePullSecrets": ["registry", "registry"]}, "named twice"),
    ({"probes": {"readiness": {"tcpSocket": {"port": 80},
                               "periodSeconds": 4294967306}}}, "less than or equal"),
    ({"probes": {"readiness": {"tcpSocket": {"port": 70000}}}}, "between 1 and 65535"),
])
def test_bounds_and_characters(fields: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        make_spec(**fields)


def test_unicode_and_newlines_are_allowed_where_text_is() -> None:
    spec = make_spec(args=["hello 😀", "line one\nline two\ttab"],
                     env=[{"name": "GREETING", "value": "Привет"}])
    assert spec.args == ["hello 😀", "line one\nline two\ttab"]


def test_the_largest_app_stays_well_under_the_api_servers_limits() -> None:
    """The free text at its bound (256 KiB, of 4-byte characters where a field allows
    them), every count and length at its maximum: the App stays below 512 KiB as the API
    server stores it (etcd takes 1.5 MiB), and its pod annotations below Kubernetes' 256 KiB
    for all annotations together. Each field at its own maximum at once is refused."""
    emoji = "\U0001F600"
    word = emoji * 1024  # 4 KiB
    spec = {
        "image": "registry.example.com/" + "a" * 1000,
        "command": [word] * 16, "args": [word] * 16,
        "env": [{"name": f"V{i}", "value": emoji * 64} for i in range(256)],
        "podAnnotations": {f"k{i:02}": "v" * 1019 for i in range(32)},
        "podLabels": {f"l{i:02}": "v" * 63 for i in range(32)},
        "ports": [{"name": f"p{i}", "containerPort": 1000 + i} for i in range(64)],
        "volumes": [{"name": f"v{i:02}" + "x" * 40, "mountPath": f"/{'d' * 200}/{i}"}
                    for i in range(32)],
        "files": [{"mountPath": "/etc/app.conf", "content": emoji * 7680}],
    }
    text = AppSpec.model_validate(spec).text_size()
    assert text == model.APP_TEXT_MAX
    stored = json.dumps(spec, ensure_ascii=False).encode("utf-8")
    assert len(stored) < 512 * 1024
    every_maximum = {**spec, "env": [{"name": f"V{i}", "value": "v" * 512} for i in range(256)],
                     "service": {"annotations": {f"k{i:02}": "v" * 1019 for i in range(64)}}}
    with pytest.raises(ValidationError, match="an App may hold at most 262144 bytes"):
        AppSpec.model_validate(every_maximum)


def test_apply_bodies_are_utf8_json_that_yaml_reads_back_exactly() -> None:
    obj = {"args": ["hello 😀", "tab\there", "quote\"s", "nel\x85 c1\x9f ls\u2028 ps\u2029",
                    "nonchar\ufffe"], "k" * 300: "long key"}
    body = kube.apply_body(obj)
    assert b"\\ud83d" not in body
    assert yaml.safe_load(body.decode("utf-8")) == obj


@pytest.mark.parametrize(("fields", "path"), [
    ({"env": [{"name": "FOO", "value": ""}]}, ("env", 0)),
    ({"envFrom": [{"configMapRef": {"name": "c"}, "prefix": ""}]}, ("envFrom", 0)),
    ({"resources": {"requests": {}}}, ("resources",)),
    ({"command": []}, ("command",)),
])
def test_empty_values_are_not_rendered(app: AppRef, fields: dict[str, Any],
                                       path: tuple[str | int, ...]) -> None:
    """The API server drops them when it stores the object: sent, they would look like a
    difference on every reconcile."""
    deployment = render.render_deployment(app, make_spec(**fields))
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    node: Any = container
    for step in path:
        if isinstance(step, str) and step not in node:
            return  # dropped altogether
        node = node[step]
    assert "" not in node.values() and {} not in node.values()


def test_messages_are_bounded_and_keep_their_start() -> None:
    message = "the API server refused Service x: " + "annotation too long; " * 500
    short = status.shorten(message)
    assert len(short) == status.MESSAGE_LIMIT
    assert short.startswith("the API server refused Service x: ")
    assert short.endswith("more characters)")
    assert status.shorten("short") == "short"


def test_condition_messages_are_bounded(app: AppRef) -> None:
    problem = status.Problem("ApiRefused", "x" * 100_000)
    result = status.compute_status(app, 1, make_spec(), Observed(), problem, None, "now")
    assert all(len(c["message"]) <= status.MESSAGE_LIMIT for c in result["conditions"])


def test_pods_that_cannot_be_created_stall_with_the_deployments_reason(app: AppRef) -> None:
    deployment = {"metadata": {"generation": 1}, "status": {
        "observedGeneration": 1, "replicas": 0, "conditions": [
            {"type": "Progressing", "status": "True", "reason": "ReplicaSetUpdated"},
            {"type": "ReplicaFailure", "status": "True", "reason": "FailedCreate",
             "message": 'pods "flask-1" is forbidden: violates PodSecurity "restricted"'}]}}
    result = status.compute_status(app, 1, make_spec(), Observed(deployment=deployment), None,
                                   None, "now")
    conditions = {c["type"]: c for c in result["conditions"]}
    assert conditions["Stalled"]["status"] == "True"
    assert conditions["Ready"]["reason"] == "FailedCreate"
    assert "violates PodSecurity" in conditions["Ready"]["message"]


def test_a_pending_claim_is_named_before_the_pods_waiting_for_it(app: AppRef) -> None:
    deployment = {"metadata": {"generation": 1}, "status": {
        "observedGeneration": 1, "replicas": 1, "updatedReplicas": 1, "availableReplicas": 0}}
    claim = {"status": {"phase": "Pending"}}
    result = status.compute_status(
        app, 1, make_spec(volumes=[{"name": "data", "mountPath": "/data"}]),
        Observed(deployment=deployment, claims={"data": claim}), None, None, "now")
    ready = next(c for c in result["conditions"] if c["type"] == "Ready")
    assert ready["reason"] == "VolumesPending"
    assert "flask-data (Pending)" in ready["message"]


# Kept claims: a claim kept under Retain is never deleted by a later App.

VOLUMES = [{"name": "data", "mountPath": "/data"}]


def test_a_kept_claim_adopted_by_a_new_app_under_delete_is_never_owned() -> None:
    api = FakeApi()
    old = app_body(uid="old-app", volumes=VOLUMES)
    reconciler(api).reconcile(old)
    claim = api.find("PersistentVolumeClaim", "demo", "flask-data")
    assert claim is not None and "ownerReferences" not in claim["metadata"]
    assert claim["metadata"]["annotations"][render.APP_UID_ANNOTATION] == "old-app"

    # The App is deleted (the claim stays: Retain) and a new App of the same name, another
    # image, another mount path and volumeDeletionPolicy Delete, mounts it again.
    api.collect_garbage("old-app")
    new = app_body(uid="new-app", image="thief:1", volumeDeletionPolicy="Delete",
                   volumes=[{"name": "data", "mountPath": "/steal"}])
    reconciler(api).reconcile(new)
    claim = api.find("PersistentVolumeClaim", "demo", "flask-data")
    assert claim is not None
    assert "ownerReferences" not in claim["metadata"]
    assert claim["metadata"]["annotations"][render.KEPT_ANNOTATION] == "true"

    # Removing the volume from the spec under Delete does not delete it either.
    reconciler(api).reconcile(app_body(uid="new-app", image="thief:1",
                                       volumeDeletionPolicy="Delete", generation=2))
    assert api.find("PersistentVolumeClaim", "demo", "flask-data") is not None
    assert ("delete", "PersistentVolumeClaim", "flask-data") not in api.writes
    assert api.statuses["flask"]["retainedClaims"] == ["flask-data"]


def test_a_claim_made_under_delete_goes_with_its_volume() -> None:
    api = FakeApi()
    body = app_body(volumeDeletionPolicy="Delete", volumes=VOLUMES)
    reconciler(api).reconcile(body)
    claim = api.find("PersistentVolumeClaim", "demo", "flask-data")
    assert claim is not None
    assert [r["uid"] for r in claim["metadata"]["ownerReferences"]] == ["app-uid-1"]
    reconciler(api).reconcile(app_body(volumeDeletionPolicy="Delete", generation=2))
    assert api.find("PersistentVolumeClaim", "demo", "flask-data") is None


def test_a_volume_removed_under_retain_is_marked_kept_and_stays_kept() -> None:
    api = FakeApi()
    reconciler(api).reconcile(app_body(volumeDeletionPolicy="Delete", volumes=VOLUMES))
    # Removed under Retain: released from the App and marked.
    reconciler(api).reconcile(app_body(generation=2))
    claim = api.find("PersistentVolumeClaim", "demo", "flask-data")
    assert claim is not None and not claim["metadata"].get("ownerReferences")
    assert claim["metadata"]["annotations"][render.KEPT_ANNOTATION] == "true"
    # Added again under Delete: mounted, never owned.
    reconciler(api).reconcile(app_body(generation=3, volumeDeletionPolicy="Delete",
                                       volumes=VOLUMES))
    claim = api.find("PersistentVolumeClaim", "demo", "flask-data")
    assert claim is not None and not claim["metadata"].get("ownerReferences")


def test_an_app_being_deleted_is_left_alone() -> None:
    api = FakeApi()
    body = app_body()
    body["metadata"]["deletionTimestamp"] = "2026-11-29T10:00:00Z"
    outcome = reconciler(api).reconcile(body)
    assert api.writes == [] and outcome.applied == []


def test_a_claim_of_another_app_is_a_conflict_that_names_no_other_app() -> None:
    api = FakeApi()
    # App "db" with volume "data-x" made claim "db-data-x"; App "db-data" wants volume "x".
    reconciler(api).reconcile(app_body(name="db", uid="db-uid",
                                       volumes=[{"name": "data-x", "mountPath": "/d"}]))
    outcome = reconciler(api).reconcile(app_body(name="db-data", uid="other",
                                                 volumes=[{"name": "x", "mountPath": "/x"}]))
    assert outcome.problem is not None and outcome.problem.reason == "NameConflict"
    assert "PersistentVolumeClaim db-data-x (owned by nobody" in outcome.problem.message
    assert "App db " not in outcome.problem.message


def test_a_converged_app_writes_nothing_on_a_second_reconcile() -> None:
    api = FakeApi()
    body = app_body(env=[{"name": "EMPTY", "value": ""}], resources={"requests": {}},
                    volumes=VOLUMES, ports=[{"name": "http", "containerPort": 5000}])
    reconciler(api).reconcile(body)
    api.writes.clear()
    body["status"] = api.statuses["flask"]
    reconciler(api).reconcile(body)
    assert api.writes == []


def open_crd() -> str:
    from pathlib import Path

    return (Path(__file__).resolve().parents[2] / "crds" / "apps.appoperator.dev.yaml").read_text()


def spec_schema() -> dict[str, Any]:
    crd = yaml.safe_load(open_crd())
    result: dict[str, Any] = crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"][
        "properties"]["spec"]
    return result
