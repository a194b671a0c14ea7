"""Benchmark: how fast N Apps become their children, against the no-operator lower bound.

For each N, on the local cluster (`make bench`, `make bench-quick`, `make bench-large`):
1. T_api      the exact Deployments, Services and claims N Apps render to, applied with the
              operator's own client (kube.Kube, server-side apply) and its concurrency
              (one thread per operator worker): the floor no operator can beat.
2. T_contract the requests the operator's contract requires per App, sent by a bare client at
              the same concurrency: the App's create, its three children's applies (owned by
              it) and one status write; the Apps created as in T_op, the other four requests
              sent by as many threads again as each create returns, as the operator's
              ServiceAccount and under its rate limit, timed with the same watches as T_op.
              What an operator that wastes nothing would take.
   T_kubectl  `kubectl apply --server-side -f` of the same rendered objects.
3. T_op       N Apps created (same client, same concurrency), the operator running: until
              every App has observedGeneration == generation and all children exist.
4. resync     the operator restarted with N converged Apps: its write requests (should be 0)
              and the time until it is idle again.
5. churn      the image of 10% of the Apps changed: time until converged.
6. no pods    T_api and T_op again with `suspend: true` (0 replicas): the operator's part
              without the N pods the cluster starts while T_op's clock runs.
The operator runs as its ServiceAccount, so the API server's audit log (hack/cluster/
audit-policy.yaml) counts its requests; its RSS and CPU come from /proc.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import queue
import re
import signal
import statistics
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from kubernetes import client as k8s_client  # noqa: E402
from kubernetes import config as k8s_config  # noqa: E402
from tests.kube_helpers import (  # noqa: E402
    OPERATOR_ACCOUNT,
    OPERATOR_NAMESPACE,
    Kubectl,
    install_without_deployment,
    service_account_kubeconfig,
)

from app_operator.core import render, status, yamlout  # noqa: E402
from app_operator.core.model import API_VERSION, KIND, AppSpec  # noqa: E402
from app_operator.core.render import INSTANCE_LABEL  # noqa: E402
from app_operator.runtime.cache import Informer, Source  # noqa: E402
from app_operator.runtime.handlers import RunOptions  # noqa: E402
from app_operator.runtime.kube import Kube, RateLimiter, load_client, now  # noqa: E402

WORKERS = 8
CHILD_RESOURCES = {"deployments", "services", "persistentvolumeclaims"}
RESULTS = ROOT / "bench" / "results"
# The local cluster hack/cluster/up.sh brings up: the developer's (.cluster/) unless
# CLUSTER_NAME and CLUSTER_STATE name another (`make test` runs on .cluster-test/).
CLUSTER_NAME = os.environ.get("CLUSTER_NAME", "app-operator")
CLUSTER_STATE = Path(os.environ.get("CLUSTER_STATE", str(ROOT / ".cluster")))
AUDIT_LOG = CLUSTER_STATE / "kwok" / "clusters" / CLUSTER_NAME / "logs" / "audit.log"
FIRST_PASS = re.compile(rb"first pass done ([0-9.]+)s after start: Apps checked")
WRITE_VERBS = {"create", "update", "patch", "delete", "deletecollection"}
SPEC: dict[str, Any] = {
    "image": "bench/app:v1",
    "ports": [{"name": "http", "containerPort": 8080}],
    "volumes": [{"name": "data", "mountPath": "/data", "size": "1Gi"}],
    "resources": {"requests": {"cpu": "10m", "memory": "16Mi"}},
}


def say(message: str) -> None:
    print(f"[bench {dt.datetime.now():%H:%M:%S}] {message}", flush=True)


def app_names(n: int) -> list[str]:
    return [f"app-{i:05d}" for i in range(n)]


def rendered(namespace: str, n: int, spec_dict: dict[str, Any] = SPEC) -> list[dict[str, Any]]:
    """The children N Apps render to, without ownerReferences (no App owns them here)."""
    spec = AppSpec.model_validate(spec_dict)
    objects = []
    for name in app_names(n):
        ref = render.AppRef(name=name, namespace=namespace, uid="bench")
        for obj in render.render_all(ref, spec).objects():
            obj["metadata"].pop("ownerReferences", None)
            objects.append(obj)
    return objects


def parallel(function: Callable[[Any], Any], items: Iterable[Any]) -> None:
    with ThreadPoolExecutor(WORKERS) as pool:
        for _ in pool.map(function, items):
            pass


# --------------------------------------------------------------------------- the operator

@dataclass
class Usage:
    """RSS and CPU of a process, sampled from /proc while a phase runs."""

    pid: int
    peak_kib: int = 0
    samples: list[int] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)

    def cpu_seconds(self) -> float:
        fields = Path(f"/proc/{self.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def rss_kib(self, field: str = "VmRSS") -> int:
        for line in Path(f"/proc/{self.pid}/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1])
        return 0

    def sample(self) -> None:
        while not self._stop.wait(0.2):
            try:
                rss = self.rss_kib()
            except OSError:
                return
            self.samples.append(rss)
            self.peak_kib = max(self.peak_kib, rss)

    def __enter__(self) -> Usage:
        self._cpu0 = self.cpu_seconds()
        self._thread = threading.Thread(target=self.sample, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join()
        self.cpu = self.cpu_seconds() - self._cpu0
        self.settled_kib = self.rss_kib()
        # The kernel's high-water mark catches a peak shorter than the sampling interval
        # (an informer's list at start); it covers the process's life, which the phases
        # that read it begin with.
        self.peak_kib = max(self.peak_kib, self.rss_kib("VmHWM"))


class Operator:
    def __init__(self, kubeconfig: Path, log: Path) -> None:
        self.kubeconfig = kubeconfig
        self.log = log
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> int:
        env = {**os.environ, "KUBECONFIG": str(self.kubeconfig)}
        self.process = subprocess.Popen(
            [sys.executable, "-m", "app_operator", "run", "--workers", str(WORKERS),
             "--metrics-bind-address", "0"],
            stdout=self.log.open("ab"), stderr=subprocess.STDOUT, env=env)
        return self.process.pid

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            self.process.wait(timeout=30)


# --------------------------------------------------------------------------- the audit log

@dataclass(frozen=True)
class AuditMark:
    """A place in the audit log. The API server rotates the log at 100 MB (renames it to
    audit-<time>.log, keeping its inode, and starts a new one), so a byte offset alone
    would point into the wrong file after a rotation."""

    inode: int
    offset: int


def audit_mark() -> AuditMark:
    try:
        stat = AUDIT_LOG.stat()
    except FileNotFoundError:
        return AuditMark(0, 0)
    return AuditMark(stat.st_ino, stat.st_size)


def audit_lines(since: AuditMark) -> list[bytes]:
    """The audit log's lines written after `since`, across rotations."""
    files = [*sorted(AUDIT_LOG.parent.glob("audit-*.log")), AUDIT_LOG]
    lines: list[bytes] = []
    found = False
    for path in files:
        try:
            inode = path.stat().st_ino
        except FileNotFoundError:
            continue
        if not found and inode != since.inode:
            continue
        with path.open("rb") as log:
            log.seek(since.offset if not found else 0)
            lines += complete_lines(log.read())
        found = True
    if not found and AUDIT_LOG.exists():  # no log yet at the mark: all of it is newer
        lines = complete_lines(AUDIT_LOG.read_bytes())
    return lines


