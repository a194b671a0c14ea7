"""Tools for fault tests: a TCP proxy that can cut the operator off from the API server, and
the local cluster's kube-apiserver process, stopped and started again on its own."""

from __future__ import annotations

import contextlib
import os
import select
import signal
import socket
import subprocess
import threading
import time
from pathlib import Path
from urllib.parse import urlparse

import yaml

from tests.kube_helpers import Kubectl, wait_for


class CuttableProxy:
    """Forwards TCP connections from a local port to the API server (TLS passes through,
    the certificate names 127.0.0.1). `cut()` closes every connection and refuses new ones
    until `resume()`: for the operator behind it, the API server is gone."""

    def __init__(self, target_host: str, target_port: int) -> None:
        self.target = (target_host, target_port)
        self.listener = socket.socket()
        self.listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(64)
        self.port: int = self.listener.getsockname()[1]
        self._open = threading.Event()
        self._open.set()
        self._stop = threading.Event()
        self._connections: list[socket.socket] = []
        self._lock = threading.Lock()
        threading.Thread(target=self._accept, daemon=True, name="proxy").start()

    def _accept(self) -> None:
        self.listener.settimeout(0.2)
        while not self._stop.is_set():
            try:
                client, _ = self.listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            if not self._open.is_set():
                client.close()
                continue
            try:
                upstream = socket.create_connection(self.target, timeout=5)
            except OSError:
                client.close()
                continue
            with self._lock:
                self._connections += [client, upstream]
            threading.Thread(target=self._pipe, args=(client, upstream), daemon=True).start()

    def _pipe(self, one: socket.socket, other: socket.socket) -> None:
        sockets = [one, other]
        try:
            while self._open.is_set():
                readable, _, _ = select.select(sockets, [], [], 0.2)
                for sock in readable:
                    data = sock.recv(65536)
                    if not data:
                        return
                    (other if sock is one else one).sendall(data)
        except OSError:
            return
        finally:
            for sock in sockets:
                sock.close()

    def cut(self) -> None:
        self._open.clear()
        with self._lock:
            for sock in self._connections:
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)
                sock.close()
            self._connections.clear()

    def resume(self) -> None:
        self._open.set()

    def close(self) -> None:
        self._stop.set()
        self.cut()
        self.listener.close()

    def kubeconfig(self, original: str, directory: Path) -> Path:
        """A copy of the kubeconfig whose server is this proxy."""
        config = yaml.safe_load(Path(original).read_text())
        for cluster in config["clusters"]:
            server = urlparse(cluster["cluster"]["server"])
            cluster["cluster"]["server"] = f"{server.scheme}://127.0.0.1:{self.port}"
        path = directory / "kubeconfig-proxy"
        path.write_text(yaml.safe_dump(config))
        return path


def api_server_address(kubeconfig: str) -> tuple[str, int]:
    config = yaml.safe_load(Path(kubeconfig).read_text())
    server = urlparse(config["clusters"][0]["cluster"]["server"])
    return server.hostname or "127.0.0.1", server.port or 443


class ApiServerProcess:
    """The local cluster's kube-apiserver (a process of this machine, started by kwokctl's
    binary runtime), found by its --secure-port; `restart()` stops it and starts it again
    with the same command line, environment and log, as a crash and a supervisor would."""

    def __init__(self, cluster: Kubectl) -> None:
        self.cluster = cluster
        _, self.port = api_server_address(cluster.kubeconfig)
        self.state = Path(cluster.kubeconfig).resolve().parent

    def pid(self) -> int:
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                args = (entry / "cmdline").read_bytes().split(b"\0")
            except OSError:
                continue
            # Ours: kwokctl runs a copy of the binary from the cluster's state folder, the
            # one that holds its kubeconfig (.cluster/ or the tests' .cluster-test/).
            if args and args[0].endswith(b"kube-apiserver") and (
                    args[0].startswith(str(self.state).encode())) and (
                    f"--secure-port={self.port}".encode() in args):
                return int(entry.name)
        raise AssertionError(f"no kube-apiserver on port {self.port} on this machine: the "
                             "fault tests need the local cluster (hack/cluster/up.sh)")

    def stop(self) -> tuple[list[bytes], dict[bytes, bytes], str, str]:
        pid = self.pid()
        proc = Path(f"/proc/{pid}")
        args = [a for a in (proc / "cmdline").read_bytes().split(b"\0") if a]
        environ = dict(item.split(b"=", 1) for item in
                       (proc / "environ").read_bytes().split(b"\0") if b"=" in item)
        cwd = os.readlink(proc / "cwd")
        log = os.readlink(proc / "fd" / "2")
        os.kill(pid, signal.SIGKILL)
        wait_for("kube-apiserver to exit and free its port", lambda: not self._listening(),
                 timeout=30)
        return args, environ, cwd, log

    def _listening(self) -> bool:
        with socket.socket() as probe:
            return probe.connect_ex(("127.0.0.1", self.port)) == 0

    def start(self, saved: tuple[list[bytes], dict[bytes, bytes], str, str]) -> None:
        args, environ, cwd, log = saved
        output = open(log if log.startswith("/") else os.devnull, "ab")  # noqa: SIM115
        subprocess.Popen(args, env=environ, cwd=cwd, stdout=output, stderr=output,
                         stdin=subprocess.DEVNULL, start_new_session=True)
        output.close()
        self.wait_ready()

    def wait_ready(self, timeout: float = 120) -> None:
        def ready() -> bool:
            result = self.cluster.run("get", "--raw", "/readyz", check=False,
                                      namespaced=False, timeout=10)
            return result.returncode == 0
        wait_for("kube-apiserver to be ready again", ready, timeout=timeout, interval=0.5)

    def restart(self, down_for: float = 0.0) -> None:
        saved = self.stop()
        time.sleep(down_for)  # how long the API server stays away
        self.start(saved)
