"""The release tier: the Helm chart and the bundle `make release` writes, checked with helm and
against the API server of the root conftest's `cluster`.

helm comes from hack/helm/build.sh (built from its Go module once, cached by version). The
bundle is written once per session into a temporary folder (SKIP_IMAGE=1: no Docker here).
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.kube_helpers import ROOT

CHART = ROOT / "charts" / "app-operator"
# A registry and a path that are not this machine's `app-operator:dev`: the bundle must name
# what it was asked to, everywhere.
RELEASE_IMAGE = "registry.example.com/team/app-operator"


def package_version() -> str:
    """pyproject.toml's version: the one source of the release's version."""
    for line in (ROOT / "pyproject.toml").read_text().splitlines():
        if line.startswith("version = "):
            return line.split('"')[1]
    raise AssertionError("no version in pyproject.toml")


@pytest.fixture(scope="session")
def helm() -> str:
    result = subprocess.run([str(ROOT / "hack" / "helm" / "build.sh")], capture_output=True,
                            text=True, timeout=1800, check=False)
    assert result.returncode == 0, result.stderr
    return result.stdout.strip().splitlines()[-1]


def run_release(dist: Path, **env: str) -> subprocess.CompletedProcess[str]:
    """hack/release.sh into `dist`, YAML only, as `make release SKIP_IMAGE=1` runs it."""
    return subprocess.run([str(ROOT / "hack" / "release.sh")], capture_output=True, text=True,
                          timeout=600, check=False,
                          env={**os.environ, "SKIP_IMAGE": "1", "DIST": str(dist), **env})


@pytest.fixture(scope="session")
def dist(tmp_path_factory: pytest.TempPathFactory, helm: str) -> Path:
    directory = tmp_path_factory.mktemp("release") / "dist"
    result = run_release(directory, IMAGE=RELEASE_IMAGE, HELM=helm)
    assert result.returncode == 0, result.stderr
    return directory


def documents(text: str) -> list[dict[str, Any]]:
    return [d for d in yaml.safe_load_all(text) if d]