def complete_lines(data: bytes) -> list[bytes]:
    """The lines the API server has finished writing: the last one may be half written."""
    return data.split(b"\n")[:-1]


def operator_requests(since: AuditMark) -> list[dict[str, Any]]:
    entries = []
    for line in audit_lines(since):
        try:
            entries.append(json.loads(line))
        except ValueError:
            continue  # the line being written when the mark was taken: its end only

    # Requests in namespaces other than the bench's (an earlier test's, still being torn
    # down) are not the benchmark's; cluster-wide lists and watches are.
    return [e for e in entries if e.get("user", {}).get("username") == OPERATOR_ACCOUNT
            and e.get("stage") == "ResponseComplete"
            and (e.get("objectRef") or {}).get("namespace", "bench-").startswith("bench-")]


def received(entry: dict[str, Any]) -> float:
    """When the API server received the request (its clock is this machine's)."""
    return dt.datetime.fromisoformat(entry["requestReceivedTimestamp"]).timestamp()


def requests_until(mark: AuditMark, until: float, timeout: float = 30.0
                   ) -> list[dict[str, Any]]:
    """The operator's requests since `mark` that the API server received by `until` (a
    time.time(), taken as a phase converged). The server writes a request's audit line once
    its response is done, which can be after the client has its answer and the bench's
    watches have seen the write: under load (two `make test` at once) a churn once counted 3
    of its 4 writes. So first wait until the log holds a request received after `until`, or
    has had nothing new for 2 s."""
    deadline = time.monotonic() + timeout
    seen = audit_mark()
    while True:
        time.sleep(2.0)
        entries = operator_requests(mark)  # the whole phase's log: read once a look
        now_mark = audit_mark()
        if (any(received(entry) > until for entry in entries) or now_mark == seen
                or time.monotonic() >= deadline):
            return [entry for entry in entries if received(entry) <= until]
        seen = now_mark


