"""The install manifests: least-privilege RBAC (frozen here), a locked-down operator pod."""

from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[2]
MANIFESTS = ROOT / "manifests"

# Exactly what the operator may do. Changing it is a security decision: change this list in
# the same commit, and say why.
EXPECTED_RULES = [
    {"apiGroups": ["appoperator.dev"], "resources": ["apps"], "verbs": ["get", "list", "watch"]},
    {"apiGroups": ["appoperator.dev"], "resources": ["apps/status"], "verbs": ["get", "patch"]},
    {"apiGroups": ["appoperator.dev"], "resources": ["apps/finalizers"], "verbs": ["update"]},
    {"apiGroups": ["apps"], "resources": ["deployments"],
     "verbs": ["get", "list", "watch", "create", "patch", "delete"]},
    {"apiGroups": ["batch"], "resources": ["jobs"],
     "verbs": ["get", "list", "watch", "create", "patch", "delete"]},
    {"apiGroups": [""], "resources": ["services", "persistentvolumeclaims", "configmaps"],
     "verbs": ["get", "list", "watch", "create", "patch", "delete"]},
    # An App's route (issue 25): an Ingress, or an HTTPRoute (Gateway API).
    {"apiGroups": ["networking.k8s.io"], "resources": ["ingresses"],
     "verbs": ["get", "list", "watch", "create", "patch", "delete"]},
    {"apiGroups": ["gateway.networking.k8s.io"], "resources": ["httproutes"],
     "verbs": ["get", "list", "watch", "create", "patch", "delete"]},
    {"apiGroups": [""], "resources": ["pods"], "verbs": ["get", "list", "watch"]},
    {"apiGroups": [""], "resources": ["events"], "verbs": ["create", "patch"]},
]
NEVER_RESOURCES = {"secrets", "pods/exec", "pods/attach", "pods/portforward",
                   "pods/ephemeralcontainers", "persistentvolumes", "nodes",
                   "serviceaccounts/token", "clusterroles", "clusterrolebindings", "roles",
                   "rolebindings", "customresourcedefinitions", "*"}
NEVER_VERBS = {"escalate", "bind", "impersonate", "*"}


def load(name: str) -> dict[str, Any]:
    document: dict[str, Any] = yaml.safe_load((MANIFESTS / name).read_text())
    return document


def test_cluster_role_is_frozen() -> None:
    assert load("clusterrole.yaml")["rules"] == EXPECTED_RULES


def test_cluster_role_has_nothing_dangerous() -> None:
    for rule in load("clusterrole.yaml")["rules"]:
        if "pods" in rule["resources"]:
            assert rule["verbs"] == ["get", "list", "watch"], rule  # pods: read only
        assert not set(rule["resources"]) & NEVER_RESOURCES, rule
        assert not set(rule["verbs"]) & NEVER_VERBS, rule
        assert "*" not in rule["apiGroups"], rule
        assert "nonResourceURLs" not in rule and "resourceNames" not in rule


def test_binding_names_the_operator_account() -> None:
    binding = load("clusterrolebinding.yaml")
    assert binding["roleRef"]["name"] == "app-operator"
    assert binding["subjects"] == [{"kind": "ServiceAccount", "name": "app-operator",
                                    "namespace": "app-operator-system"}]


def test_namespace_enforces_restricted() -> None:
    labels = load("namespace.yaml")["metadata"]["labels"]
    assert labels["pod-security.kubernetes.io/enforce"] == "restricted"


