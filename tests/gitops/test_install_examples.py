"""The install examples, each tested by a server-side dry run against the real CRDs.

- `manifests/` as `kubectl kustomize` builds it, alone and with `components/servicemonitor`;
- `integrations/flux/`: a GitRepository of this repository, the Kustomization of the operator
  (./manifests) and the Kustomization of a set of Apps that depends on it and health-checks
  its Apps, and those Apps (integrations/flux/apps/);
- `integrations/argocd/application.yaml`: the Argo CD Application of manifests/.

The CRDs of Flux, Argo CD and the Prometheus Operator come from their projects' Go modules
(`go mod download` from the module proxy; a module's zip carries its non-Go files), pinned
below and copied to ~/.cache/app-operator/crds/<module>@<version>/. They are installed
with server-side apply and left in place: other sessions on the shared cluster may use them.
Their schemas are structural, so the API server refuses an unknown field when kubectl asks for
strict validation (its default, given here explicitly): `test_a_typo_is_refused` shows that a
misspelt field or a wrong value in each example fails these tests.

Namespaced objects of the GitOps examples (in flux-system, argocd, demo: namespaces that the
tools' own installs make) are dry-run in the test's fresh namespace; manifests/ is dry-run
as it is, into app-operator-system.
"""

from __future__ import annotations

import copy
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.gitops.conftest import cache_dir
from tests.kube_helpers import ROOT, Kubectl, kubectl_binary, wait_established

MANIFESTS = ROOT / "manifests"
SERVICEMONITOR_COMPONENT = MANIFESTS / "components" / "servicemonitor"
FLUX = ROOT / "integrations" / "flux"
FLUX_APPS = FLUX / "apps"
ARGOCD_APPLICATION = ROOT / "integrations" / "argocd" / "application.yaml"


@dataclass(frozen=True)
class CrdSource:
    """CRD files in a Go module, at a version the module proxy serves."""

    module: str
    version: str
    files: tuple[str, ...]


# The newest versions whose go.mod the local Go (1.26, GOTOOLCHAIN=local) accepts: the
# proxy's kustomize-controller and source-controller v1.10.x and argo-cd v3.6.x declare
# go 1.27, and `go mod download` refuses them. The CRDs' served versions are the same:
# kustomize.toolkit.fluxcd.io/v1, source.toolkit.fluxcd.io/v1, argoproj.io/v1alpha1.
FLUX_KUSTOMIZE_CONTROLLER = CrdSource(
    "github.com/fluxcd/kustomize-controller", "v1.9.6",
    ("config/crd/bases/kustomize.toolkit.fluxcd.io_kustomizations.yaml",))
FLUX_SOURCE_CONTROLLER = CrdSource(
    "github.com/fluxcd/source-controller", "v1.9.6",
    ("config/crd/bases/source.toolkit.fluxcd.io_gitrepositories.yaml",))
# The only module that carries the Application CRD: a 56 MB zip (209 MB unpacked in the
# module cache), downloaded once.
ARGO_CD = CrdSource(
    "github.com/argoproj/argo-cd/v3", "v3.5.7", ("manifests/crds/application-crd.yaml",))
# The newest version the proxy lists.
PROMETHEUS_OPERATOR = CrdSource(
    "github.com/prometheus-operator/prometheus-operator", "v0.85.0",
    ("example/prometheus-operator-crd/monitoring.coreos.com_servicemonitors.yaml",))

# A cold module cache downloads the Argo CD module (56 MB) on first use.
pytestmark = pytest.mark.timeout(900)


def go_binary() -> str:
    go = shutil.which("go") or "/usr/local/go/bin/go"
    if not os.access(go, os.X_OK):
        raise RuntimeError("no Go toolchain: install Go to fetch the CRDs from Go modules")
    return go


def crd_files(source: CrdSource) -> list[Path]:
    """The source's CRD files, from the cache or fetched with `go mod download`."""
    directory = cache_dir() / "crds" / f"{source.module.replace('/', '_')}@{source.version}"
    paths = [directory / Path(name).name for name in source.files]
    if all(path.exists() for path in paths):
        return paths
    directory.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as outside_any_module:
        result = subprocess.run(
            [go_binary(), "mod", "download", "-json", f"{source.module}@{source.version}"],
            cwd=outside_any_module, capture_output=True, text=True, timeout=840, check=False)
    try:
        info = json.loads(result.stdout)
    except json.JSONDecodeError:
        info = {"Error": result.stderr.strip() or result.stdout.strip()}
    if result.returncode != 0 or "Error" in info:
        raise RuntimeError(f"go mod download {source.module}@{source.version}: "
                           f"{info.get('Error')}")
    for name, path in zip(source.files, paths, strict=True):
        partial = path.with_suffix(f".{os.getpid()}.partial")
        shutil.copyfile(Path(info["Dir"]) / name, partial)
        partial.replace(path)
    return paths


