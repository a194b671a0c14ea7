"""Leader election on a coordination.k8s.io/v1 Lease: of several replicas, one writes.

The Kubernetes convention (client-go's leaderelection, kube-controller-manager, every
controller-runtime operator): the leader renews the Lease every `retry_period`; a standby
takes the Lease over once the leader has not renewed it for `lease_duration`, as the standby
measures it on its own clock (the time it last saw the Lease change, never the timestamps
written by another machine). A leader that stops on purpose releases the Lease, so a standby
takes over at once (a rollout). `kubectl get lease -n app-operator-system app-operator`
shows the holder.

Failing closed: two writers must never overlap, so every doubt ends leadership.

- Leadership is valid for `renew_deadline` after the start of the last successful renewal
  (the moment its request left, never the moment its answer came back). `is_leader()` asks the
  clock, not the election thread, so the write gate (`Kube.may_write`) closes at the deadline
  even when that thread is late, frozen or dead. A standby cannot take over before
  `lease_duration` after it saw that renewal, which is later still: the difference is the
  margin for writes already on the wire.
- Every election request is bounded by the deadline: its timeout is the time left (a GET and
  a PUT that took 60 s against a 15 s lease made two leaders overlap before), on a Kube client
  of the elector's own (no rate limiter shared with the workers, no urllib3 retries, which
  would start the timeout again).
- A Lease held by someone else, a missed deadline, or any unexpected error in the election
  thread ends leadership at once and calls `on_stopped`, which exits the process (as
  controller-runtime does); the pod comes back as a standby.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, Literal

from kubernetes import client

from app_operator.runtime import metrics
from app_operator.runtime.kube import Kube, KubeError, load_client

# Named as users read it in the log (kopf shows 20 characters of a logger's name).
log = logging.getLogger("app_operator.leader")

# The Kubernetes defaults (client-go, controller-runtime, kube-controller-manager).
LEASE_DURATION = 15.0
RENEW_DEADLINE = 10.0
RETRY_PERIOD = 2.0

# One attempt on the Lease: we hold it, someone else holds it, or we could not tell.
Attempt = Literal["held", "taken", "failed"]


def _micro_time() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def lease_path(namespace: str, name: str | None = None) -> str:
    path = f"/apis/coordination.k8s.io/v1/namespaces/{namespace}/leases"
    return f"{path}/{name}" if name else path


def election_kube() -> Kube:
    """The elector's own client. Without urllib3's retries: a retry starts the request's
    timeout again, so one GET could outlive the renew deadline several times over."""
    configuration = load_client(pool_size=1).configuration  # (that client sends nothing)
    configuration.retries = False
    return Kube(client.ApiClient(configuration))


class LeaderElector:
    def __init__(self, kube: Kube, namespace: str, name: str, identity: str,
                 lease_duration: float = LEASE_DURATION, renew_deadline: float = RENEW_DEADLINE,
                 retry_period: float = RETRY_PERIOD) -> None:
        if not 0 < retry_period < renew_deadline < lease_duration:
            raise ValueError("leader election needs 0 < retry period < renew deadline < lease "
                             f"duration (got {retry_period}, {renew_deadline}, "
                             f"{lease_duration})")
        self.kube = kube
        self.namespace = namespace
        self.name = name
        self.identity = identity
        self.lease_duration = lease_duration
        self.renew_deadline = renew_deadline
        self.retry_period = retry_period
        self._observed: dict[str, Any] | None = None  # the Lease's spec as last seen
        self._observed_at = 0.0  # monotonic time it last changed
        self._stop = threading.Event()
        self._request_lock = threading.Lock()  # one request at a time sets kube.timeout
        self._renewed_at: float | None = None  # when the last successful attempt began
        self.last_attempt = time.monotonic()  # when the last attempt began (liveness)
        self.leading = threading.Event()  # set from acquiring until leadership ends

    # What the rest of the operator asks.

    def is_leader(self) -> bool:
        """True while this replica may write: it holds the Lease and the start of its last
        renewal is less than `renew_deadline` ago."""
        renewed = self._renewed_at
        return (self.leading.is_set() and renewed is not None
                and time.monotonic() - renewed < self.renew_deadline)

    def holder(self) -> str | None:
        """Who holds the Lease, as this replica last read it (None: nobody, or not read)."""
        spec = self._observed or {}
        holder = spec.get("holderIdentity")
        return str(holder) if holder else None

    # The election thread.

    def run(self, on_started: Callable[[], None], on_stopped: Callable[[], None]) -> None:
        """Block until leading, call `on_started`, renew until the lease is lost or `stop()`
        is called. When leadership ends other than by `stop()` (a missed deadline, another
        holder, any unexpected error, also while waiting to lead), call `on_stopped`: the
        caller exits the process."""
        try:
            lost = self._run(on_started)
        except Exception:  # fail closed: whatever went wrong, nobody here writes any more
            log.exception("leader election failed (Lease %s/%s): this replica stops",
                          self.namespace, self.name)
            lost = True
        if lost:
            self._end_leadership()
            on_stopped()

    def _run(self, on_started: Callable[[], None]) -> bool:
        """True when leadership was lost, False when stopped on purpose."""
        log.info("waiting to lead: Lease %s/%s, identity %s", self.namespace, self.name,
                 self.identity)
        while True:
            started = time.monotonic()
            if self._try(started + self.renew_deadline) == "held":
                self._renewed_at = started
                break
            if self._stop.wait(self.retry_period):
                return False
        if self._stop.is_set():  # stop() came while we acquired: give it back
            self._release()
            return False
        self.leading.set()
        metrics.leader.labels(self.name).set(1)
        log.info("leading: Lease %s/%s held by %s", self.namespace, self.name, self.identity)
        on_started()
        while not self._stop.wait(self.retry_period):
            if not self._renew():
                return not self._stop.is_set()
        return False

    def _renew(self) -> bool:
        """Renew before the deadline, trying every `retry_period`; False when we could not
        (or found the Lease held by someone else), logged."""
        assert self._renewed_at is not None
        deadline = self._renewed_at + self.renew_deadline
        while True:
            started = time.monotonic()
            if started >= deadline:
                self._end_leadership()
                log.error("lost the Lease %s/%s: not renewed for %.1fs (the renew deadline): "
                          "stopping", self.namespace, self.name, self.renew_deadline)
                return False
            attempt = self._try(deadline)
            if attempt == "held":
                self._renewed_at = started
                return True
            if attempt == "taken":
                self._end_leadership()
                log.error("lost the Lease %s/%s: %s holds it now: stopping", self.namespace,
                          self.name, self.holder())
                return False
            if self._stop.wait(max(min(self.retry_period, deadline - time.monotonic()), 0)):
                return False

    def _end_leadership(self) -> None:
        self.leading.clear()
        metrics.leader.labels(self.name).set(0)

    def stop(self) -> None:
        """Stop renewing, and give the Lease up if we hold it, so a standby takes over now.
        Writes stop first: the gate closes before the Lease is released."""
        self._stop.set()
        was_leader = self.is_leader()
        self._end_leadership()
        if was_leader:
            self._release()

    # Requests, each bounded by a deadline.

    def _request(self, method: str, path: str, deadline: float, body: Any = None) -> Any:
        with self._request_lock:
            left = deadline - time.monotonic()
            if left <= 0:  # (a timeout of 0 would mean none at all to the client)
                raise KubeError(0, "Timeout", "the renew deadline passed")
            self.kube.timeout = left
            return self.kube.request(method, path, body=body)

    def _release(self) -> None:
        renewed = self._renewed_at
        if renewed is None:
            return
        deadline = renewed + self.renew_deadline  # after it, the Lease expires on its own
        try:
            lease = self._request("GET", lease_path(self.namespace, self.name), deadline)
            if lease["spec"].get("holderIdentity") == self.identity:
                lease["spec"]["holderIdentity"] = None
                lease["spec"]["renewTime"] = _micro_time()
                self._request("PUT", lease_path(self.namespace, self.name), deadline,
                              body=lease)
                log.info("released the Lease %s/%s", self.namespace, self.name)
        except KubeError as error:
            log.warning("could not release the Lease %s/%s: %s", self.namespace, self.name,
                        error)

    def _try(self, deadline: float) -> Attempt:
        """One attempt to acquire or renew, every request of it done by `deadline`."""
        self.last_attempt = time.monotonic()
        try:
            lease = self._request("GET", lease_path(self.namespace, self.name), deadline)
        except KubeError as error:
            if error.status != 404:
                log.warning("reading the Lease failed: %s", error)
                return "failed"
            return self._create(deadline)
        spec = lease.get("spec") or {}
        if spec != self._observed:
            self._observed, self._observed_at = dict(spec), time.monotonic()
        holder = spec.get("holderIdentity")
        expired = time.monotonic() - self._observed_at > float(
            spec.get("leaseDurationSeconds") or self.lease_duration)
        if holder and holder != self.identity and not expired:
            return "taken"
        now = _micro_time()
        if holder != self.identity:
            spec["acquireTime"] = now
            spec["leaseTransitions"] = int(spec.get("leaseTransitions") or 0) + 1
        spec.update(holderIdentity=self.identity, renewTime=now,
                    leaseDurationSeconds=self._lease_seconds())
        lease["spec"] = spec
        try:
            # The resourceVersion we read makes this a compare-and-swap: of two standbys
            # trying at once, one wins and the other gets 409.
            answer = self._request("PUT", lease_path(self.namespace, self.name), deadline,
                                   body=lease)
        except KubeError as error:
            if not error.conflict:
                log.warning("updating the Lease failed: %s", error)
            return "failed"
        self._observed, self._observed_at = dict(answer.get("spec") or {}), time.monotonic()
        return "held"

    def _create(self, deadline: float) -> Attempt:
        now = _micro_time()
        spec: dict[str, Any] = {"holderIdentity": self.identity, "acquireTime": now,
                                "renewTime": now, "leaseTransitions": 0,
                                "leaseDurationSeconds": self._lease_seconds()}
        body = {"apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
                "metadata": {"name": self.name, "namespace": self.namespace}, "spec": spec}
        try:
            self._request("POST", lease_path(self.namespace), deadline, body=body)
        except KubeError as error:
            if error.status != 409:
                log.warning("creating the Lease failed: %s", error)
            return "failed"
        self._observed, self._observed_at = dict(spec), time.monotonic()
        return "held"

    def _lease_seconds(self) -> int:
        """The Lease's duration as the API takes it: whole seconds, never less than ours
        (a standby that rounded down would take over early)."""
        return max(1, math.ceil(self.lease_duration))
