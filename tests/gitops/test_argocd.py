"""Argo CD reads an App's health with integrations/argocd/health.lua: the script run by
gopher-lua as Argo CD runs scripts from argocd-cm, on Apps read from the API server."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.gitops.conftest import check
from tests.kube_helpers import ROOT

ARGOCD = ROOT / "integrations" / "argocd"
HEALTH_KEY = "resource.customizations.health.appoperator.dev_App"

EXPECTED = {
    "ready": "Healthy",
    "suspended": "Suspended",
    "rolling-out": "Progressing",
    "volumes-pending": "Progressing",
    "not-observed": "Progressing",
    "retrying": "Progressing",
    "no-status": "Progressing",
    "name-conflict": "Degraded",
    "api-refused": "Degraded",
    "invalid-spec": "Degraded",
}


# The first test builds tests/kstatus: on a machine with a cold Go cache that alone takes
# minutes (k8s.io/api and apimachinery compile), longer than the default timeout.
pytestmark = pytest.mark.timeout(1200)


@pytest.fixture(scope="module")
def health(gitops_check: Path, app_states: dict[str, dict[str, Any]]) -> dict[str, dict[str, str]]:
    states = list(EXPECTED)
    answers = check(gitops_check, [app_states[state] for state in states], "argocd-health",
                    str(ARGOCD / "health.lua"))
    return dict(zip(states, answers, strict=True))


@pytest.mark.parametrize(("state", "expected"), EXPECTED.items())
def test_argocd_health_of_the_app(health: dict[str, dict[str, str]],
                                  app_states: dict[str, dict[str, Any]], state: str,
                                  expected: str) -> None:
    answer = health[state]
    assert answer["status"] == expected, answer
    conditions = {c["type"]: c for c in app_states[state].get("status", {}).get("conditions", [])}
    if expected == "Degraded":
        assert answer["message"] == conditions["Stalled"]["message"]
    elif expected in ("Healthy", "Suspended"):
        assert answer["message"] == conditions["Ready"]["message"]
    elif state == "not-observed":
        assert answer["message"] == "Waiting for app-operator to act on generation 2"
    elif state == "no-status":
        assert answer["message"] == "Waiting for app-operator to report the App's status"
    else:
        assert answer["message"] == conditions["Reconciling"]["message"]


def test_argocd_cm_carries_the_health_script() -> None:
    config = yaml.safe_load((ARGOCD / "argocd-cm.yaml").read_text())
    assert (config["kind"], config["metadata"]["name"]) == ("ConfigMap", "argocd-cm")
    assert config["data"] == {HEALTH_KEY: (ARGOCD / "health.lua").read_text()}