def install_crds(cluster: Kubectl, source: CrdSource) -> None:
    """Server-side apply (idempotent; left in place), then wait until each is Established."""
    for path in crd_files(source):
        name = yaml.safe_load(path.read_text())["metadata"]["name"]
        cluster("apply", "--server-side", "--force-conflicts", "-f", str(path))
        wait_established(cluster, name)


@pytest.fixture(scope="module")
def flux_crds(cluster: Kubectl) -> None:
    install_crds(cluster, FLUX_KUSTOMIZE_CONTROLLER)
    install_crds(cluster, FLUX_SOURCE_CONTROLLER)


@pytest.fixture(scope="module")
def argocd_crds(cluster: Kubectl) -> None:
    install_crds(cluster, ARGO_CD)


@pytest.fixture(scope="module")
def servicemonitor_crd(cluster: Kubectl) -> None:
    install_crds(cluster, PROMETHEUS_OPERATOR)


# Reading and building the examples (no cluster)


class _StrictLoader(yaml.SafeLoader):
    """Refuses a key given twice, as kubectl's YAML reader does (PyYAML keeps the last)."""


def _mapping(loader: _StrictLoader, node: yaml.MappingNode) -> dict[Any, Any]:
    keys = [loader.construct_object(key) for key, _ in node.value]
    twice = {key for key in keys if keys.count(key) > 1}
    if twice:
        raise yaml.constructor.ConstructorError(
            None, None, f"keys given twice: {sorted(twice)}", node.start_mark)
    return loader.construct_mapping(node)


_StrictLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _mapping)


def load_documents(text: str) -> list[dict[str, Any]]:
    return [doc for doc in yaml.load_all(text, Loader=_StrictLoader) if doc]


def kustomize(path: Path) -> list[dict[str, Any]]:
    result = subprocess.run([kubectl_binary(), "kustomize", str(path)], capture_output=True,
                            text=True, timeout=120, check=False)
    assert result.returncode == 0, f"kubectl kustomize {path}: {result.stderr}"
    return load_documents(result.stdout)


def kustomize_with(directory: Path, resources: list[Path], **fields: Any) -> list[dict[str, Any]]:
    """Build a kustomization of `resources` (folders of this repository) with more fields,
    as Flux and Argo CD do with theirs (images, components)."""
    def relative(path: Path) -> str:
        return os.path.relpath(path, directory)  # kustomize takes no absolute roots
    kustomization: dict[str, Any] = {
        "apiVersion": "kustomize.config.k8s.io/v1beta1", "kind": "Kustomization",
        "resources": [relative(path) for path in resources]}
    if "components" in fields:
        fields["components"] = [relative(path) for path in fields["components"]]
    kustomization.update(fields)
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "kustomization.yaml").write_text(json.dumps(kustomization))
    return kustomize(directory)


@cache
def example(name: str) -> tuple[dict[str, Any], ...]:
    """The objects of an example, as the tool that applies it reads them."""
    if name == "manifests":
        return tuple(kustomize(MANIFESTS))
    if name == "servicemonitor":
        with tempfile.TemporaryDirectory() as directory:
            return tuple(kustomize_with(Path(directory), [MANIFESTS],
                                        components=[SERVICEMONITOR_COMPONENT]))
    if name == "flux":
        return tuple(kustomize(FLUX))
    if name == "flux-apps":
        return tuple(kustomize(FLUX_APPS))
    if name == "argocd":
        return tuple(load_documents(ARGOCD_APPLICATION.read_text()))
    raise KeyError(name)


def find(objects: tuple[dict[str, Any], ...] | list[dict[str, Any]], kind: str,
         name: str) -> dict[str, Any]:
    found = [o for o in objects if o["kind"] == kind and o["metadata"]["name"] == name]
    assert len(found) == 1, f"{kind}/{name}: {len(found)} found"
    return found[0]


def relocated(objects: list[dict[str, Any]] | tuple[dict[str, Any], ...],
              namespace: str) -> list[dict[str, Any]]:
    """The objects, those that name a namespace moved into `namespace`."""
    moved = copy.deepcopy(list(objects))
    for obj in moved:
        if "namespace" in obj["metadata"]:
            obj["metadata"]["namespace"] = namespace
    return moved


