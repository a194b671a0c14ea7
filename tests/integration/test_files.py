"""spec.files on a real API server, with the operator running: how the pods mount the files,
the ConfigMap `<app>-files` of the inline ones, rollouts on new content, and its deletion."""

from __future__ import annotations

from typing import Any

import pytest

from tests.kube_helpers import (
    Kubectl,
    OperatorProcess,
    app_manifest,
    wait_for,
    wait_ready,
)

FILES_VOLUME = "app-operator-files"
FILES_HASH = "appoperator.dev/files-hash"
REVISION = "deployment.kubernetes.io/revision"

INLINE = {"mountPath": "/etc/nginx/nginx.conf", "content": "events {}\n"}
FROM_CONFIG_MAP = {"mountPath": "/app/settings.ini",
                   "configMap": {"name": "settings", "key": "ini"}}
FROM_SECRET = {"mountPath": "/run/secrets/db_password",
               "secret": {"name": "db", "key": "password"}, "mode": 0o400}
ALL_KINDS = [INLINE, FROM_CONFIG_MAP, FROM_SECRET]


def create_sources(kubectl: Kubectl) -> None:
    """The ConfigMap and the Secret the App's files name."""
    kubectl("create", "configmap", "settings", "--from-literal=ini=[app]\ndebug = false\n")
    kubectl("create", "secret", "generic", "db", "--from-literal=password=s3cret")


def deployment(kubectl: Kubectl, name: str = "flask") -> dict[str, Any]:
    found = kubectl.get("deployment", name)
    assert found is not None, f"Deployment {name} is missing"
    return found


def template(found: dict[str, Any]) -> dict[str, Any]:
    result: dict[str, Any] = found["spec"]["template"]
    return result


def files_hash(found: dict[str, Any]) -> str | None:
    return (template(found)["metadata"].get("annotations") or {}).get(FILES_HASH)


def settled_revision(kubectl: Kubectl, name: str = "flask") -> tuple[dict[str, Any], int]:
    """The Deployment once the deployment controller has acted on its current generation
    (its revision annotation then counts every pod template so far), and that revision."""
    def settled() -> tuple[dict[str, Any], int] | None:
        found = deployment(kubectl, name)
        revision = (found["metadata"].get("annotations") or {}).get(REVISION)
        observed = (found.get("status") or {}).get("observedGeneration")
        if revision is None or observed != found["metadata"]["generation"]:
            return None
        return found, int(revision)
    return wait_for(f"Deployment {name} observed by the deployment controller", settled)


def assert_mounted(kubectl: Kubectl, found: dict[str, Any], files: list[dict[str, Any]],
                   app_name: str = "flask") -> None:
    """Each file read-only at its mountPath, by its own subPath of one projected volume whose
    sources hold exactly these files; inline content comes from the ConfigMap <app>-files."""
    pod = template(found)["spec"]
    (container,) = pod["containers"]
    mounts = {m["mountPath"]: m for m in container.get("volumeMounts", [])
              if m["name"] == FILES_VOLUME}
    assert sorted(mounts) == sorted(f["mountPath"] for f in files)
    assert all(m.get("readOnly") is True for m in mounts.values()), mounts
    sub_paths = [m["subPath"] for m in mounts.values()]
    assert len(set(sub_paths)) == len(sub_paths), sub_paths
    (volume,) = [v for v in pod.get("volumes", []) if v["name"] == FILES_VOLUME]
    assert set(volume) == {"name", "projected"}, volume
    sources = volume["projected"]["sources"]
    assert len(sources) == len(files), sources
    by_path: dict[str, tuple[str, str, dict[str, Any]]] = {}
    for source in sources:
        ((kind, reference),) = source.items()
        (item,) = reference["items"]
        by_path[item["path"]] = (kind, reference["name"], item)
    assert sorted(by_path) == sorted(sub_paths)  # every mount has its source, and no more
    inline_data = {}
    if any("content" in f for f in files):
        config_map = kubectl.get("configmap", f"{app_name}-files")
        assert config_map is not None
        inline_data = config_map["data"]
    for file in files:
        kind, name, item = by_path[mounts[file["mountPath"]]["subPath"]]
        assert item.get("mode") == file.get("mode"), (file, item)
        if "content" in file:
            assert (kind, name) == ("configMap", f"{app_name}-files")
            assert inline_data[item["key"]] == file["content"]
        elif "configMap" in file:
            assert (kind, name, item["key"]) == (
                "configMap", file["configMap"]["name"], file["configMap"]["key"])
        else:
            assert (kind, name, item["key"]) == (
                "secret", file["secret"]["name"], file["secret"]["key"])


