"""`app-operator up` and `down` against the fake API: what is applied, labelled, deleted
and kept (the progress display has tests of its own, test_up_progress.py)."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from app_operator import cli
from app_operator.deploy import project as projects
from app_operator.deploy.down import remove_project
from app_operator.deploy.project import PROJECT_LABEL, BadProjectName, project_name
from app_operator.deploy.up import apply_project
from app_operator.runtime.kube import KubeError
from tests.unit.fake_api import FakeApi

Obj = dict[str, Any]
READY = {"observedGeneration": 1, "url": "http://web.demo.svc:8080", "conditions": [
    {"type": "Ready", "status": "True", "reason": "Available", "message": "1 of 1 available"}]}


def _matches(labels: dict[str, str], selector: str) -> bool:
    """The two forms of label selector up and down send: `k=v` and `k in (a,b)`."""
    for term in re.split(r",(?![^(]*\))", selector):
        found = re.fullmatch(r"(\S+) in \((.*)\)", term)
        if found:
            if labels.get(found[1]) not in found[2].split(","):
                return False
        else:
            key, value = term.split("=", 1)
            if labels.get(key) != value:
                return False
    return True


class FakeCluster:
    """deploy.cluster.Cluster over the unit tests' FakeApi. `operator`, when set, runs before
    each list of Apps, as the operator's status writes would have happened meanwhile."""

    def __init__(self, namespace: str = "demo") -> None:
        self.api = FakeApi()
        self.namespace = namespace
        self.operator: Callable[[FakeApi], None] | None = None

    def apply(self, obj: Obj) -> Obj:
        return self.api.apply(obj)

    def list(self, api_version: str, kind: str, label_selector: str) -> list[Obj]:
        if kind == "App" and self.operator is not None:
            self.operator(self.api)
        return [o for (k, ns, _), o in sorted(self.api.objects.items())
                if k == kind and ns == self.namespace
                and _matches(o["metadata"].get("labels") or {}, label_selector)]

    def delete(self, obj: Obj) -> bool:
        meta = obj["metadata"]
        return self.api.delete(obj["kind"], meta["namespace"], meta["name"], meta["uid"])

    def label(self, obj: Obj, labels: dict[str, str]) -> None:
        meta = obj["metadata"]
        self.api.merge_patch(obj["kind"], meta["namespace"], meta["name"],
                             {"metadata": {"labels": labels}}, projects.FIELD_MANAGER)


def app(name: str, **spec: Any) -> Obj:
    return {"apiVersion": "appoperator.dev/v1alpha1", "kind": "App",
            "metadata": {"name": name}, "spec": {"image": "nginx", **spec}}


def claim(name: str, instance: str, owner_uid: str | None = None, **labels: str) -> Obj:
    meta: Obj = {"name": name, "namespace": "demo", "labels": {
        "app.kubernetes.io/instance": instance, "app.kubernetes.io/managed-by": "app-operator",
        **labels}}
    if owner_uid:
        meta["ownerReferences"] = [{"uid": owner_uid, "controller": True, "kind": "App"}]
    return {"apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": meta}


# ------------------------------------------------------------------------------------- up

def test_every_object_is_applied_in_the_namespace_labelled_as_the_projects() -> None:
    cluster = FakeCluster()
    shared = {"apiVersion": "v1", "kind": "PersistentVolumeClaim",
              "metadata": {"name": "media"}, "spec": {}}
    applied = apply_project(cluster, [app("web"), shared, app("db")], "shop")
    # The claim first: an App never waits for a claim that `up` has yet to apply.
    assert cluster.api.journal == [("apply", "PersistentVolumeClaim", "media"),
                                   ("apply", "App", "web"), ("apply", "App", "db")]
    for obj in cluster.api.objects.values():
        assert obj["metadata"]["namespace"] == "demo"
        assert obj["metadata"]["labels"] == {PROJECT_LABEL: "shop"}
    assert applied.apps == ["web", "db"] and not applied.refused and not applied.strays


def test_a_refused_app_is_reported_and_does_not_hold_back_the_others() -> None:
    cluster = FakeCluster()
    cluster.api.refuse["App"] = KubeError(422, "Invalid", "spec.ports[0].port: must be > 0")
    applied = apply_project(cluster, [app("web"), {"apiVersion": "v1", "kind": "ConfigMap",
                                                   "metadata": {"name": "site"}}], "shop")
    assert [what for what, _ in applied.refused] == ["App web"]
    assert ("ConfigMap", "demo", "site") in cluster.api.objects