def deployment_image(objects: list[dict[str, Any]]) -> str:
    deployment = find(objects, "Deployment", "app-operator")
    image: str = deployment["spec"]["template"]["spec"]["containers"][0]["image"]
    return image


# The server's dry run


def dry_run(cluster: Kubectl, objects: list[dict[str, Any]]) -> subprocess.CompletedProcess[str]:
    """`kubectl apply --server-side --dry-run=server --validate=strict` of the objects: the
    API server admits them (schemas, CEL, admission) and stores nothing."""
    # A stream of documents (JSON is YAML), not a List: kubectl checks a List's items against
    # the OpenAPI schema itself first, and then an unknown field would be refused by kubectl,
    # not by the API server, whose refusal is what is tested here.
    stream = "\n---\n".join(json.dumps(obj) for obj in objects)
    return cluster.run("apply", "--server-side", "--force-conflicts", "--dry-run=server",
                       "--validate=strict", "-f", "-", stdin=stream, namespaced=False,
                       check=False)


def assert_accepted(cluster: Kubectl, objects: list[dict[str, Any]]) -> None:
    result = dry_run(cluster, objects)
    assert result.returncode == 0, result.stderr
    accepted = [line for line in result.stdout.splitlines()
                if line.endswith("serverside-applied (server dry run)")]
    assert len(accepted) == len(objects), result.stdout  # every object was sent, and passed


def ensure_operator_namespace(cluster: Kubectl) -> None:
    """manifests/' namespaced objects need their namespace to exist for a dry run: the
    Namespace of manifests/ itself, applied as the other cluster tests apply it."""
    if cluster.run("get", "namespace", "app-operator-system", namespaced=False,
                   check=False).returncode == 0:
        return
    namespace = find(example("manifests"), "Namespace", "app-operator-system")
    cluster("apply", "--server-side", "--force-conflicts", "-f", "-",
            stdin=json.dumps(namespace))


# manifests/ (kustomize)


def test_manifests_pass_a_server_dry_run(cluster: Kubectl) -> None:
    objects = list(example("manifests"))
    assert objects[0]["kind"] == "Namespace"
    assert "CustomResourceDefinition" not in {o["kind"] for o in objects}  # crds/, apart
    ensure_operator_namespace(cluster)
    assert_accepted(cluster, objects)


def test_manifests_with_the_servicemonitor_component(cluster: Kubectl,
                                                     servicemonitor_crd: None) -> None:
    objects = list(example("servicemonitor"))
    assert {(o["kind"], o["metadata"]["name"]) for o in objects} == {
        (o["kind"], o["metadata"]["name"]) for o in example("manifests")} | {
        ("ServiceMonitor", "app-operator")}
    # It scrapes the operator's metrics Service, by that Service's labels and port name.
    monitor = find(objects, "ServiceMonitor", "app-operator")
    service = find(objects, "Service", "app-operator-metrics")
    assert monitor["metadata"]["namespace"] == service["metadata"]["namespace"]
    assert monitor["spec"]["selector"]["matchLabels"].items() <= (
        service["metadata"]["labels"].items())
    assert {e["port"] for e in monitor["spec"]["endpoints"]} <= {
        p["name"] for p in service["spec"]["ports"]}
    ensure_operator_namespace(cluster)
    assert_accepted(cluster, objects)


def test_cluster_scoped_objects_of_manifests_name_no_namespace(cluster: Kubectl) -> None:
    """The API server drops a namespace on a cluster-scoped object; tools that check the
    scope first (Config Sync, inventories keyed by namespace) do not."""
    namespaced: dict[str, dict[str, bool]] = {}

    def is_namespaced(obj: dict[str, Any]) -> bool:
        api_version = obj["apiVersion"]
        if api_version not in namespaced:
            path = f"/api/{api_version}" if "/" not in api_version else f"/apis/{api_version}"
            resources = json.loads(cluster("get", "--raw", path))["resources"]
            namespaced[api_version] = {r["kind"]: r["namespaced"] for r in resources
                                       if "/" not in r["name"]}
        return namespaced[api_version][obj["kind"]]

    wrong = [f"{o['kind']}/{o['metadata']['name']}" for o in example("manifests")
             if "namespace" in o["metadata"] and not is_namespaced(o)]
    assert wrong == []


# Flux


def test_flux_example_lists_every_file() -> None:
    kustomization = yaml.safe_load((FLUX / "kustomization.yaml").read_text())
    assert sorted(kustomization["resources"]) == sorted(
        p.name for p in FLUX.glob("*.yaml") if p.name != "kustomization.yaml")


