"""charts/app-operator: lint, what it renders for each value that changes the objects, the
same objects as manifests/ by default, and a server-side dry run of every rendered object."""

from __future__ import annotations

import copy
import json
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.gitops.test_install_examples import (
    PROMETHEUS_OPERATOR,
    assert_accepted,
    install_crds,
    kustomize,
)
from tests.kube_helpers import ROOT, Kubectl
from tests.release.conftest import CHART, package_version
from tests.static.test_checkov import checkov

# The first test of a session may build helm from its Go module (hack/helm/build.sh): about
# four minutes on a busy 2-core machine, cached afterwards.
pytestmark = pytest.mark.timeout(900)

Object = dict[str, Any]


def template(helm: str, *values: str, release: str = "app-operator",
             namespace: str = "app-operator-system") -> list[Object]:
    """`helm template` with `--set` values, the objects as helm would send them."""
    args = [helm, "template", release, str(CHART), "--namespace", namespace]
    for value in values:
        args += ["--set", value]
    result = subprocess.run(args, capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 0, result.stderr
    return [d for d in yaml.safe_load_all(result.stdout) if d]


def render_error(helm: str, *values: str) -> str:
    args = [helm, "template", "app-operator", str(CHART)]
    for value in values:
        args += ["--set", value]
    result = subprocess.run(args, capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode != 0, "rendered, but should have been refused"
    return result.stderr


def find(objects: list[Object], kind: str, name: str) -> Object:
    found = [o for o in objects if o["kind"] == kind and o["metadata"]["name"] == name]
    assert len(found) == 1, f"{kind}/{name}: {len(found)} found among " + ", ".join(
        f"{o['kind']}/{o['metadata']['name']}" for o in objects)
    return found[0]


def container(objects: list[Object], release: str = "app-operator") -> Object:
    deployment = find(objects, "Deployment", release)
    (operator,) = deployment["spec"]["template"]["spec"]["containers"]
    result: Object = operator
    return result


# Labels only the chart puts on objects, and the selector key that tells releases apart.
CHART_ONLY_LABELS = {"helm.sh/chart", "app.kubernetes.io/version",
                     "app.kubernetes.io/managed-by", "app.kubernetes.io/instance",
                     "app.kubernetes.io/part-of"}


def comparable(obj: Object) -> Object:
    """The object without what tells a Helm release from a kustomize build: the chart's own
    labels (and its release label in selectors), and the Lease name it passes explicitly."""
    def strip(node: Any) -> Any:
        if isinstance(node, dict):
            return {k: strip(v) for k, v in node.items() if k not in CHART_ONLY_LABELS}
        if isinstance(node, list):
            return [strip(v) for v in node]
        return node
    result: Object = strip(copy.deepcopy(obj))
    result["metadata"].pop("labels", None)  # compared apart: the chart's may be more
    if obj["kind"] == "Deployment":
        # Flags the chart always passes, here with the values `app-operator run` defaults to.
        args = result["spec"]["template"]["spec"]["containers"][0]["args"]
        for flag, default in OPERATOR_DEFAULTS.items():
            if flag in args:
                index = args.index(flag)
                assert args[index + 1] == default, flag
                del args[index:index + 2]
    return result


OPERATOR_DEFAULTS = {"--leader-election-id": "app-operator", "--metrics-bind-address": ":9090",
                     "--leader-elect-lease-duration": "15", "--leader-elect-renew-deadline": "10",
                     "--leader-elect-retry-period": "2"}


def test_helm_lint(helm: str) -> None:
    for values in ([], ["watchNamespaces={team-a,team-b}", "metrics.serviceMonitor.enabled=true"]):
        args = [helm, "lint", "--strict", str(CHART)]
        for value in values:
            args += ["--set", value]
        result = subprocess.run(args, capture_output=True, text=True, timeout=120, check=False)
        assert result.returncode == 0, result.stdout + result.stderr


def test_chart_versions_are_the_package_version() -> None:
    chart = yaml.safe_load((CHART / "Chart.yaml").read_text())
    assert chart["version"] == chart["appVersion"] == package_version()
    assert chart["kubeVersion"] == ">=1.30.0-0"  # ValidatingAdmissionPolicy v1


def test_chart_crd_is_the_generated_crd() -> None:
    """Helm installs crds/ of a chart and never deletes it: the CRD is there, not in templates/."""
    assert [p.name for p in (CHART / "crds").iterdir()] == ["apps.appoperator.dev.yaml"]
    assert (CHART / "crds" / "apps.appoperator.dev.yaml").read_text() == (
        ROOT / "crds" / "apps.appoperator.dev.yaml").read_text()
    assert not any("CustomResourceDefinition" in p.read_text()
                   for p in (CHART / "templates").iterdir())


def test_defaults_render_the_objects_of_manifests(helm: str) -> None:
    """`helm install app-operator -n app-operator-system` and `kubectl apply -k manifests` make
    the same objects (the namespace apart: Helm's --create-namespace makes it)."""
    chart = template(helm, "image.tag=dev")
    built = [o for o in kustomize(ROOT / "manifests") if o["kind"] != "Namespace"]
    assert sorted((o["kind"], o["metadata"]["name"]) for o in chart) == sorted(
        (o["kind"], o["metadata"]["name"]) for o in built)
    for expected in built:
        rendered = find(chart, expected["kind"], expected["metadata"]["name"])
        assert comparable(rendered) == comparable(expected), expected["kind"]
        labels = rendered["metadata"]["labels"]
        assert expected["metadata"].get("labels", {}).items() <= labels.items()


def test_each_object_carries_the_release_labels(helm: str) -> None:
    for obj in template(helm, release="blue"):
        labels = obj["metadata"]["labels"]
        assert labels["app.kubernetes.io/instance"] == "blue", obj["metadata"]["name"]
        assert labels["app.kubernetes.io/managed-by"] == "Helm"


def test_two_releases_share_no_name_and_select_only_their_pods(helm: str) -> None:
    """A second release (a test, a canary) must not take over the first one's cluster-wide
    objects, its Lease, or count the first one's pods in its PDB or NetworkPolicy."""
    first = template(helm)
    second = template(helm, release="canary", namespace="app-operator-system")
    names = {(o["kind"], o["metadata"]["name"]) for o in first}
    assert names.isdisjoint({(o["kind"], o["metadata"]["name"]) for o in second})
    args = container(second, "canary-app-operator")["args"]
    assert args[args.index("--leader-election-id") + 1] == "canary-app-operator"
    lease_role = find(second, "Role", "canary-app-operator-leader-election")
    assert lease_role["rules"][1]["resourceNames"] == ["canary-app-operator"]
    for kind in ("PodDisruptionBudget", "NetworkPolicy", "Service"):
        selecting = [o for o in second if o["kind"] == kind]
        assert selecting, kind
        for obj in selecting:
            selector = obj["spec"].get("selector") or obj["spec"]["podSelector"]
            selector = selector.get("matchLabels", selector)
            assert selector["app.kubernetes.io/instance"] == "canary", kind


def test_image_values(helm: str) -> None:
    default = container(template(helm))
    assert default["image"] == f"app-operator:{package_version()}"  # the appVersion
    assert default["imagePullPolicy"] == "IfNotPresent"
    pinned = container(template(helm, "image.repository=ghcr.io/me/app-operator",
                                "image.tag=1.2.3", "image.pullPolicy=Always"))
    assert (pinned["image"], pinned["imagePullPolicy"]) == ("ghcr.io/me/app-operator:1.2.3",
                                                            "Always")


def test_watch_namespaces_grant_the_rules_there_only(helm: str) -> None:
    objects = template(helm, "watchNamespaces={team-a,team-b}")
    args = container(objects)["args"]
    assert [args[i + 1] for i, a in enumerate(args) if a == "--namespace"] == ["team-a", "team-b"]
    assert not [o for o in objects if o["kind"] == "ClusterRoleBinding"]
    bindings = [o for o in objects if o["kind"] == "RoleBinding"
                and o["roleRef"]["kind"] == "ClusterRole"]
    assert sorted(b["metadata"]["namespace"] for b in bindings) == ["team-a", "team-b"]
    for binding in bindings:
        assert binding["roleRef"]["name"] == "app-operator"
        assert binding["subjects"] == [{"kind": "ServiceAccount", "name": "app-operator",
                                        "namespace": "app-operator-system"}]
    # Cluster-wide (the default): one ClusterRoleBinding, no --namespace.
    default = template(helm)
    assert "--namespace" not in container(default)["args"]
    assert find(default, "ClusterRoleBinding", "app-operator")


def test_metrics_values(helm: str) -> None:
    moved = template(helm, "metrics.port=9100", "metrics.serviceMonitor.enabled=true")
    operator = container(moved)
    args = operator["args"]
    assert args[args.index("--metrics-bind-address") + 1] == ":9100"
    assert {"name": "metrics", "containerPort": 9100} in operator["ports"]
    assert find(moved, "Service", "app-operator-metrics")["spec"]["ports"][0]["port"] == 9100
    monitor = find(moved, "ServiceMonitor", "app-operator")
    assert monitor["spec"]["endpoints"][0]["port"] == "metrics"
    assert not [o for o in template(helm) if o["kind"] == "ServiceMonitor"]  # off by default
    off = template(helm, "metrics.enabled=false", "metrics.serviceMonitor.enabled=true")
    args = container(off)["args"]
    assert args[args.index("--metrics-bind-address") + 1] == "0"
    assert not [o for o in off if o["kind"] in ("Service", "ServiceMonitor")]
    assert find(off, "NetworkPolicy", "app-operator")["spec"]["ingress"] == []


def test_switches(helm: str) -> None:
    kinds = {o["kind"] for o in template(helm, "admissionPolicy.enabled=false",
                                         "networkPolicy.enabled=false",
                                         "podDisruptionBudget.enabled=false")}
    assert not kinds & {"ValidatingAdmissionPolicy", "ValidatingAdmissionPolicyBinding",
                        "NetworkPolicy", "PodDisruptionBudget"}
    one = template(helm, "replicas=1", "leaderElection.enabled=false",
                   "resources.limits.memory=1Gi")
    assert find(one, "Deployment", "app-operator")["spec"]["replicas"] == 1
    assert not [o for o in one if o["kind"] in ("PodDisruptionBudget", "Role")]
    operator = container(one)
    assert "--leader-elect" not in operator["args"]
    assert operator["resources"]["limits"]["memory"] == "1Gi"
    assert "without the Lease every replica writes" in render_error(
        helm, "leaderElection.enabled=false")


def test_leader_election_timings_reach_the_operator_and_are_checked(helm: str) -> None:
    args = container(template(helm))["args"]
    assert [args[args.index(flag) + 1] for flag in (
        "--leader-elect-lease-duration", "--leader-elect-renew-deadline",
        "--leader-elect-retry-period")] == ["15", "10", "2"]
    slow = container(template(helm, "leaderElection.leaseDuration=60",
                              "leaderElection.renewDeadline=40"))["args"]
    assert slow[slow.index("--leader-elect-lease-duration") + 1] == "60"
    assert slow[slow.index("--leader-elect-renew-deadline") + 1] == "40"
    assert "must be shorter than leaderElection.leaseDuration" in render_error(
        helm, "leaderElection.renewDeadline=15")


VALUE_SETS = {
    "defaults": [],
    "namespaced": ["watchNamespaces={NAMESPACE}"],
    "minimal": ["replicas=1", "leaderElection.enabled=false", "metrics.enabled=false",
                "admissionPolicy.enabled=false", "aggregatedRoles.enabled=false"],
    "servicemonitor": ["metrics.serviceMonitor.enabled=true"],
}


@pytest.mark.parametrize("values", VALUE_SETS)
def test_rendered_objects_pass_a_server_dry_run(helm: str, kubectl: Kubectl,
                                                values: str) -> None:
    """Every object the chart renders is admitted by the API server (schemas, strict fields,
    admission), in a namespace of the test's own: nothing is stored."""
    namespace = str(kubectl.namespace)
    if values == "servicemonitor":
        install_crds(kubectl, PROMETHEUS_OPERATOR)
    objects = template(helm, *(v.replace("NAMESPACE", namespace) for v in VALUE_SETS[values]),
                       release="dry-run", namespace=namespace)
    assert_accepted(kubectl, objects)
    assert json.dumps(objects).count(namespace) >= 1


def test_checkov_finds_nothing_in_the_rendered_chart(helm: str, tmp_path: Path) -> None:
    """The chart's defaults pass the same checkov policy as manifests/ (.checkov/manifests.yaml)."""
    manifest = tmp_path / "chart.yaml"
    manifest.write_text(subprocess.run(
        [helm, "template", "app-operator", str(CHART), "--namespace", "app-operator-system"],
        capture_output=True, text=True, check=True).stdout)
    checkov("manifests.yaml", manifest)


@pytest.mark.parametrize(("value", "message"), [
    ("replica=3", "additional properties 'replica' not allowed"),
    ("metrics.serviceMonitor.enable=true", "additional properties 'enable' not allowed"),
    ("watchNamespaces=team-a", "want array"),
    ("watchNamespaces={Team_A}", "/watchNamespaces/0"),
    ("image.pullPolicy=Sometimes", "/image/pullPolicy"),
    ("metrics.port=8080", "/metrics/port"),
])
def test_a_misspelt_or_wrong_value_is_refused(helm: str, value: str, message: str) -> None:
    """values.schema.json: a typo in --set or a values file fails the install instead of
    being silently ignored (a `replica: 3` that leaves two replicas)."""
    assert message in render_error(helm, value)