def test_apps_of_the_project_that_the_file_no_longer_has_are_named() -> None:
    cluster = FakeCluster()
    apply_project(cluster, [app("web"), app("old")], "shop")
    apply_project(cluster, [app("web")], "other")  # another project's App of the same name
    assert apply_project(cluster, [app("web")], "shop").strays == ["old"]


# ----------------------------------------------------------------------------------- down

def test_down_deletes_the_projects_apps_and_keeps_their_claims() -> None:
    cluster = FakeCluster()
    apply_project(cluster, [app("web"), app("db")], "shop")
    apply_project(cluster, [app("blog")], "other")
    cluster.api.create({"apiVersion": "appoperator.dev/v1alpha1", "kind": "App",
                        "metadata": {"name": "hand-made", "namespace": "demo"}, "spec": {}})
    cluster.api.create(claim("db-data", "db"))
    cluster.api.create(claim("blog-data", "blog"))
    removal = remove_project(cluster, "shop")
    assert removal.deleted == ["App db", "App web"]
    assert removal.kept_claims == ["db-data"] and not removal.deleted_claims
    left = {(k, n) for k, _, n in cluster.api.objects}
    assert left == {("App", "blog"), ("App", "hand-made"), ("PersistentVolumeClaim", "db-data"),
                    ("PersistentVolumeClaim", "blog-data")}
    # Labelled as the project's: `down --volumes` finds it later, its App gone.
    kept = cluster.api.objects[("PersistentVolumeClaim", "demo", "db-data")]
    assert kept["metadata"]["labels"][PROJECT_LABEL] == "shop"
    again = remove_project(cluster, "shop", volumes=True)
    assert again.deleted == [] and again.deleted_claims == ["db-data"]
    assert ("PersistentVolumeClaim", "demo", "db-data") not in cluster.api.objects
    assert ("PersistentVolumeClaim", "demo", "blog-data") in cluster.api.objects


def test_down_volumes_deletes_the_claims_up_applied_and_those_of_the_apps() -> None:
    cluster = FakeCluster()
    apply_project(cluster, [{"apiVersion": "v1", "kind": "PersistentVolumeClaim",
                             "metadata": {"name": "media"}}, app("web")], "shop")
    cluster.api.create(claim("web-cache", "web"))
    removal = remove_project(cluster, "shop", volumes=True)
    assert removal.deleted_claims == ["media", "web-cache"] and not removal.kept_claims
    assert not cluster.api.objects


def test_a_claim_its_app_owns_goes_with_the_app_and_is_not_said_kept() -> None:
    """volumeDeletionPolicy Delete: the garbage collector deletes it with its App."""
    cluster = FakeCluster()
    web = apply_project(cluster, [app("web")], "shop").objects[0]
    cluster.api.create(claim("web-cache", "web", owner_uid=web["metadata"]["uid"]))
    removal = remove_project(cluster, "shop")
    assert removal.deleted_claims == ["web-cache"] and not removal.kept_claims
    assert ("patch", "PersistentVolumeClaim", "web-cache") not in cluster.api.writes


# --------------------------------------------------------------------------- project name

def test_the_project_is_named_as_docker_compose_names_it(tmp_path: Path) -> None:
    compose = tmp_path / "My_Shop.v2" / "compose.yaml"
    assert project_name(None, {}, compose, {}) == "my_shopv2"
    assert project_name(None, {}, compose, {"COMPOSE_PROJECT_NAME": "env"}) == "env"
    assert project_name(None, {"name": "named"}, compose, {}) == "named"
    # Compose's order: -p, then the variable, then the file's name:.
    assert project_name(None, {"name": "named"}, compose, {"COMPOSE_PROJECT_NAME": "e"}) == "e"
    assert project_name("given", {"name": "named"}, compose, {}) == "given"
    with pytest.raises(BadProjectName, match=r"'Bad Name' \(from -p\).*-p NAME"):
        project_name("Bad Name", {}, compose, {})


# ------------------------------------------------------------------------ the command line

COMPOSE = """services:
  web: {image: nginx, ports: ['8080:8080']}
  db: {image: postgres, volumes: ['data:/var/lib/postgresql/data']}
volumes: {data: {}}
"""