def test_flux_example_passes_a_server_dry_run(kubectl: Kubectl, flux_crds: None) -> None:
    objects = example("flux")
    assert sorted((o["apiVersion"], o["kind"]) for o in objects) == [
        ("kustomize.toolkit.fluxcd.io/v1", "Kustomization"),
        ("kustomize.toolkit.fluxcd.io/v1", "Kustomization"),
        ("kustomize.toolkit.fluxcd.io/v1", "Kustomization"),
        ("source.toolkit.fluxcd.io/v1", "GitRepository")]
    assert {o["metadata"]["namespace"] for o in objects} == {"flux-system"}
    assert_accepted(kubectl, relocated(objects, str(kubectl.namespace)))


def test_flux_example_holds_together(tmp_path: Path) -> None:
    """What a dry run cannot see: the references between the objects, the paths in this
    repository, and what Flux builds from them."""
    objects = example("flux")
    sources = {o["metadata"]["name"] for o in objects if o["kind"] == "GitRepository"}
    kustomizations = {o["metadata"]["name"]: o for o in objects if o["kind"] == "Kustomization"}
    for name, kustomization in kustomizations.items():
        spec = kustomization["spec"]
        assert spec["sourceRef"] == {"kind": "GitRepository", "name": spec["sourceRef"]["name"]}
        assert spec["sourceRef"]["name"] in sources, name
        assert {d["name"] for d in spec.get("dependsOn", [])} <= set(kustomizations), name
        assert (ROOT / spec["path"]).is_dir(), spec["path"]
    operator, apps = kustomizations["app-operator"]["spec"], kustomizations["apps"]["spec"]
    assert (ROOT / operator["path"]).resolve() == MANIFESTS
    assert operator["wait"] is True  # the CRD Established, the operator available
    # The images entry applies to the operator's Deployment.
    built = kustomize_with(tmp_path / "operator", [MANIFESTS], images=operator["images"])
    image = operator["images"][0]
    assert deployment_image(built) == f"{image['newName']}:{image['newTag']}"
    # The Apps wait for the operator, and each health check names an App of their path.
    assert apps["dependsOn"] == [{"name": "app-operator"}]
    assert (ROOT / apps["path"]).resolve() == FLUX_APPS
    apps_built = example("flux-apps")
    assert apps["healthChecks"], "no health check"
    for check in apps["healthChecks"]:
        assert (check["apiVersion"], check["kind"]) == ("appoperator.dev/v1alpha1", "App")
        app = find(apps_built, "App", check["name"])
        assert app["metadata"]["namespace"] == check["namespace"]


def test_flux_apps_pass_a_server_dry_run(kubectl: Kubectl, tmp_path: Path) -> None:
    objects = example("flux-apps")
    assert [o["kind"] for o in objects] == ["Namespace", "App"]
    assert_accepted(kubectl, relocated(objects, str(kubectl.namespace)))
    # The App's pods are admitted by the Pod Security level its namespace enforces: the
    # children the operator renders for it, dry-run in a namespace labelled the same way.
    (namespace,) = [o for o in objects if o["kind"] == "Namespace"]
    labels = [f"{k}={v}" for k, v in namespace["metadata"]["labels"].items()
              if k.startswith("pod-security.kubernetes.io/")]
    assert labels, "the example's namespace enforces no Pod Security level"
    kubectl("label", "namespace", str(kubectl.namespace), *labels)
    (app,) = relocated([o for o in objects if o["kind"] == "App"], str(kubectl.namespace))
    app_file = tmp_path / "app.json"
    app_file.write_text(json.dumps(app))
    children = subprocess.run([sys.executable, "-m", "app_operator", "render",
                               str(app_file)], capture_output=True, text=True,
                              check=True).stdout
    result = kubectl.run("apply", "--dry-run=server", "-f", "-", stdin=children)
    name = app["metadata"]["name"]
    assert f"deployment.apps/{name} created (server dry run)" in result.stdout, result.stdout
    assert "PodSecurity" not in result.stderr, result.stderr  # "would violate PodSecurity"


# Argo CD


def test_argocd_application_passes_a_server_dry_run(kubectl: Kubectl,
                                                    argocd_crds: None) -> None:
    objects = example("argocd")
    assert [(o["apiVersion"], o["kind"], o["metadata"]["namespace"]) for o in objects] == [
        ("argoproj.io/v1alpha1", "Application", "argocd")] * 2  # the operator, the CRD
    assert_accepted(kubectl, relocated(objects, str(kubectl.namespace)))


