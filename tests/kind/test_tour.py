"""The README's tour, run from the README's own text against real pods (tests/docs/tour.py reads
it). Each `$ ` command runs with bash in the checkout, in order, as a user would type it after
`make demo`, and must succeed and print what the README shows under it.

The user's cluster is the demo's (`kind-app-operator`, in ~/.kube/config); here it is the kind
tier's own cluster: its kubeconfig is $KUBECONFIG (with the tier's context current), its kubectl
first on PATH, and the namespace is `default`, as for a user. `make demo` is the one command not
run as written: the tier has already done its first three steps (images built and loaded, the
operator deployed), so its fourth is done here — examples/apps/flask.yaml applied in `default`,
waited for, and the greeting fetched from the host port the tier maps nodePort 30080 to (18080,
not the user's 8080, which may hold the demo).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.docs.tour import Step, readme_steps, unmatched
from tests.kind.helpers import (
    HOST_PORT,
    KIND_CLUSTER_NAME,
    KIND_KUBECONFIG,
    http_get,
    wait_app_ready,
)
from tests.kind.test_gateway import GATEWAY, GATEWAY_NAMESPACE, HOST, HTTP_PORT, answer
from tests.kind.test_kind import node_port_holders
from tests.kube_helpers import ROOT, Kubectl, kubectl_binary, wait_for

pytestmark = [pytest.mark.kind, pytest.mark.timeout(1200)]

COMMAND_TIMEOUT = 600  # every wait of the tour has a shorter --timeout of its own
DEMO_APP = ROOT / "examples" / "apps" / "flask.yaml"


@pytest.fixture
def tour_env(cluster: Kubectl, tmp_path: Path) -> Iterator[dict[str, str]]:
    """The environment of a user after `make demo`, on the tier's cluster: a kubeconfig whose
    current context is the tier's, kubectl on PATH. The demo's App is removed afterwards."""
    kubeconfig = tmp_path / "kubeconfig"
    shutil.copy(KIND_KUBECONFIG, kubeconfig)
    kubectl = kubectl_binary()
    subprocess.run([kubectl, "--kubeconfig", str(kubeconfig), "config", "use-context",
                    f"kind-{KIND_CLUSTER_NAME}"], check=True, capture_output=True)
    env = {**os.environ, "KUBECONFIG": str(kubeconfig),
           "PATH": f"{Path(kubectl).parent}{os.pathsep}{os.environ.get('PATH', '')}"}
    yield env
    cluster.in_namespace("default").run("delete", "app", "flask", "--ignore-not-found",
                                        "--wait=false", check=False)


def demo_in_the_tier(cluster: Kubectl) -> str:
    """`make demo`'s last step on the tier's cluster; returns what the user would read last."""
    default = cluster.in_namespace("default")
    # the tier's other tests may still be giving nodePort 30080 up (their namespaces go async)
    wait_for("nodePort 30080 to be free for the demo's App",
             lambda: set(node_port_holders(cluster, 30080)) <= {"default/flask"}, timeout=180)
    default("apply", "-f", str(DEMO_APP))
    wait_app_ready(default, "flask")
    url = f"http://localhost:{HOST_PORT}"
    greeting = wait_for(f"the greeting on {url}", lambda: http_get(url), timeout=60, interval=1)
    # Its last step: the same App by host name, through the tier's gateway (hack/demo.sh).
    default("patch", "app", "flask", "--type", "merge", "-p", json.dumps({"spec": {"route": {
        "hosts": [HOST], "parent": {"gateway": {"name": GATEWAY,
                                                 "namespace": GATEWAY_NAMESPACE}}}}}))
    wait_app_ready(default, "flask")
    wait_for(f"the greeting from http://{HOST}:{HTTP_PORT}/",
             lambda: answer(f"http://{HOST}:{HTTP_PORT}/", HOST, HTTP_PORT), timeout=60,
             interval=1)
    return greeting


def run(step: Step, env: dict[str, str]) -> str:
    result = subprocess.run(["bash", "-c", step.command], cwd=ROOT, env=env, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            timeout=COMMAND_TIMEOUT, check=False)
    assert result.returncode == 0, (
        f"`{step.command}` exited {result.returncode}:\n{result.stdout}")
    return result.stdout


def test_the_readme_tour_runs_as_written(cluster: Kubectl, tour_env: dict[str, str]) -> None:
    tour = readme_steps()
    assert tour and tour[0].argv() == ["make", "demo"]
    for step in tour:
        output = demo_in_the_tier(cluster) if step.argv() == ["make", "demo"] else run(
            step, tour_env)
        missing = unmatched(step.shown, output)
        assert missing == [], (
            f"`{step.command}` did not print what README.md shows: {missing}\n"
            f"it printed:\n{output}")
