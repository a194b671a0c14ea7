"""The attack that once hung kube-apiserver: a quantity with a huge exponent.

kube-apiserver computes such a number in full (minutes of CPU, gigabytes of memory, and the
request cannot be cancelled). The App's schema refuses it before any CEL quantity() call and
before the operator could copy it into a Deployment. Guarded: the request has a short
timeout, so a regression fails this test instead of hanging the suite; and it runs last
(the `last` marker), so that a regression cannot slow the tests after it.
"""

from __future__ import annotations

import json
import time
from typing import Any

import pytest

from tests.kube_helpers import Kubectl, app_manifest

pytestmark = [pytest.mark.last, pytest.mark.usefixtures("api_watchdog")]
HUGE = "1e99999999999"


@pytest.mark.parametrize(("spec", "field"), [
    ({"volumes": [{"name": "d", "mountPath": "/d", "size": HUGE}]}, "spec.volumes[0].size"),
    ({"resources": {"limits": {"cpu": HUGE}}}, "spec.resources.limits.cpu"),
    ({"resources": {"requests": {"memory": HUGE}}}, "spec.resources.requests.memory"),
    ({"resources": {"limits": {"ephemeral-storage": "1E99999"}}},
     "spec.resources.limits.ephemeral-storage"),
])
def test_a_huge_exponent_is_refused_at_once(tenant: Kubectl, spec: dict[str, Any],
                                            field: str) -> None:
    started = time.monotonic()
    result = tenant.run("apply", "-f", "-", "--request-timeout=15s",
                        stdin=json.dumps(app_manifest(**spec)), check=False, timeout=30)
    elapsed = time.monotonic() - started
    assert result.returncode != 0, result.stdout
    assert field in result.stderr and "should match" in result.stderr, result.stderr
    assert "Timeout" not in result.stderr, f"after {elapsed:.1f}s: {result.stderr}"