@pytest.fixture
def shop(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> FakeCluster:
    """A compose file in a directory `shop`, the current one; `up` and `down` reach a fake
    cluster whose namespace is the context's."""
    (tmp_path / "shop").mkdir()
    (tmp_path / "shop" / "compose.yaml").write_text(COMPOSE)
    monkeypatch.chdir(tmp_path / "shop")
    cluster = FakeCluster()

    def connect(args: Any) -> FakeCluster:
        cluster.namespace = args.namespace or "demo"
        return cluster

    monkeypatch.setattr(cli, "_connect", connect)
    return cluster


def make_ready(api: FakeApi) -> None:
    for (kind, _, _), obj in api.objects.items():
        if kind == "App":
            obj["status"] = READY


def test_up_applies_waits_and_prints_the_urls(shop: FakeCluster,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    shop.operator = make_ready
    assert cli.main(["up", "--timeout", "2"]) == cli.EXIT_DONE
    out, err = capsys.readouterr()
    assert {n for k, _, n in shop.api.objects if k == "App"} == {"web", "db"}
    assert all(o["metadata"]["labels"] == {PROJECT_LABEL: "shop"}
               for o in shop.api.objects.values())
    assert "project shop in namespace demo: applied App web, App db" in err
    assert "web  ready" in err
    assert out.splitlines()[0].startswith("web  http://web.demo.svc:8080  (from here: "
                                          "kubectl -n demo port-forward svc/web 8080:8080")


def test_up_does_not_call_the_files_name_unused(shop: FakeCluster,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    """`name:` names the project whose label up writes on each object."""
    (Path("compose.yaml")).write_text("name: store\n" + COMPOSE)
    shop.operator = make_ready
    assert cli.main(["up", "--timeout", "2"]) == cli.EXIT_DONE
    err = capsys.readouterr().err
    assert "project store in namespace demo" in err
    assert "not used" not in err


def test_up_names_the_apps_not_ready_in_time(shop: FakeCluster,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["up", "--timeout", "0", "-n", "staging"]) == cli.EXIT_NOT_READY
    err = capsys.readouterr().err
    assert "error: not Ready after 0s: web (waiting: waiting for the operator" in err
    assert "; db (waiting: " in err
    assert {ns for _, ns, _ in shop.api.objects} == {"staging"}


def test_up_refuses_what_convert_refuses_and_applies_nothing(
        shop: FakeCluster, capsys: pytest.CaptureFixture[str]) -> None:
    Path("compose.yaml").write_text("services: {web: {image: nginx, privileged: true}}\n")
    assert cli.main(["up"]) == cli.main(["convert", "compose"]) == cli.EXIT_REFUSED
    assert "privileged" in capsys.readouterr().err
    assert not shop.api.writes


def test_up_strict_applies_nothing_when_there_are_warnings(
        shop: FakeCluster, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["up", "--strict"]) == cli.EXIT_WARNINGS
    assert "not applied: --strict" in capsys.readouterr().err
    assert not shop.api.writes


def test_up_reports_an_app_the_api_server_refuses(shop: FakeCluster,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    shop.api.refuse["App"] = KubeError(422, "Invalid", "spec.image: Required value")
    assert cli.main(["up"]) == cli.EXIT_REFUSED
    assert "error: App web: the API server refused it: spec.image: Required value" in (
        capsys.readouterr().err)


def test_down_says_which_claims_it_kept(shop: FakeCluster,
                                        capsys: pytest.CaptureFixture[str]) -> None:
    shop.operator = make_ready
    assert cli.main(["up", "--timeout", "2"]) == 0
    shop.api.create(claim("db-data", "db"))
    capsys.readouterr()
    assert cli.main(["down"]) == 0
    err = capsys.readouterr().err
    assert "project shop in namespace demo: deleted App db, App web" in err
    assert "kept claims (with their data): db-data; `app-operator down --volumes`" in err
    assert cli.main(["down", "-p", "shop", "--volumes"]) == 0
    err = capsys.readouterr().err
    assert "no App or other object to remove" in err
    assert "deleted claims (their data is gone): db-data" in err
    assert not shop.api.objects


SHARED = """services:
  app: {image: 'nextcloud:29-fpm', volumes: ['nextcloud:/var/www/html']}
  web: {image: 'nginx:1.27', ports: ['8080:80'], volumes: ['nextcloud:/var/www/html:ro']}
  adminer: {image: adminer, profiles: [debug], ports: ['8081:8080']}
volumes: {nextcloud: {}}
"""


def test_up_applies_the_claim_apps_share_first_and_down_keeps_it(
        shop: FakeCluster, capsys: pytest.CaptureFixture[str]) -> None:
    Path("compose.yaml").write_text(SHARED)
    assert cli.main(["up", "--no-wait"]) == 0
    assert [entry[1:] for entry in shop.api.journal] == [
        ("PersistentVolumeClaim", "shop-nextcloud"), ("App", "app"), ("App", "web")]
    shared = shop.api.objects[("PersistentVolumeClaim", "demo", "shop-nextcloud")]
    assert shared["metadata"]["labels"][PROJECT_LABEL] == "shop"
    capsys.readouterr()
    assert cli.main(["down"]) == 0
    assert "kept claims (with their data): shop-nextcloud;" in capsys.readouterr().err
    assert cli.main(["down", "--volumes"]) == 0
    assert "deleted claims (their data is gone): shop-nextcloud" in capsys.readouterr().err


def test_profiles_as_docker_compose_takes_them(shop: FakeCluster,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    Path("compose.yaml").write_text(SHARED)
    assert cli.main(["up", "--no-wait", "--profile", "debug", "-p", "cloud"]) == 0
    assert {n for k, _, n in shop.api.objects if k == "App"} == {"app", "web", "adminer"}
    capsys.readouterr()
    assert cli.main(["up", "--no-wait", "-p", "cloud"]) == 0  # adminer's profile not active
    assert ("warning: App adminer of project cloud was not applied this time (not in the file, "
            "or its profile is not active): it stays as it was") in capsys.readouterr().err
    # -p names the claim the Apps share, as it names the project.
    assert ("PersistentVolumeClaim", "demo", "cloud-nextcloud") in shop.api.objects
    capsys.readouterr()
    assert cli.main(["convert", "compose"]) == 0
    assert "name: adminer" not in capsys.readouterr().out
    Path(".env").write_text("COMPOSE_PROFILES=debug\n")
    assert cli.main(["convert", "compose"]) == 0
    assert "name: adminer" in capsys.readouterr().out


KUBECONFIG = """apiVersion: v1
kind: Config
clusters:
- {name: c, cluster: {server: "https://127.0.0.1:1"}}
contexts:
- {name: one, context: {cluster: c, user: u, namespace: team-a}}
- {name: two, context: {cluster: c, user: u}}
current-context: one
users:
- {name: u, user: {token: abc}}
"""


def test_the_namespace_is_chosen_as_kubectl_chooses_it(tmp_path: Path) -> None:
    from app_operator.deploy.cluster import ClusterError, connect

    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text(KUBECONFIG)
    assert connect(str(kubeconfig), None, None).namespace == "team-a"  # the context's
    assert connect(str(kubeconfig), "two", None).namespace == "default"
    assert connect(str(kubeconfig), "two", "shop").namespace == "shop"
    with pytest.raises(ClusterError, match=r"no context 'three' in the kubeconfig "
                                           r"\(it has: one, two\)"):
        connect(str(kubeconfig), "three", None)
    with pytest.raises(ClusterError, match="no usable kubeconfig"):
        connect(str(tmp_path / "missing"), None, None)


@pytest.mark.parametrize(("error", "code", "said"), [
    (KubeError(0, "MaxRetryError", "connection refused"), cli.EXIT_CLUSTER,
     "cannot reach the cluster: connection refused"),
    (KubeError(401, "Unauthorized", ""), cli.EXIT_CLUSTER, "does not accept the kubeconfig's"),
    (KubeError(403, "Forbidden", "cannot patch apps"), cli.EXIT_CLUSTER, "cannot patch apps"),
    (KubeError(422, "Invalid", "spec.image: Required"), cli.EXIT_REFUSED, "spec.image"),
])
def test_what_the_cluster_answers_becomes_an_exit_code_and_a_reason(
        shop: FakeCluster, capsys: pytest.CaptureFixture[str], error: KubeError, code: int,
        said: str) -> None:
    def fail(obj: Obj) -> Obj:
        raise error

    shop.apply = fail  # type: ignore[method-assign]
    assert cli.main(["up", "--no-wait"]) == code
    assert said in capsys.readouterr().err


def test_a_field_the_clusters_crd_lacks_is_said_to_need_a_newer_crd(
        shop: FakeCluster, capsys: pytest.CaptureFixture[str]) -> None:
    """What a real API server answers (seen on kube-apiserver 1.3x) when the App carries a
    field its CRD does not declare: 500, which is no transient error."""
    shop.api.refuse["App"] = KubeError(
        500, "", "failed to create typed patch object (demo/web; appoperator.dev/v1alpha1, "
        "Kind=App): .spec.volumes[name=\"nextcloud\"].claimName: field not declared in schema")
    assert cli.main(["up", "--no-wait"]) == cli.EXIT_CLUSTER
    err = capsys.readouterr().err
    assert "error: App web: the API server refused it: failed to create typed patch" in err
    assert "the cluster's App schema is older than this app-operator: update the CRD" in err
    assert "error: App db: " in err  # each App said, none held back by the first
