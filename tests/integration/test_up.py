"""`app-operator up` and `down` on a real API server, with the operator running: a compose
project (a volume two Apps share, one of its own) comes up Ready with its URL printed, `down`
removes the Apps and keeps the claims, and `down --volumes` deletes them."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

from tests.kube_helpers import Kubectl, OperatorProcess, wait_for

COMPOSE = """\
services:
  web:
    image: nginx:1.27
    ports: ["8080:80"]
    volumes: ["media:/usr/share/nginx/html/media"]
  worker:
    image: busybox:1.36
    command: ["sleep", "infinity"]
    volumes: ["media:/media"]
  db:
    image: postgres:16
    environment: {POSTGRES_PASSWORD: example}
    volumes: ["data:/var/lib/postgresql/data"]
volumes:
  media: {}
  data: {}
"""


def app_operator(kubectl: Kubectl, cwd: Path, *args: str,
                 timeout: float = 180) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "app_operator", *args], cwd=cwd,
                          env={"PATH": "/usr/bin:/bin", "KUBECONFIG": kubectl.kubeconfig},
                          capture_output=True, text=True, timeout=timeout)


def names(kubectl: Kubectl, kind: str, selector: str = "") -> set[str]:
    extra = ["-l", selector] if selector else []
    listed = json.loads(kubectl("get", kind, "-o", "json", *extra))
    return {item["metadata"]["name"] for item in listed["items"]}


def project(tmp_path: Path) -> Path:
    directory = tmp_path / "shop"
    directory.mkdir()
    (directory / "compose.yaml").write_text(COMPOSE)
    return directory


def test_up_brings_the_project_to_ready_and_down_keeps_the_claims(
        kubectl: Kubectl, namespace: str, operator: OperatorProcess, tmp_path: Path) -> None:
    shop = project(tmp_path)
    up = app_operator(kubectl, shop, "up", "-n", namespace, "--timeout", "120")
    assert up.returncode == 0, up.stderr
    assert (f"project shop in namespace {namespace}: applied PersistentVolumeClaim shop-media, "
            "App web, App worker, App db") in up.stderr
    # Not a terminal: one plain line per change, the last of each App `ready`.
    assert "\x1b" not in up.stderr
    assert re.search(r"^web +ready +Available: ", up.stderr, re.MULTILINE), up.stderr
    assert up.stdout.startswith(f"web  http://web.{namespace}.svc"), up.stdout
    assert names(kubectl, "apps.appoperator.dev", "appoperator.dev/project=shop") == {
        "web", "worker", "db"}
    managers = {entry["manager"] for entry in kubectl.get("apps.appoperator.dev", "web",
                                                          managed_fields=True)
                ["metadata"]["managedFields"]}
    assert "app-operator-cli" in managers
    # One claim for the volume web and worker share (applied by up), one of db's own.
    assert names(kubectl, "pvc") == {"shop-media", "db-data"}
    assert names(kubectl, "pvc", "appoperator.dev/project=shop") == {"shop-media"}

    # From elsewhere (another directory, the project named): down finds it by its label.
    down = app_operator(kubectl, tmp_path, "down", "-n", namespace, "-p", "shop")
    assert down.returncode == 0, down.stderr
    assert "deleted App db, App web, App worker" in down.stderr
    assert "kept claims (with their data): db-data, shop-media" in down.stderr
    assert names(kubectl, "apps.appoperator.dev") == set()
    wait_for("the Deployments to be deleted with their Apps",
             lambda: names(kubectl, "deployments") == set())
    assert names(kubectl, "pvc") == {"shop-media", "db-data"}

    down = app_operator(kubectl, shop, "down", "-n", namespace, "--volumes")
    assert down.returncode == 0, down.stderr
    assert "deleted claims (their data is gone): db-data, shop-media" in down.stderr
    wait_for("the claims to be deleted", lambda: names(kubectl, "pvc") == set())


def test_up_without_an_operator_names_the_apps_not_ready(
        kubectl: Kubectl, namespace: str, tmp_path: Path) -> None:
    up = app_operator(kubectl, project(tmp_path), "up", "-n", namespace, "--timeout", "2")
    assert up.returncode == 5, up.stderr
    assert "error: not Ready after 2s: web (waiting: " in up.stderr
    assert "; worker (waiting: " in up.stderr and "; db (waiting: " in up.stderr


def test_an_unknown_context_is_refused_naming_those_there_are(
        kubectl: Kubectl, tmp_path: Path) -> None:
    up = app_operator(kubectl, project(tmp_path), "up", "--context", "nowhere")
    assert up.returncode == 6
    assert "no context 'nowhere' in the kubeconfig (it has: " in up.stderr
