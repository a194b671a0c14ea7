"""The images, built and run: the tutorial's Flask app answers, and the operator image
reconciles an App on the local cluster while authenticated as its own ServiceAccount, which
proves the image and the RBAC of manifests/ are enough."""

from __future__ import annotations

import json
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
    health = free_port()
    name = run_detached(
        docker, container, "--network", "host", "--read-only", "--tmpfs", "/tmp",
        "--cap-drop", "ALL", "--security-opt", "no-new-privileges",
        "-v", f"{account}:/etc/app-operator/kubeconfig:ro",
        "-e", "KUBECONFIG=/etc/app-operator/kubeconfig",
        "--entrypoint", "app-operator", "app-operator:dev",
        "run", "--liveness", f"http://127.0.0.1:{health}/healthz")
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