def count(entries: list[dict[str, Any]]) -> tuple[int, int]:
    writes = sum(1 for e in entries if e["verb"] in WRITE_VERBS)
    return writes, len(entries) - writes


def breakdown(entries: list[dict[str, Any]]) -> dict[str, int]:
    """The operator's requests by verb and resource ("patch apps/status"), most first."""
    def key(entry: dict[str, Any]) -> str:
        ref = entry.get("objectRef") or {}
        sub = f"/{ref['subresource']}" if ref.get("subresource") else ""
        return f"{entry['verb']} {ref.get('resource', '?')}{sub}"
    return dict(Counter(map(key, entries)).most_common())


def child_writes(entries: list[dict[str, Any]]) -> int:
    return sum(1 for e in entries if e["verb"] in WRITE_VERBS
               and (e.get("objectRef") or {}).get("resource") in CHILD_RESOURCES)


def settle_timeout(n: int) -> float:
    """How long the resync phase waits for the cluster to settle: kwok is still starting
    pods and binding claims minutes after T_op ends (3.5 minutes at N = 1,000, measured)."""
    return max(600.0, 0.3 * n)


# --------------------------------------------------------------------------- convergence

class ShortWatches:
    """The operator's client as an informer's source, with watches the server ends every
    15 s: an informer stops only between two watches, and the bench's should stop soon
    after their phase."""

    def __init__(self, kube: Kube) -> None:
        self.kube = kube

    def list_all(self, kind: str, namespace: str | None, label_selector: str,
                 keep: Callable[[dict[str, Any]], dict[str, Any]]
                 ) -> tuple[list[dict[str, Any]], str]:
        return self.kube.list_all(kind, namespace, label_selector, keep=keep)

    def watch(self, kind: str, namespace: str | None, label_selector: str,
              resource_version: str, timeout_seconds: int) -> Iterator[dict[str, Any]]:
        return self.kube.watch(kind, namespace, label_selector, resource_version,
                               timeout_seconds=min(timeout_seconds, 15))


class Progress:
    """The state the bench waits for, followed by the operator's own informers over the
    namespace's Apps and children: polling lists instead (1,000 Apps every half second) cost
    the API server 0.15 s of CPU per poll, measured, a load that T_op carried and T_api did
    not."""

    CHILDREN = ("Deployment", "Service", "PersistentVolumeClaim")

    def __init__(self, namespace: str, source: Source | None = None) -> None:
        self.namespace = namespace
        source = source or ShortWatches(Kube(load_client(pool_size=len(self.CHILDREN) + 1)))
        self.changed = threading.Condition()
        self.informers = {kind: Informer(source, kind, "", INSTANCE_LABEL, namespace,
                                         on_change=self._wake)
                          for kind in (KIND, *self.CHILDREN)}

    def _wake(self, _obj: dict[str, Any], _gone: bool = False) -> None:
        with self.changed:
            self.changed.notify_all()

    def __enter__(self) -> Progress:
        for informer in self.informers.values():
            informer.start()
        if not all(informer.synced.wait(120) for informer in self.informers.values()):
            raise TimeoutError("the bench's watches did not start")
        return self

    def __exit__(self, *_: object) -> None:
        for informer in self.informers.values():
            informer.stop()  # within 15 s, at the end of its current watch

    def converged(self, n: int, generations: dict[str, int] | None = None) -> bool:
        """N Apps, each with observedGeneration == generation (at least the one given for
        it), and N of each child."""
        if any(len(informer.store) < n for informer in self.informers.values()):
            return False

        def observed(app: dict[str, Any] | None, generation: int = 0) -> bool:
            if app is None or app["metadata"]["generation"] < generation:
                return False
            status = app.get("status") or {}
            return bool(status.get("observedGeneration") == app["metadata"]["generation"])

        apps = self.informers[KIND].store
        if generations is not None:
            return all(observed(apps.get(self.namespace, name), generation)
                       for name, generation in generations.items())
        return all(observed(app) for app in apps.objects())

    def wait(self, what: str, check: Callable[[], bool], timeout: float) -> float:
        start = time.monotonic()
        with self.changed:
            if not self.changed.wait_for(check, timeout):
                raise TimeoutError(f"{what} not reached in {timeout:.0f}s")
        return time.monotonic() - start


