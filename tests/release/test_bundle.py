"""`make release` (hack/release.sh, SKIP_IMAGE=1): dist/ holds the CRDs and the operator
apart, the operator's image pinned to IMAGE:VERSION, the chart packaged with that image, and
the GitOps examples keep the CRD apart too."""

from __future__ import annotations

import hashlib
import subprocess
import tarfile
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.gitops.test_install_examples import kustomize
from tests.kube_helpers import ROOT
from tests.release.conftest import RELEASE_IMAGE, documents, package_version, run_release

# The first test of a session may build helm from its Go module (hack/helm/build.sh): about
# four minutes on a busy 2-core machine, cached afterwards.
pytestmark = pytest.mark.timeout(900)


def test_dist_holds_the_crds_and_the_operator_apart(dist: Path) -> None:
    version = package_version()
    assert sorted(p.name for p in dist.iterdir()) == sorted(
        ["crds.yaml", "install.yaml", f"app-operator-{version}.tgz", "SHA256SUMS"])
    crds = documents((dist / "crds.yaml").read_text())
    assert crds == [yaml.safe_load(p.read_text()) for p in sorted((ROOT / "crds").glob("*.yaml"))]
    assert {c["kind"] for c in crds} == {"CustomResourceDefinition"}
    install = documents((dist / "install.yaml").read_text())
    # Nothing whose deletion deletes Apps: `kubectl delete -f install.yaml` removes the operator.
    assert "CustomResourceDefinition" not in {o["kind"] for o in install}
    # manifests/ as kustomize builds it, the image pinned, nothing else changed.
    expected = kustomize(ROOT / "manifests")
    images = []
    for obj in install:
        if obj["kind"] == "Deployment":
            container: dict[str, Any] = obj["spec"]["template"]["spec"]["containers"][0]
            images.append(container["image"])
            container["image"] = "app-operator:dev"
    assert images == [f"{RELEASE_IMAGE}:{version}"]
    assert install == expected


def test_the_packaged_chart_defaults_to_the_release_image(dist: Path, tmp_path: Path,
                                                           helm: str) -> None:
    version = package_version()
    with tarfile.open(dist / f"app-operator-{version}.tgz") as archive:
        archive.extractall(tmp_path, filter="data")
    chart = tmp_path / "app-operator"
    meta = yaml.safe_load((chart / "Chart.yaml").read_text())
    assert (meta["version"], meta["appVersion"]) == (version, version)
    # The CRD travels inside the package (not a link to a file outside it).
    assert not (chart / "crds" / "apps.appoperator.dev.yaml").is_symlink()
    assert (chart / "crds" / "apps.appoperator.dev.yaml").read_text() == (
        ROOT / "crds" / "apps.appoperator.dev.yaml").read_text()
    rendered = subprocess.run([helm, "template", "app-operator", str(chart)],
                              capture_output=True, text=True, check=True).stdout
    (deployment,) = [o for o in documents(rendered) if o["kind"] == "Deployment"]
    assert deployment["spec"]["template"]["spec"]["containers"][0]["image"] == (
        f"{RELEASE_IMAGE}:{version}")


def test_checksums_cover_the_bundle(dist: Path) -> None:
    lines = (dist / "SHA256SUMS").read_text().splitlines()
    assert len(lines) == 3
    for line in lines:
        digest, name = line.split("  ")
        assert hashlib.sha256((dist / name).read_bytes()).hexdigest() == digest, name


def test_the_version_is_the_package_version(tmp_path: Path, helm: str) -> None:
    """One source: a VERSION other than pyproject.toml's is refused, not released."""
    result = run_release(tmp_path / "dist", VERSION="9.9.9", HELM=helm)
    assert result.returncode != 0
    assert "pyproject.toml says" in result.stderr
    assert not (tmp_path / "dist").exists()
    bad_image = run_release(tmp_path / "dist", IMAGE="registry.example.com/app:1.0", HELM=helm)
    assert bad_image.returncode != 0
    assert "without a tag" in bad_image.stderr


def test_the_changelog_has_the_version() -> None:
    changelog = (ROOT / "CHANGELOG.md").read_text()
    assert "## [Unreleased]" in changelog
    assert f"## [{package_version()}]" in changelog


def test_gitops_examples_keep_the_crd_apart_and_never_prune_it() -> None:
    """Flux and Argo CD install the CRD from crds/ by an object of its own that neither
    prunes nor deletes it; the operator's object (manifests/) holds no CRD."""
    flux = {o["metadata"]["name"]: o for o in documents(
        (ROOT / "integrations" / "flux" / "crds.yaml").read_text())}
    crds = flux["app-operator-crds"]["spec"]
    assert (crds["path"], crds["prune"]) == ("./crds", False)
    operator = documents((ROOT / "integrations" / "flux" / "operator.yaml").read_text())[0]
    assert {"name": "app-operator-crds"} in operator["spec"]["dependsOn"]
    argocd = {o["metadata"]["name"]: o for o in documents(
        (ROOT / "integrations" / "argocd" / "application.yaml").read_text())}
    spec = argocd["app-operator-crds"]["spec"]
    assert spec["source"]["path"] == "crds"
    assert spec["syncPolicy"]["automated"]["prune"] is False
    assert "Prune=false" in spec["syncPolicy"]["syncOptions"]
    assert not argocd["app-operator-crds"]["metadata"].get("finalizers")  # no cascade
    assert argocd["app-operator"]["spec"]["source"]["path"] == "manifests"


def test_the_image_is_built_with_its_version_and_oci_labels(tmp_path: Path, helm: str) -> None:
    """Without SKIP_IMAGE the script builds IMAGE:VERSION from the repository's Dockerfile; a
    stand-in docker client records the command (the real build needs dockerd, see
    hack/images/)."""
    calls = tmp_path / "docker-calls"
    fake = tmp_path / "docker"
    fake.write_text(f'#!/bin/sh\nprintf "%s\\n" "$@" >> {calls}\necho ---- >> {calls}\n')
    fake.chmod(0o755)
    result = run_release(tmp_path / "dist", IMAGE=RELEASE_IMAGE, HELM=helm, SKIP_IMAGE="",
                         DOCKER=str(fake), BASE_IMAGES="public",
                         SOURCE_URL="https://github.com/example/app-operator")
    assert result.returncode == 0, result.stderr
    (build,) = [c.splitlines() for c in calls.read_text().split("----\n") if c]
    version = package_version()
    assert build[0] == "build"
    assert build[build.index("-t") + 1] == f"{RELEASE_IMAGE}:{version}"
    assert build[-1] == str(ROOT)  # the repository's Dockerfile
    labels = dict(build[i + 1].split("=", 1) for i, arg in enumerate(build) if arg == "--label")
    assert labels["org.opencontainers.image.version"] == version
    assert labels["org.opencontainers.image.source"] == "https://github.com/example/app-operator"
    revision = subprocess.run(["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True,
                              text=True, check=True).stdout.strip()
    assert labels["org.opencontainers.image.revision"].startswith(revision)
    assert {"org.opencontainers.image.title", "org.opencontainers.image.created"} <= set(labels)
    assert f"push {RELEASE_IMAGE}:{version}" in result.stderr
