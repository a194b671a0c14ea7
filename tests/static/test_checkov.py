"""checkov over what the project ships: the install manifests and the children the operator
renders for every example App. Exceptions live, each with its reason, in .checkov/."""

import subprocess
import sys
from pathlib import Path

import pytest

from tests.kube_helpers import ROOT, kubectl_binary

CHECKOV = ROOT / ".venv-checkov" / "bin" / "checkov"


def checkov(config: str, manifest: Path) -> None:
    if not CHECKOV.exists():
        pytest.fail("checkov is not installed: run `make venv`")
    result = subprocess.run([str(CHECKOV), "--config-file", str(ROOT / ".checkov" / config),
                             "-f", str(manifest)], capture_output=True, text=True,
                            env={"BC_SKIP_MAPPING": "TRUE", "PATH": "/usr/bin:/bin",
                                 "HOME": str(manifest.parent)})
    summary = [line for line in result.stdout.splitlines() if "Passed checks" in line]
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    assert summary and "Failed checks: 0" in summary[0], result.stdout[-4000:]
    passed = int(summary[0].split("Passed checks: ")[1].split(",")[0])
    assert passed > 50, summary  # it really looked at the objects


def test_install_manifests(tmp_path: Path) -> None:
    manifest = tmp_path / "install.yaml"
    manifest.write_text(subprocess.run([kubectl_binary(), "kustomize", str(ROOT / "manifests")],
                                       check=True, capture_output=True, text=True).stdout)
    checkov("manifests.yaml", manifest)


def test_children_of_the_example_apps(tmp_path: Path) -> None:
    manifest = tmp_path / "children.yaml"
    examples = sorted(str(p) for p in (ROOT / "examples" / "apps").glob("*.yaml"))
    manifest.write_text(subprocess.run(
        [sys.executable, "-m", "app_operator", "render", "-n", "examples", *examples],
        check=True, capture_output=True, text=True).stdout)
    assert manifest.read_text().count("kind: Deployment") == len(examples)
    checkov("children.yaml", manifest)