def quiet_since(mark: AuditMark, seconds: float) -> bool:
    """No request from the operator (but its open watches) for `seconds`."""
    time.sleep(seconds)
    return not [e for e in operator_requests(mark) if e["verb"] != "watch"]


def wait(what: str, check: Callable[[], bool], timeout: float, interval: float) -> float:
    start = time.monotonic()
    while time.monotonic() - start < timeout:
        if check():
            return time.monotonic() - start
        time.sleep(interval)
    raise TimeoutError(f"{what} not reached in {timeout:.0f}s")


# --------------------------------------------------------------------------- one run

def time_api(kube: Kube, namespace: str, n: int, spec: dict[str, Any]) -> float:
    objects = rendered(namespace, n, spec)
    start = time.monotonic()
    parallel(kube.apply, objects)
    return round(time.monotonic() - start, 2)


def time_contract(kube: Kube, namespace: str, n: int, spec: dict[str, Any],
                  account_kubeconfig: Path) -> float:
    """What an operator that wastes nothing would take. The Apps are created as in T_op (the
    user's requests: WORKERS threads on the bench's own client), and WORKERS other threads,
    the perfect operator's workers, take each App as its create returns and send what the
    contract requires of it: its three children's applies (owned by it) and one status
    write, as the operator's ServiceAccount (so that the API server authorizes and audits
    them as it does the operator's) and under the operator's own rate limit (`run`'s
    default, 100 requests/s, burst 200). No watch, no queue, no event. Timed as T_op is:
    from the first create until the bench's watches (Progress, which T_op has running too)
    see every App observed and every child there."""
    model = AppSpec.model_validate(spec)
    defaults = RunOptions()
    configuration = k8s_client.Configuration()
    k8s_config.load_kube_config(config_file=str(account_kubeconfig),
                                client_configuration=configuration)
    configuration.connection_pool_maxsize = WORKERS + 2
    operator = Kube(k8s_client.ApiClient(configuration),
                    limiter=RateLimiter(defaults.qps, defaults.burst))
    created: queue.Queue[dict[str, Any] | None] = queue.Queue()

    def create(name: str) -> None:
        created.put(kube.request("POST", f"/apis/{API_VERSION}/namespaces/{namespace}/apps",
                                 body={"apiVersion": API_VERSION, "kind": KIND,
                                       "metadata": {"name": name, "namespace": namespace},
                                       "spec": spec}))

    def work() -> None:
        while (app := created.get()) is not None:
            ref = render.AppRef.from_body(app)
            answers = {obj["kind"]: operator.apply(obj)
                       for obj in render.render_all(ref, model).objects()}
            observed = status.Observed(deployment=answers["Deployment"],
                                       service=answers.get("Service"))
            operator.apply_status(app, status.compute_status(
                ref, app["metadata"]["generation"], model, observed, None, None, now()))

    with Progress(namespace) as progress, ThreadPoolExecutor(WORKERS) as workers:
        start = time.monotonic()
        done = [workers.submit(work) for _ in range(WORKERS)]
        try:
            parallel(create, app_names(n))
        finally:
            for _ in done:
                created.put(None)
        for future in done:
            future.result()  # a worker's error ends the phase
        progress.wait("the contract's convergence", lambda: progress.converged(n), 600)
        return round(time.monotonic() - start, 2)


def time_op(kube: Kube, namespace: str, n: int, spec: dict[str, Any]) -> float:
    """Create N Apps (the operator is running) and time until they and their children are
    there."""
    apps = [{"apiVersion": API_VERSION, "kind": KIND,
             "metadata": {"name": name, "namespace": namespace}, "spec": spec}
            for name in app_names(n)]
    with Progress(namespace) as progress:
        start = time.monotonic()
        parallel(lambda app: kube.request(
            "POST", f"/apis/{API_VERSION}/namespaces/{namespace}/apps", body=app), apps)
        progress.wait("convergence", lambda: progress.converged(n), 3600)
        return round(time.monotonic() - start, 2)