def test_operator_pod_is_locked_down() -> None:
    deployment = load("deployment.yaml")
    pod = deployment["spec"]["template"]["spec"]
    assert pod["serviceAccountName"] == "app-operator"
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["runAsUser"] >= 10000
    assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    container = pod["containers"][0]
    assert container["securityContext"] == {
        "allowPrivilegeEscalation": False, "readOnlyRootFilesystem": True, "privileged": False,
        "capabilities": {"drop": ["ALL"]}}
    assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
    ports = {port["name"]: port["containerPort"] for port in container["ports"]}
    # Readiness is served beside the metrics (kopf serves liveness only), on the port the
    # operator is told to serve them on.
    assert container["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "metrics"}
    assert "--metrics-bind-address" not in container["args"] and ports["metrics"] == 9090
    assert container["resources"]["limits"]["memory"]
    assert deployment["spec"]["replicas"] == 2
    assert "--leader-elect" in container["args"]


def test_kustomization_lists_every_manifest() -> None:
    kustomization = load("kustomization.yaml")
    listed = set(kustomization["resources"])
    present = {p.name for p in MANIFESTS.glob("*.yaml")} - {"kustomization.yaml"}
    assert listed == present  # no ../crds: deleting manifests/ must not delete the Apps


def test_kind_config_maps_the_tutorial_port() -> None:
    config = yaml.safe_load((ROOT / "kind-config.yaml").read_text())
    roles = [node["role"] for node in config["nodes"]]
    assert roles == ["control-plane"]  # one node: docs/kind.md says why
    assert config["nodes"][0]["extraPortMappings"] == [
        {"containerPort": 30080, "hostPort": 8080, "protocol": "TCP"},
        # the gateway's NodePorts (hack/gateway/traefik.yaml, docs/kind.md)
        {"containerPort": 30081, "hostPort": 8081, "protocol": "TCP"},
        {"containerPort": 30443, "hostPort": 8443, "protocol": "TCP"}]
    gateway = yaml.safe_load_all((ROOT / "hack" / "gateway" / "traefik.yaml").read_text())
    [service] = [d for d in gateway if d["kind"] == "Service"]
    assert [p["nodePort"] for p in service["spec"]["ports"]] == [30081, 30443]
    flask = yaml.safe_load((ROOT / "examples" / "apps" / "flask.yaml").read_text())
    assert flask["spec"]["ports"][0]["nodePort"] == 30080


AGGREGATE = "rbac.authorization.k8s.io/aggregate-to-"
READ = {"get", "list", "watch"}


def aggregated_roles() -> dict[str, dict[str, Any]]:
    documents = yaml.safe_load_all((MANIFESTS / "aggregated-roles.yaml").read_text())
    return {d["metadata"]["name"]: d for d in documents if d}


def aggregates_to(role: dict[str, Any]) -> set[str]:
    return {key.removeprefix(AGGREGATE) for key, value in role["metadata"]["labels"].items()
            if key.startswith(AGGREGATE) and value == "true"}


def test_aggregated_roles_editing_never_reaches_view() -> None:
    roles = aggregated_roles()
    assert set(roles) == {"app-operator-edit", "app-operator-view"}
    # Creating an App runs an image with the namespace's network and Secrets: edit, admin.
    assert aggregates_to(roles["app-operator-edit"]) == {"edit", "admin"}
    assert aggregates_to(roles["app-operator-view"]) == {"view", "edit", "admin"}
    for rule in roles["app-operator-view"]["rules"]:
        assert set(rule["verbs"]) <= READ, rule


def test_aggregated_roles_cover_apps_only_and_leave_status_to_the_operator() -> None:
    for role in aggregated_roles().values():
        for rule in role["rules"]:
            assert rule["apiGroups"] == ["appoperator.dev"], rule
            assert set(rule["resources"]) <= {"apps", "apps/status", "apps/scale"}, rule
            assert "*" not in rule["verbs"] and "resourceNames" not in rule, rule
            if "apps/status" in rule["resources"]:
                assert set(rule["verbs"]) <= READ, rule
    edit = {r: set(rule["verbs"]) for rule in aggregated_roles()["app-operator-edit"]["rules"]
            for r in rule["resources"]}
    assert {"create", "update", "patch", "delete"} <= edit["apps"]
    assert {"update", "patch"} <= edit["apps/scale"]


def test_metrics_are_served_and_reachable() -> None:
    deployment = load("deployment.yaml")
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    assert {"name": "metrics", "containerPort": 9090} in container["ports"]
    service = load("metrics-service.yaml")
    assert service["spec"]["ports"][0]["targetPort"] == "metrics"
    policy = load("networkpolicy.yaml")
    assert {"protocol": "TCP", "port": 9090} in policy["spec"]["ingress"][0]["ports"]
    component = MANIFESTS / "components" / "servicemonitor"
    monitor = yaml.safe_load((component / "servicemonitor.yaml").read_text())
    labels = service["metadata"]["labels"]
    assert monitor["spec"]["selector"]["matchLabels"].items() <= labels.items()
    assert monitor["spec"]["endpoints"][0]["port"] == "metrics"
    assert yaml.safe_load((component / "kustomization.yaml").read_text())["kind"] == "Component"
