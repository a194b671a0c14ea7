"""Flux and kpt read an App with kstatus (sigs.k8s.io/cli-utils, pkg/kstatus/status.Compute):
what the library itself says of Apps in each state, read from the API server."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.gitops.conftest import check

# What a GitOps user expects: a health check passes on Current, waits on InProgress, and
# fails at once on Failed instead of at its timeout.
EXPECTED = {
    "ready": "Current",
    "suspended": "Current",  # suspended is what the spec asks for, and it is done
    "rolling-out": "InProgress",
    "volumes-pending": "InProgress",
    "not-observed": "InProgress",
    "retrying": "InProgress",
    "name-conflict": "Failed",
    "api-refused": "Failed",
    "invalid-spec": "Failed",
}


# The first test builds tests/kstatus: on a machine with a cold Go cache that alone takes
# minutes (k8s.io/api and apimachinery compile), longer than the default timeout.
pytestmark = pytest.mark.timeout(1200)


@pytest.fixture(scope="module")
def kstatus(gitops_check: Path, app_states: dict[str, dict[str, Any]]) -> dict[str, dict[str, str]]:
    states = [*EXPECTED, "no-status"]
    answers = check(gitops_check, [app_states[state] for state in states], "kstatus")
    return dict(zip(states, answers, strict=True))


@pytest.mark.parametrize(("state", "expected"), EXPECTED.items())
def test_kstatus_reads_the_app(kstatus: dict[str, dict[str, str]],
                               app_states: dict[str, dict[str, Any]], state: str,
                               expected: str) -> None:
    answer = kstatus[state]
    assert answer["status"] == expected, answer
    conditions = {c["type"]: c for c in app_states[state].get("status", {}).get("conditions", [])}
    if expected == "Failed":  # the user sees why, in the operator's words
        assert answer["message"] == conditions["Stalled"]["message"]
    if state == "not-observed":
        assert answer["message"] == "App generation is 2, but latest observed generation is 1"
    elif expected == "InProgress":
        assert answer["message"] == conditions["Reconciling"]["message"]


def test_kstatus_waits_for_an_app_the_operator_has_not_seen(
        kstatus: dict[str, dict[str, str]]) -> None:
    assert kstatus["no-status"]["status"] == "InProgress", kstatus["no-status"]
