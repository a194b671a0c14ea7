"""The images, built and run: the tutorial's Flask app answers, and the operator image
reconciles an App on the local cluster while authenticated as its own ServiceAccount, which
proves the image and the RBAC of manifests/ are enough."""

from __future__ import annotations

import json
import re
import socket
import subprocess
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from tests.kube_helpers import (
    OPERATOR_NAMESPACE,
    ROOT,
    Kubectl,
    condition,
    install_without_deployment,
    service_account_kubeconfig,
    wait_for,
)

GREETING = "Hello from PyLounge and Docker!"
# The operator image's budget, in the units `docker images` shows (1 MB = 10^6 bytes). It was
# 447 MB on python3 and pip in Debian; docs/operations.md has today's size.
OPERATOR_IMAGE_LIMIT = 150 * 10**6


@pytest.fixture(scope="session")
def docker() -> str:
    """The docker client, with both images built (`make images`)."""
    subprocess.run([str(ROOT / "hack" / "images" / "build.sh")], check=True)
    client = subprocess.run([str(ROOT / "hack" / "images" / "docker.sh")], check=True,
                            capture_output=True, text=True).stdout.strip()
    return client


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def http_get(url: str) -> str | None:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            body: bytes = response.read()
            return body.decode()
    except OSError:
        return None


@pytest.fixture
def container(docker: str) -> Iterator[list[str]]:
    """Names of containers started by a test; removed afterwards."""
    started: list[str] = []
    yield started
    for name in started:
        subprocess.run([docker, "rm", "-f", name], capture_output=True, check=False)


def run_detached(docker: str, started: list[str], *args: str) -> str:
    name = f"app-operator-test-{uuid.uuid4().hex[:8]}"
    subprocess.run([docker, "run", "-d", "--name", name, *args], check=True,
                   capture_output=True)
    started.append(name)
    return name


def inspect(docker: str, image: str) -> dict:  # type: ignore[type-arg]
    result: list[dict] = json.loads(subprocess.run(  # type: ignore[type-arg]
        [docker, "image", "inspect", image], check=True, capture_output=True, text=True).stdout)
    return result[0]


def test_flask_image_answers_with_the_tutorials_greeting(docker: str,
                                                         container: list[str]) -> None:
    port = free_port()
    run_detached(docker, container, "-p", f"127.0.0.1:{port}:5000", "pylounge_flask_app:v1")
    reply = wait_for("the Flask app to answer", lambda: http_get(f"http://127.0.0.1:{port}/"),
                     timeout=30)
    assert reply == GREETING


def test_images_run_as_non_root(docker: str) -> None:
    assert inspect(docker, "app-operator:dev")["Config"]["User"] == "10001:10001"
    assert inspect(docker, "pylounge_flask_app:v1")["Config"]["User"] == "10001:10001"
    entrypoint = inspect(docker, "app-operator:dev")["Config"]["Entrypoint"]
    assert entrypoint[:2] == ["app-operator", "run"]
    assert "--liveness" in entrypoint


def test_operator_image_reconciles_as_its_service_account(
        docker: str, container: list[str], cluster: Kubectl, kubectl: Kubectl,
        tmp_path: Path) -> None:
    install_without_deployment(cluster)
    account = service_account_kubeconfig(cluster.in_namespace(OPERATOR_NAMESPACE),
                                          "app-operator", tmp_path)
    account.chmod(0o644)  # readable by the image's non-root user
    health, metrics = free_port(), free_port()
    name = run_detached(
        docker, container, "--network", "host", "--read-only", "--tmpfs", "/tmp",
        "--cap-drop", "ALL", "--security-opt", "no-new-privileges",
        "-v", f"{account}:/etc/app-operator/kubeconfig:ro",
        "-e", "KUBECONFIG=/etc/app-operator/kubeconfig",
        "--entrypoint", "app-operator", "app-operator:dev",
        "run", "--liveness", f"http://127.0.0.1:{health}/healthz",
        "--metrics-bind-address", f"127.0.0.1:{metrics}")
    wait_for("the liveness endpoint", lambda: http_get(f"http://127.0.0.1:{health}/healthz"),
             timeout=60)
    flask = yaml.safe_load((ROOT / "examples" / "apps" / "flask.yaml").read_text())
    flask["spec"]["ports"][0].pop("nodePort")  # another test's App may hold 30080
    flask["spec"]["service"] = {"type": "ClusterIP"}
    kubectl.apply(flask)

    def ready() -> dict | None:  # type: ignore[type-arg]
        app = kubectl.get("app", "flask")
        return app if condition(app, "Ready").get("status") == "True" else None

    try:
        app = wait_for("the App to be Ready", ready, timeout=90)
    finally:
        logs = subprocess.run([docker, "logs", name], capture_output=True, text=True).stdout
        logs += subprocess.run([docker, "logs", name], capture_output=True, text=True).stderr
        print(f"--- operator container log ---\n{logs[-5000:]}")
    assert app["status"]["readyReplicas"] == 1
    assert kubectl.get("deployment", "flask") is not None
    assert kubectl.get("service", "flask") is not None
    assert "Forbidden" not in logs and "403" not in logs
    # The image serves its metrics (prometheus-client and the standard library's HTTP server
    # survived the image's slimming).
    scraped = http_get(f"http://127.0.0.1:{metrics}/metrics") or ""
    assert 'controller_runtime_reconcile_total{controller="app",result="success"}' in scraped


def test_operator_image_is_small(docker: str) -> None:
    size = inspect(docker, "app-operator:dev")["Size"]
    print(f"app-operator:dev is {size / 10**6:.1f} MB")
    assert size <= OPERATOR_IMAGE_LIMIT, f"app-operator:dev is {size / 10**6:.1f} MB"


def test_operator_image_has_no_shell_and_no_installer(docker: str) -> None:
    """Only what the operator runs on: no shell, no package manager, no pip."""
    for program in ("/bin/sh", "/usr/bin/apt-get", "/usr/bin/dpkg"):
        result = subprocess.run([docker, "run", "--rm", "--entrypoint", program,
                                 "app-operator:dev"], capture_output=True, text=True, check=False)
        assert result.returncode != 0, f"{program} runs in the image"
        assert "no such file or directory" in result.stderr.lower(), result.stderr
    result = subprocess.run([docker, "run", "--rm", "--read-only", "--entrypoint", "python3",
                             "app-operator:dev", "-c", "import pip"],
                            capture_output=True, text=True, check=False)
    assert "No module named 'pip'" in result.stderr, result.stderr


def test_operator_starts_from_bytecode_only(docker: str) -> None:
    """The root file system is read-only, so a module without valid bytecode in the image would
    be compiled again at every start: every module the operator loads has it."""
    result = subprocess.run(
        [docker, "run", "--rm", "--read-only", "--cap-drop", "ALL", "--entrypoint", "python3",
         "app-operator:dev", "-v", "-c", "import app_operator.cli, app_operator.runtime.handlers"],
        capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stderr[-3000:]
    loaded = re.findall(r"^# code object from '?([^'\n]+?)'?$", result.stderr, re.MULTILINE)
    assert len(loaded) > 100  # the operator, kopf, the kubernetes client, the stdlib
    from_source = [path for path in loaded if path.endswith(".py")]
    assert not from_source, f"compiled at start: {from_source[:10]}"