def run_without_pods(n: int, row: dict[str, Any], cluster: Kubectl, kube: Kube,
                     account_kubeconfig: Path, scratch: Path, tag: str) -> None:
    """T_api and T_op again with `suspend: true` (Deployments of 0 replicas): the same
    requests from the operator, but no pods for the controller manager, the scheduler and
    kwok to start while the clock runs. The difference to T_op says how much of it is the
    cluster starting N pods on the same two cores."""
    spec = {**SPEC, "suspend": True}
    wait_namespaces_gone(cluster)
    namespaces = {phase: f"bench-{phase}-nopods-{tag}-{n}" for phase in ("api", "op")}
    for namespace in namespaces.values():
        cluster("create", "namespace", namespace)
    operator = Operator(account_kubeconfig, scratch / f"operator-nopods-{n}.log")
    try:
        say(f"N={n}: T_api without pods (suspend: true)")
        row["t_api_nopods_s"] = time_api(kube, namespaces["api"], n, spec)
        delete_namespace(cluster, kube, namespaces["api"])
        wait_namespaces_gone(cluster, keep={namespaces["op"]})
        say(f"N={n}: T_op without pods (suspend: true)")
        operator.start()
        time.sleep(3)
        row["t_op_nopods_s"] = time_op(kube, namespaces["op"], n, spec)
        row["op_over_api_nopods"] = round(row["t_op_nopods_s"] / row["t_api_nopods_s"], 2)
    finally:
        operator.stop()
        for namespace in namespaces.values():
            cluster.run("delete", "namespace", namespace, "--wait=false", namespaced=False,
                        check=False)

def time_op_phase(n: int, row: dict[str, Any], kube: Kube, namespace: str,
                  operator: Operator) -> None:
    """T_op: the operator started on a quiet cluster, N Apps created; the row gets the time,
    the operator's requests, CPU and RSS. The operator keeps running."""
    pid = operator.start()
    time.sleep(3)  # let it start watching: the phase measures reconciling, not imports
    mark = audit_mark()
    with Usage(pid) as usage:
        row["t_op_s"] = time_op(kube, namespace, n, SPEC)
        converged = time.time()
    row["load_op"] = load()
    entries = requests_until(mark, converged)
    writes, reads = count(entries)
    row["op_requests"] = breakdown(entries)
    row.update(op_writes_per_app=round(writes / n, 2), op_reads_per_app=round(reads / n, 2),
               cpu_op_s=round(usage.cpu, 1), rss_mib=round(usage.peak_kib / 1024, 1))
    time.sleep(5)
    row["rss_settled_mib"] = round(usage.rss_kib() / 1024, 1)


def summarize(row: dict[str, Any], pairs: list[dict[str, Any]]) -> None:
    """The row of one or several T_contract/T_op pairs: the last pair's figures (both
    phases' requests, RSS); with several, the medians of the times and the median of the
    pairs' own ratios (each pair ran side by side, on the cluster of that moment), and
    every pair."""
    row.update({key: value for key, value in pairs[-1].items() if key != "ratio"})
    if len(pairs) > 1:
        row["pairs"] = pairs
        for key in ("t_contract_s", "t_op_s", "cpu_op_s"):
            row[key] = round(statistics.median(pair[key] for pair in pairs), 2)
        row["op_over_contract"] = round(statistics.median(pair["ratio"] for pair in pairs), 2)


def load() -> float:
    """The machine's 1-minute load average as a phase ends: how busy the 2 cores were."""
    return round(os.getloadavg()[0], 2)


