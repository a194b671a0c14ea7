"""Helpers for tests against a real API server: kubectl, polling, and the operator process."""

from __future__ import annotations

import copy
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import yaml

from app_operator.core import yamlout

ROOT = Path(__file__).resolve().parents[1]
T = TypeVar("T")


def kubectl_binary() -> str:
    """The kubectl built with the local cluster (version-matched), else the one on PATH."""
    cached = subprocess.run(
        ["bash", "-c", "source hack/cluster/versions.sh && echo $CLUSTER_CACHE/bin/kubectl"],
        cwd=ROOT, capture_output=True, text=True, check=True).stdout.strip()
    if os.access(cached, os.X_OK):
        return cached
    found = shutil.which("kubectl")
    if found is None:
        raise RuntimeError("no kubectl: run `make cluster-up` or put kubectl on PATH")
    return found


class Kubectl:
    def __init__(self, kubeconfig: str, namespace: str | None = None,
                 user: str | None = None) -> None:
        self.kubeconfig = kubeconfig
        self.namespace = namespace
        self.user = user  # impersonated (kubectl --as), e.g. a ServiceAccount's user name
        self.binary = kubectl_binary()

    def in_namespace(self, namespace: str) -> Kubectl:
        return Kubectl(self.kubeconfig, namespace, self.user)

    def as_user(self, user: str) -> Kubectl:
        return Kubectl(self.kubeconfig, self.namespace, user)

    def run(self, *args: str, stdin: str | None = None, check: bool = True,
            namespaced: bool = True, timeout: float = 120) -> subprocess.CompletedProcess[str]:
        command = [self.binary, "--kubeconfig", self.kubeconfig]
        if self.user:
            command += ["--as", self.user]
        if self.namespace and namespaced:
            command += ["--namespace", self.namespace]
        result = subprocess.run([*command, *args], input=stdin, capture_output=True, text=True,
                                timeout=timeout)
        if check and result.returncode != 0:
            raise AssertionError(f"kubectl {' '.join(args)} failed: {result.stderr.strip()}")
        return result

    def __call__(self, *args: str, stdin: str | None = None) -> str:
        return self.run(*args, stdin=stdin).stdout

    def apply(self, manifest: dict[str, Any] | str) -> str:
        text = manifest if isinstance(manifest, str) else json.dumps(manifest)
        return self("apply", "-f", "-", stdin=text)

    def get(self, kind: str, name: str, *, managed_fields: bool = False
            ) -> dict[str, Any] | None:
        extra = ["--show-managed-fields"] if managed_fields else []
        result = self.run("get", kind, name, "-o", "json", *extra, check=False)
        if result.returncode != 0:
            if "NotFound" in result.stderr:
                return None
            raise AssertionError(f"kubectl get {kind} {name}: {result.stderr.strip()}")
        obj: dict[str, Any] = json.loads(result.stdout)
        return obj

    def items(self, kind: str, selector: str = "") -> list[dict[str, Any]]:
        args = ["get", kind, "-o", "json"]
        if selector:
            args += ["-l", selector]
        items: list[dict[str, Any]] = json.loads(self(*args))["items"]
        return items


OPERATOR_NAMESPACE = "app-operator-system"
OPERATOR_ACCOUNT = f"system:serviceaccount:{OPERATOR_NAMESPACE}:app-operator"


def install_without_deployment(cluster: Kubectl) -> None:
    """manifests/ minus the operator Deployment: namespace, ServiceAccount, RBAC, admission
    policy (the CRD is not in manifests/: the `cluster` fixture applies crds/)."""
    documents = [d for d in yaml.safe_load_all(cluster("kustomize", str(ROOT / "manifests")))
                 if d and d["kind"] != "Deployment"]
    cluster("apply", "--server-side", "--force-conflicts", "-f", "-",
            stdin=yamlout.dump_all(documents))


def service_account_kubeconfig(kubectl: Kubectl, account: str, directory: Path) -> Path:
    """A kubeconfig that authenticates as a ServiceAccount with a token, nothing else."""
    current = json.loads(kubectl("config", "view", "--raw", "--minify", "--flatten",
                                 "-o", "json"))
    cluster = current["clusters"][0]["cluster"]
    token = kubectl("create", "token", account, "--duration=2h").strip()
    config = {
        "apiVersion": "v1", "kind": "Config", "current-context": "sa",
        "clusters": [{"name": "c", "cluster": {
            key: cluster[key] for key in ("server", "certificate-authority-data",
                                          "certificate-authority", "insecure-skip-tls-verify")
            if key in cluster}}],
        "users": [{"name": account, "user": {"token": token}}],
        "contexts": [{"name": "sa", "context": {"cluster": "c", "user": account,
                                               "namespace": kubectl.namespace or "default"}}],
    }
    path = directory / f"kubeconfig-{account}"
    path.write_text(json.dumps(config))
    return path