def test_argocd_application_holds_together(tmp_path: Path) -> None:
    application = find(example("argocd"), "Application", "app-operator")
    source, destination = application["spec"]["source"], application["spec"]["destination"]
    assert (ROOT / source["path"]).resolve() == MANIFESTS
    namespaces = {o["metadata"]["namespace"] for o in example("manifests")
                  if "namespace" in o["metadata"]}
    assert namespaces == {destination["namespace"]}
    # Argo CD's form of an images entry, [name=]newName:newTag, applies to the Deployment.
    (entry,) = source["kustomize"]["images"]
    match = re.fullmatch(r"(?P<name>[^=]+)=(?P<newName>[^=]+):(?P<newTag>[^:/=]+)", entry)
    assert match, entry
    built = kustomize_with(tmp_path, [MANIFESTS], images=[match.groupdict()])
    assert deployment_image(built) == f"{match['newName']}:{match['newTag']}"
    # Argo CD needs the health script to read an App (integrations/argocd/argocd-cm.yaml).
    assert "argocd-cm.yaml" in ARGOCD_APPLICATION.read_text()


# A typo in an example fails the tests above


@dataclass(frozen=True)
class Typo:
    example: str
    object: str  # Kind/name
    path: str  # dotted, list indices as numbers
    misspelt: str | None = None  # the last key renamed to this
    value: Any = None  # or the value replaced by this
    message: str = ""  # what the API server says (a part of it)

    def __str__(self) -> str:
        change = self.misspelt if self.misspelt is not None else repr(self.value)
        return f"{self.example}:{self.object}:{self.path}->{change}"


CRDS_OF = {"flux": "flux_crds", "argocd": "argocd_crds", "servicemonitor": "servicemonitor_crd"}
TYPOS = [
    Typo("flux", "Kustomization/apps", "spec.healthChecks", misspelt="healthCheck"),
    Typo("flux", "Kustomization/apps", "spec.dependsOn.0.name", misspelt="nmae"),
    Typo("flux", "Kustomization/app-operator", "spec.images.0.newTag", misspelt="newtag"),
    Typo("flux", "GitRepository/app-operator", "spec.ref.branch", misspelt="brnach"),
    Typo("flux", "Kustomization/apps", "spec.sourceRef.kind", value="GitRepo",
         message="Unsupported value"),
    Typo("flux", "GitRepository/app-operator", "spec.interval", value="10 minutes",
         message="spec.interval"),
    Typo("argocd", "Application/app-operator", "spec.source.repoURL", misspelt="repoUrl"),
    Typo("argocd", "Application/app-operator", "spec.syncPolicy.automated.selfHeal",
         misspelt="selfheal"),
    Typo("argocd", "Application/app-operator", "spec.syncPolicy.automated.prune",
         value="yes", message="spec.syncPolicy.automated.prune"),
    Typo("servicemonitor", "ServiceMonitor/app-operator", "spec.endpoints.0.port",
         misspelt="prot"),
    Typo("manifests", "Deployment/app-operator",
         "spec.template.spec.containers.0.readinessProbe", misspelt="readynessProbe"),
    Typo("flux-apps", "App/hello", "spec.files.0.content", misspelt="contents"),
]


def with_typo(obj: dict[str, Any], typo: Typo) -> dict[str, Any]:
    changed = copy.deepcopy(obj)
    *parents, last = typo.path.split(".")
    node: Any = changed
    for step in parents:
        node = node[int(step)] if isinstance(node, list) else node[step]
    assert last in node, f"{typo.path} is not in {typo.object}: update this test"
    if typo.misspelt is not None:
        node[typo.misspelt] = node.pop(last)
    else:
        node[last] = typo.value
    return changed


@pytest.fixture(params=TYPOS, ids=str)
def typo(request: pytest.FixtureRequest) -> Typo:
    param: Typo = request.param
    if param.example in CRDS_OF:
        request.getfixturevalue(CRDS_OF[param.example])
    return param


def test_a_typo_is_refused(kubectl: Kubectl, typo: Typo) -> None:
    kind, name = typo.object.split("/")
    (obj,) = relocated([find(example(typo.example), kind, name)], str(kubectl.namespace))
    assert_accepted(kubectl, [obj])
    result = dry_run(kubectl, [with_typo(obj, typo)])
    assert result.returncode != 0, f"{typo} was accepted: {result.stdout}"
    # Refused by the API server ("Error from server: ...", "The App \"x\" is invalid: ..."),
    # not by kubectl's own check ("error: error validating data: ...").
    assert result.stderr.startswith(("Error from server", f"The {kind} ")), result.stderr
    assert (typo.misspelt or typo.message) in result.stderr, result.stderr