def run(n: int, cluster: Kubectl, kube: Kube, account_kubeconfig: Path, scratch: Path,
        tag: str, skip: set[str], repeat: int = 1) -> dict[str, Any]:
    """One row. With `repeat` > 1, T_contract and T_op are measured that many times, each
    T_op right after its T_contract (side by side, as the cluster slows over hours), and the
    row holds their medians, the median of the pairs' ratios and every pair."""
    row: dict[str, Any] = {"n": n}
    phases = ["api"]
    for i in range(1, repeat + 1):
        phases.append(f"contract-{i}")
        if i == 1 and "kubectl" not in skip:
            phases.append("kubectl")
        phases.append(f"op-{i}")
    namespaces = {phase: f"bench-{phase}-{tag}-{n}" for phase in phases}
    for namespace in namespaces.values():
        cluster("create", "namespace", namespace)

    def quiet(before: str) -> None:
        """Each phase starts on a quiet cluster: not while the controller manager and kwok
        are still starting the pods and binding the claims of the phase before it (at
        N = 5,000 that took minutes after T_api's clock stopped, and fell on T_contract).
        The phases before that one were deleted before it began."""
        previous = phases[phases.index(before) - 1]
        delete_namespace(cluster, kube, namespaces[previous])
        say(f"N={n}: waiting for the namespace of {previous} to be deleted")
        wait_namespaces_gone(cluster, keep={namespaces[p] for p in phases[phases.index(before):]})

    operator: Operator | None = None
    try:
        say(f"N={n}: T_api (server-side apply, {WORKERS} threads)")
        row["t_api_s"] = time_api(kube, namespaces["api"], n, SPEC)
        row["load_api"] = load()
        pairs: list[dict[str, Any]] = []
        for i in range(1, repeat + 1):
            of = f" ({i} of {repeat})" if repeat > 1 else ""
            quiet(f"contract-{i}")
            say(f"N={n}: T_contract{of} (the App, its children and its status, "
                f"{WORKERS} threads)")
            pair: dict[str, Any] = {}
            mark = audit_mark()
            pair["t_contract_s"] = time_contract(kube, namespaces[f"contract-{i}"], n, SPEC,
                                                 account_kubeconfig)
            converged = time.time()
            pair["load_contract"] = load()
            pair["contract_requests"] = breakdown(requests_until(mark, converged))

            if i == 1 and "kubectl" not in skip:
                quiet("kubectl")
                say(f"N={n}: T_kubectl (kubectl apply --server-side)")
                manifest = scratch / f"rendered-{n}.yaml"
                manifest.write_text(yamlout.dump_all(rendered(namespaces["kubectl"], n)))
                start = time.monotonic()
                cluster.run("apply", "--server-side", "-f", str(manifest), namespaced=False,
                            timeout=3600)
                row["t_kubectl_s"] = round(time.monotonic() - start, 2)
            quiet(f"op-{i}")

            say(f"N={n}: T_op{of} (Apps created, operator running)")
            operator = Operator(account_kubeconfig, scratch / f"operator-{n}.log")
            time_op_phase(n, pair, kube, namespaces[f"op-{i}"], operator)
            pair["ratio"] = round(pair["t_op_s"] / pair["t_contract_s"], 2)
            pairs.append(pair)
            if i < repeat:
                operator.stop()  # it watches every namespace: not while T_contract runs
                say(f"N={n}: pair {i}: {json.dumps(pair)}")
        summarize(row, pairs)
        namespace = namespaces[f"op-{repeat}"]
        assert operator is not None

        if "restart" in skip:
            return finish(row)

        say(f"N={n}: no-op resync (operator restarted)")
        # Converged is not settled: pods keep becoming ready and statuses follow. The no-op
        # resync starts once the operator has gone quiet. (Not "every App Ready": under load,
        # kwok's volume simulation leaves some claims Lost, which is a stable state too.)
        try:
            row["settle_s"] = round(wait(
                "the operator to go quiet", lambda: quiet_since(audit_mark(), 5.0),
                settle_timeout(n), 0.5), 1)
        except TimeoutError:
            # Restarted anyway: the status writes that follow pods becoming ready are then
            # counted as resync writes, the writes to children must still be 0.
            row["resync_note"] = (
                f"the cluster had not settled {settle_timeout(n):.0f}s after T_op (kwok "
                "still starting pods and binding claims): status writes for those changes "
                "are counted")
            say(f"N={n}: {row['resync_note']}")
        operator.stop()
        mark = audit_mark()
        log_offset = operator.log.stat().st_size
        pid = operator.start()
        started = time.monotonic()
        with Usage(pid) as usage:
            # The operator says when it has checked every App once after a start.
            wait("the first pass after the restart",
                 lambda: FIRST_PASS.search(operator.log.read_bytes()[log_offset:]) is not None,
                 1800, 0.5)
            row["resync_wall_s"] = round(time.monotonic() - started, 2)
            time.sleep(5)  # anything it would still send after the first pass is counted too
        match = FIRST_PASS.search(operator.log.read_bytes()[log_offset:])
        assert match is not None
        entries = operator_requests(mark)
        writes, reads = count(entries)
        restart_peak = round(usage.peak_kib / 1024, 1)
        row.update(resync_writes=writes, resync_child_writes=child_writes(entries),
                   resync_reads=reads,
                   resync_idle_s=float(match.group(1)),
                   cpu_resync_s=round(usage.cpu, 1),
                   rss_resync_mib=restart_peak, rss_mib=max(row["rss_mib"], restart_peak))

        say(f"N={n}: churn (image of 10% of the Apps changed)")
        changed = set(app_names(n)[:: 10])
        mark = audit_mark()
        generations: dict[str, int] = {}

        def change(name: str) -> None:
            patched = kube.merge_patch(KIND, namespace, name, {"spec": {"image": "bench/app:v2"}})
            generations[name] = patched["metadata"]["generation"]

        with Progress(namespace) as progress, Usage(pid) as usage:
            start = time.monotonic()
            parallel(change, sorted(changed))
            progress.wait("churn convergence", lambda: progress.converged(n, generations), 1800)
            row["churn_s"] = round(time.monotonic() - start, 2)
            converged = time.time()
        writes, _ = count(requests_until(mark, converged))
        row.update(churn_writes=writes, cpu_churn_s=round(usage.cpu, 1))
    finally:
        if operator is not None:
            operator.stop()
        for namespace in namespaces.values():
            cluster.run("delete", "namespace", namespace, "--wait=false", namespaced=False,
                        check=False)
    return finish(row)