@pytest.mark.usefixtures("operator")
def test_files_of_each_kind_are_mounted_from_one_projected_volume(kubectl: Kubectl) -> None:
    create_sources(kubectl)
    kubectl.apply(app_manifest(files=ALL_KINDS))
    app = wait_ready(kubectl)
    found = deployment(kubectl)
    assert_mounted(kubectl, found, ALL_KINDS)
    # The inline content alone is in the ConfigMap, which the App owns and the operator labels.
    config_map = kubectl.get("configmap", "flask-files")
    assert config_map is not None
    assert list(config_map["data"].values()) == [INLINE["content"]]
    (owner,) = config_map["metadata"]["ownerReferences"]
    assert (owner["kind"], owner["name"], owner["uid"], owner["controller"],
            owner["blockOwnerDeletion"]) == ("App", "flask", app["metadata"]["uid"], True, True)
    labels = config_map["metadata"]["labels"]
    assert labels["app.kubernetes.io/managed-by"] == "app-operator"
    assert labels["app.kubernetes.io/instance"] == "flask"
    assert files_hash(found)  # new inline content will restart the pods


@pytest.mark.usefixtures("operator")
def test_new_inline_content_rolls_the_deployment(kubectl: Kubectl) -> None:
    create_sources(kubectl)
    kubectl.apply(app_manifest(files=ALL_KINDS))
    wait_ready(kubectl)
    first, revision = settled_revision(kubectl)
    # An edit of something else (replicas) changes the Deployment but not its pods.
    kubectl.apply(app_manifest(files=ALL_KINDS, replicas=2))
    wait_for("the Deployment to have 2 replicas",
             lambda: deployment(kubectl)["spec"]["replicas"] == 2)
    scaled, scaled_revision = settled_revision(kubectl)
    assert template(scaled) == template(first)
    assert scaled_revision == revision
    # New inline content: a new pod template (its files hash), hence a new ReplicaSet.
    edited = {**INLINE, "content": "events {}\nhttp {}\n"}
    files = [edited, FROM_CONFIG_MAP, FROM_SECRET]
    kubectl.apply(app_manifest(files=files, replicas=2))
    wait_for("the Deployment's files hash to change",
             lambda: files_hash(deployment(kubectl)) not in (None, files_hash(first)))
    rolled, rolled_revision = settled_revision(kubectl)
    assert rolled_revision == revision + 1
    assert_mounted(kubectl, rolled, files)
    config_map = kubectl.get("configmap", "flask-files")
    assert config_map is not None and list(config_map["data"].values()) == [edited["content"]]
    # The ReplicaSet of the new revision runs the new template.
    newest = wait_for("the ReplicaSet of the new revision", lambda: [
        rs for rs in kubectl.items("replicasets", "app.kubernetes.io/instance=flask")
        if rs["metadata"].get("annotations", {}).get(REVISION) == str(rolled_revision)])
    (replica_set,) = newest
    assert replica_set["spec"]["template"]["metadata"]["annotations"][FILES_HASH] == (
        files_hash(rolled))


@pytest.mark.usefixtures("operator")
def test_removing_the_inline_files_deletes_their_config_map(kubectl: Kubectl) -> None:
    create_sources(kubectl)
    kubectl.apply(app_manifest(files=ALL_KINDS))
    wait_ready(kubectl)
    assert kubectl.get("configmap", "flask-files") is not None
    kept = [FROM_CONFIG_MAP, FROM_SECRET]
    kubectl.apply(app_manifest(files=kept))
    wait_for("ConfigMap flask-files to be deleted",
             lambda: kubectl.get("configmap", "flask-files") is None)
    found = wait_for("the Deployment without the inline file", lambda: (
        d := deployment(kubectl)) and files_hash(d) is None and len(
            template(d)["spec"]["containers"][0]["volumeMounts"]) == len(kept) and d)
    assert_mounted(kubectl, found, kept)
    wait_ready(kubectl)
    # The referenced ConfigMap and Secret are not the operator's: they stay.
    assert kubectl.get("configmap", "settings") is not None
    assert kubectl.get("secret", "db") is not None


def test_deleting_the_app_deletes_its_files_config_map(kubectl: Kubectl,
                                                      operator: OperatorProcess) -> None:
    kubectl.apply(app_manifest(files=[INLINE]))
    wait_ready(kubectl)
    config_map = kubectl.get("configmap", "flask-files")
    assert config_map is not None
    # The garbage collector deletes it (by its ownerReference), not the operator: stopped.
    operator.stop()
    kubectl("delete", "app", "flask", "--timeout=30s")
    wait_for("ConfigMap flask-files to be collected",
             lambda: kubectl.get("configmap", "flask-files") is None, timeout=90)