def wait_for(what: str, probe: Callable[[], T | None], timeout: float = 60.0,
             interval: float = 0.25) -> T:
    """Poll until probe returns something truthy; fail with `what` and the last value."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        last = probe()
        if last:
            return last
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what} (last: {last!r})")


def condition(app: dict[str, Any] | None, kind: str) -> dict[str, Any]:
    for entry in ((app or {}).get("status") or {}).get("conditions") or []:
        if entry["type"] == kind:
            return dict(entry)
    return {}


class OperatorProcess:
    """`app-operator run` as a subprocess, limited to some namespaces, logging to a file."""

    def __init__(self, kubeconfig: str, namespaces: list[str], log_path: Path,
                 extra_args: tuple[str, ...] = ()) -> None:
        self.kubeconfig = kubeconfig
        self.namespaces = namespaces
        self.log_path = log_path
        self.extra_args = extra_args
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> OperatorProcess:
        args = [sys.executable, "-m", "app_operator", "run", *self.extra_args]
        if "--metrics-bind-address" not in self.extra_args:
            args += ["--metrics-bind-address", "0"]  # several run at once: no fixed port
        for namespace in self.namespaces:
            args += ["--namespace", namespace]
        env = {**os.environ, "KUBECONFIG": self.kubeconfig}
        started = self.log_path.read_bytes().count(b"app-operator started") if (
            self.log_path.exists()) else 0
        log = self.log_path.open("ab")
        self.process = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT, env=env)
        try:
            wait_for("the operator to start watching",
                     lambda: self.exited() or self.log_path.read_bytes().count(
                         b"app-operator started") > started, timeout=60)
        except AssertionError:
            self.kill()  # never leave a half-started operator behind
            raise AssertionError(f"the operator did not start:\n{self.logs()[-3000:]}") from None
        if self.exited():
            raise AssertionError(f"the operator exited:\n{self.logs()}")
        return self

    def exited(self) -> bool:
        return self.process is not None and self.process.poll() is not None

    def kill(self) -> None:
        """kill -9: no cleanup, no goodbye."""
        assert self.process is not None
        self.process.kill()
        self.process.wait()

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()

    def logs(self) -> str:
        return self.log_path.read_text(errors="replace")

    def freeze(self) -> None:
        """SIGSTOP: every thread stops where it is, connections stay open (a node that
        hangs, a long garbage-collection pause, a VM paused)."""
        assert self.process is not None
        self.process.send_signal(signal.SIGSTOP)

    def thaw(self) -> None:
        """SIGCONT: it runs on from where it stopped, its clock jumped ahead."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGCONT)

    def wait_exit(self, timeout: float) -> int:
        """Its exit status, once it has exited by itself within `timeout` seconds."""
        assert self.process is not None
        try:
            return self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            raise AssertionError(f"the operator did not exit within {timeout:.0f}s:\n"
                                 f"{self.logs()[-3000:]}") from None


# Apps

FLASK: dict[str, Any] = {
    "apiVersion": "appoperator.dev/v1alpha1",
    "kind": "App",
    "metadata": {"name": "flask"},
    "spec": {
        "image": "pylounge_flask_app:v1",
        "ports": [{"name": "http", "containerPort": 5000, "servicePort": 80}],
    },
}


def app_manifest(name: str = "flask", **spec: Any) -> dict[str, Any]:
    manifest = copy.deepcopy(FLASK)
    manifest["metadata"]["name"] = name
    manifest["spec"].update(spec)
    return {**manifest, "spec": {k: v for k, v in manifest["spec"].items() if v is not None}}


def wait_ready(kubectl: Kubectl, name: str = "flask", timeout: float = 60) -> dict[str, Any]:
    """Ready=True for the App's current generation."""
    def ready() -> dict[str, Any] | None:
        app = kubectl.get("app", name)
        if app is None:
            return None
        ok = condition(app, "Ready")
        current = ok.get("observedGeneration") == app["metadata"]["generation"]
        return app if ok.get("status") == "True" and current else None
    return wait_for(f"App {name} to be Ready", ready, timeout)


def wait_stalled(kubectl: Kubectl, name: str, reason: str) -> dict[str, Any]:
    def stalled() -> dict[str, Any] | None:
        app = kubectl.get("app", name)
        found = condition(app, "Stalled")
        return app if found.get("status") == "True" and found.get("reason") == reason else None
    return wait_for(f"App {name} to be Stalled with {reason}", stalled)


def gone(kubectl: Kubectl, kind: str, name: str) -> bool:
    """Deleted, or on its way (a claim may wait for its pods to go first)."""
    obj = kubectl.get(kind, name)
    return obj is None or bool(obj["metadata"].get("deletionTimestamp"))


# The operator's Prometheus metrics (`app-operator run --metrics-bind-address 127.0.0.1:PORT`)

METRIC_LINE = re.compile(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})? (\S+)$")
RECONCILED = 'controller_runtime_reconcile_total{controller="app",result="success"}'
WRITE_METHODS = ("POST", "PUT", "PATCH", "DELETE")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def scrape(port: int) -> dict[str, float]:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as response:
        text = response.read().decode()
    values = {}
    for line in text.splitlines():
        match = METRIC_LINE.match(line)
        if match:
            values[match.group(1) + (match.group(2) or "")] = float(match.group(3))
    return values


def http_get(url: str, timeout: float = 5.0) -> tuple[int, str]:
    """The status and body of a GET, also when the status is an error (a failing probe)."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return int(response.status), response.read().decode(errors="replace")
    except urllib.error.HTTPError as error:
        return int(error.code), error.read().decode(errors="replace")


def write_requests(metrics: dict[str, float]) -> float:
    """Every request the operator sent that could change something (events included)."""
    return sum(value for key, value in metrics.items()
               if key.startswith("rest_client_requests_total{")
               and any(f'method="{method}"' in key for method in WRITE_METHODS))


def wait_established(kubectl: Kubectl, crd: str, timeout: float = 60.0) -> None:
    """Until the CRD is Established. `kubectl wait --for=condition=Established` fails at
    once, instead of waiting, when it reads the CRD before the API server gave it any
    condition (".status.conditions accessor error: <nil>"), which happens right after a
    create on a busy machine."""
    def established() -> bool:
        found = kubectl.get("customresourcedefinition", crd)
        return bool(found) and any(
            c.get("type") == "Established" and c.get("status") == "True"
            for c in (found.get("status") or {}).get("conditions") or [])
    wait_for(f"CRD {crd} to be Established", established, timeout=timeout)