def finish(row: dict[str, Any]) -> dict[str, Any]:
    row["op_over_api"] = round(row["t_op_s"] / row["t_api_s"], 2)
    if "t_contract_s" in row and "pairs" not in row:  # else: the median of the pairs' ratios
        row["op_over_contract"] = round(row["t_op_s"] / row["t_contract_s"], 2)
    if "t_kubectl_s" in row:
        row["op_over_kubectl"] = round(row["t_op_s"] / row["t_kubectl_s"], 2)
    say(f"N={row['n']}: {json.dumps(row)}")
    return row


def delete_namespace(cluster: Kubectl, kube: Kube, namespace: str) -> None:
    """Delete a phase's namespace, and its Services alongside the namespace controller: it
    deletes Services one at a time (they have no deletecollection), which took over 12
    minutes for N = 5,000's 10,000; 8 threads delete them in 2-3."""
    cluster.run("delete", "namespace", namespace, "--wait=false", namespaced=False)
    services, _ = kube.list_all("Service", namespace, "")
    parallel(lambda service: kube.delete("Service", namespace, service["metadata"]["name"],
                                         service["metadata"]["uid"]), services)


def bench_namespaces(cluster: Kubectl) -> list[str]:
    return [line.removeprefix("namespace/")
            for line in cluster("get", "namespaces", "-o", "name").split()
            if line.startswith("namespace/bench-")]


def wait_namespaces_gone(cluster: Kubectl, keep: set[str] | frozenset[str] = frozenset()
                         ) -> None:
    wait("bench namespaces to be deleted",
         lambda: not [n for n in bench_namespaces(cluster) if n not in keep], 1800, 2.0)


# --------------------------------------------------------------------------- report

def markdown(rows: list[dict[str, Any]], when: str) -> str:
    columns = [("n", "N"), ("t_api_s", "T_api s"), ("t_contract_s", "T_contract s"),
               ("t_kubectl_s", "T_kubectl s"), ("t_op_s", "T_op s"),
               ("op_over_api", "T_op/T_api"), ("op_over_contract", "T_op/T_contract"),
               ("op_over_kubectl", "T_op/T_kubectl"),
               ("t_api_nopods_s", "T_api no pods s"), ("t_op_nopods_s", "T_op no pods s"),
               ("op_over_api_nopods", "ratio no pods"), ("op_writes_per_app", "writes/App"),
               ("op_reads_per_app", "reads/App"), ("resync_writes", "resync writes"),
               ("resync_child_writes", "resync child writes"),
               ("resync_reads", "resync reads"),
               ("resync_idle_s", "resync idle s"), ("churn_s", "churn s"),
               ("rss_mib", "peak RSS MiB"), ("rss_settled_mib", "settled RSS MiB"),
               ("rss_resync_mib", "restart peak RSS MiB"),
               ("cpu_op_s", "CPU s (create)")]
    lines = [f"Benchmark {when} (local cluster: kube-apiserver built from Go modules, "
             "kwok nodes; 2 cores).", "",
             "| " + " | ".join(title for _, title in columns) + " |",
             "|" + "---|" * len(columns)]
    for row in rows:
        lines.append("| " + " | ".join(str(row.get(key, "")) for key, _ in columns) + " |")
    for row in rows:
        if "pairs" in row:
            lines += ["", f"N = {row['n']}, T_contract and T_op side by side, in the order run "
                      "(T_contract/T_op s, ratio, 1-minute load average at the end of each; "
                      "the table has the medians):", ""]
            lines += [f"- {pair['t_contract_s']} / {pair['t_op_s']} s, {pair['ratio']}, "
                      f"load {pair['load_contract']} / {pair['load_op']}"
                      for pair in row["pairs"]]
    return "\n".join(lines) + "\n"


def plot(rows: list[dict[str, Any]], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    ns = [row["n"] for row in rows]
    figure, axes = plt.subplots(figsize=(7, 4.5))
    for key, label in (("t_api_s", "API floor (server-side apply, same client)"),
                       ("t_contract_s", "contract floor (App, children, status; bare client)"),
                       ("t_kubectl_s", "kubectl apply --server-side"),
                       ("t_op_s", "App Operator (Apps → children, status)")):
        measured = [row for row in rows if key in row]
        axes.plot([row["n"] for row in measured], [row[key] for row in measured], marker="o",
                  label=label)
    axes.set_xlabel("Apps (N)")
    axes.set_ylabel("seconds until converged")
    axes.set_title("Time from nothing to N Apps' children")
    if len(ns) > 1:
        axes.set_xscale("log")
        axes.set_yscale("log")
    axes.grid(True, alpha=0.3)
    axes.legend()
    figure.tight_layout()
    figure.savefig(path, dpi=110)


def write_results(results: Path, name: str, when: str, rows: list[dict[str, Any]]) -> None:
    (results / f"{name}.json").write_text(json.dumps(
        {"when": when, "workers": WORKERS, "spec": SPEC, "rows": rows}, indent=2) + "\n")
    (results / f"{name}.md").write_text(markdown(rows, when))
    plot(rows, results / f"{name}.png")


def combine(files: list[Path], results: Path, name: str) -> None:
    runs = [json.loads(path.read_text()) for path in files]
    results.mkdir(parents=True, exist_ok=True)
    rows = sorted((row for run in runs for row in run["rows"]), key=lambda row: row["n"])
    when = " and ".join(run["when"] for run in runs)
    write_results(results, name, when, rows)
    say(f"results: {results / name}.json, .md, .png")
    print(markdown(rows, when))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("sizes", nargs="*", type=int, help="values of N")
    parser.add_argument("--name", default=None, help="results file name (default: the date)")
    parser.add_argument("--results", type=Path, default=RESULTS,
                        help=f"directory of the results (default: {RESULTS.relative_to(ROOT)})")
    parser.add_argument("--skip", action="append", default=[],
                        choices=["kubectl", "nopods", "restart"],
                        help="leave a phase out (for a large N where it would take hours; "
                             "restart: the settling, the restart and the churn after T_op)")
    parser.add_argument("--repeat", type=int, default=1, metavar="K",
                        help="measure T_contract and T_op K times each, side by side, and "
                             "report their medians and the median of the pairs' ratios")
    parser.add_argument("--combine", nargs="+", type=Path, metavar="JSON",
                        help="run nothing: one table and plot of the rows of earlier runs "
                             "(e.g. `make bench` and `make bench-large`)")
    args = parser.parse_args()
    if args.combine:
        combine(args.combine, args.results, args.name or "combined")
        return
    if not args.sizes:
        parser.error("give at least one N (or --combine)")
    skip = set(args.skip)
    subprocess.run([str(ROOT / "hack" / "cluster" / "up.sh")], check=True,
                   stdout=subprocess.DEVNULL)
    kubeconfig = CLUSTER_STATE / "kubeconfig"
    os.environ["KUBECONFIG"] = str(kubeconfig)
    cluster = Kubectl(str(kubeconfig))
    cluster("apply", "--server-side", "--force-conflicts", "-f", str(ROOT / "crds"))
    install_without_deployment(cluster)
    scratch = CLUSTER_STATE / "bench"
    scratch.mkdir(parents=True, exist_ok=True)
    account = service_account_kubeconfig(cluster.in_namespace(OPERATOR_NAMESPACE),
                                         "app-operator", scratch)
    kube = Kube(load_client(pool_size=WORKERS + 2))
    when = dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H%MZ")
    tag = dt.datetime.now().strftime("%H%M%S")
    rows: list[dict[str, Any]] = []
    args.results.mkdir(parents=True, exist_ok=True)
    name = args.name or when
    leftovers = bench_namespaces(cluster)
    if leftovers:  # an interrupted run's: nothing else deletes them
        say(f"deleting {len(leftovers)} namespaces an earlier run left: {', '.join(leftovers)}")
        for namespace in leftovers:
            delete_namespace(cluster, kube, namespace)
    for n in args.sizes:
        wait_namespaces_gone(cluster)
        row = run(n, cluster, kube, account, scratch, tag, skip, args.repeat)
        rows.append(row)
        if "nopods" not in skip:
            write_results(args.results, name, when, rows)
            run_without_pods(n, row, cluster, kube, account, scratch, tag)
        # Written after every N, so that a long run that is stopped still leaves its rows.
        write_results(args.results, name, when, rows)
    say(f"results: {args.results / name}.json, .md, .png")
    print(markdown(rows, when))


if __name__ == "__main__":
    main()
