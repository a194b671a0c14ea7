"""Leader election on a coordination.k8s.io/v1 Lease: of several replicas, one writes.

The Kubernetes convention (client-go's leaderelection, kube-controller-manager, every
controller-runtime operator): the leader renews the Lease every `retry_period`; a standby
takes the Lease over once the leader has not renewed it for `lease_duration`, as the standby
measures it on its own clock (the time it last saw the Lease change, never the timestamps
written by another machine). A leader that cannot renew within `renew_deadline` stops
leading, so two writers never overlap for longer than the difference. A leader that stops
on purpose releases the Lease, so a standby takes over at once (a rollout).
`kubectl get lease -n app-operator-system app-operator` shows the holder.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from app_operator.runtime import metrics
from app_operator.runtime.kube import Kube, KubeError

# Named as users read it in the log (kopf shows 20 characters of a logger's name).
log = logging.getLogger("app_operator.leader")


def _micro_time() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def lease_path(namespace: str, name: str | None = None) -> str:
    path = f"/apis/coordination.k8s.io/v1/namespaces/{namespace}/leases"
    return f"{path}/{name}" if name else path


class LeaderElector:
    def __init__(self, kube: Kube, namespace: str, name: str, identity: str,
                 lease_duration: float = 10.0, renew_deadline: float = 7.0,
                 retry_period: float = 2.0) -> None:
        assert retry_period < renew_deadline < lease_duration
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
        self.leading = threading.Event()

    def run(self, on_started: Callable[[], None], on_stopped: Callable[[], None]) -> None:
        """Block until leading, call `on_started`, renew until the lease is lost or `stop()`
        is called, then call `on_stopped` (when it was lost)."""
        log.info("waiting to lead: Lease %s/%s, identity %s", self.namespace, self.name,
                 self.identity)
        while not self._stop.is_set():
            if self._try():
                break
            self._stop.wait(self.retry_period)
        if self._stop.is_set():
            return
        self.leading.set()
        metrics.leader.labels(self.name).set(1)
        log.info("leading: Lease %s/%s held by %s", self.namespace, self.name, self.identity)
        on_started()
        last_renewal = time.monotonic()
        while not self._stop.wait(self.retry_period):
            if self._try():
                last_renewal = time.monotonic()
            elif time.monotonic() - last_renewal > self.renew_deadline:
                self.leading.clear()
                metrics.leader.labels(self.name).set(0)
                log.error("lost the Lease %s/%s (not renewed for %.0fs): stopping",
                          self.namespace, self.name, self.renew_deadline)
                on_stopped()
                return

    def stop(self) -> None:
        """Stop renewing, and give the Lease up if we hold it, so a standby takes over now."""
        self._stop.set()
        if not self.leading.is_set():
            return
        self.leading.clear()
        metrics.leader.labels(self.name).set(0)
        try:
            lease = self.kube.request("GET", lease_path(self.namespace, self.name))
            if lease["spec"].get("holderIdentity") == self.identity:
                lease["spec"]["holderIdentity"] = None
                lease["spec"]["renewTime"] = _micro_time()
                self.kube.request("PUT", lease_path(self.namespace, self.name), body=lease)
                log.info("released the Lease %s/%s", self.namespace, self.name)
        except KubeError as error:
            log.warning("could not release the Lease %s/%s: %s", self.namespace, self.name,
                        error)

    def _try(self) -> bool:
        """One attempt to acquire or renew; True when we hold the Lease afterwards."""
        try:
            lease = self.kube.request("GET", lease_path(self.namespace, self.name))
        except KubeError as error:
            if error.status != 404:
                log.warning("reading the Lease failed: %s", error)
                return False
            return self._create()
        spec = lease.get("spec") or {}
        if spec != self._observed:
            self._observed, self._observed_at = dict(spec), time.monotonic()
        holder = spec.get("holderIdentity")
        expired = time.monotonic() - self._observed_at > float(
            spec.get("leaseDurationSeconds") or self.lease_duration)
        if holder and holder != self.identity and not expired:
            return False
        now = _micro_time()
        if holder != self.identity:
            spec["acquireTime"] = now
            spec["leaseTransitions"] = int(spec.get("leaseTransitions") or 0) + 1
        spec.update(holderIdentity=self.identity, renewTime=now,
                    leaseDurationSeconds=int(self.lease_duration))
        lease["spec"] = spec
        try:
            # The resourceVersion we read makes this a compare-and-swap: of two standbys
            # trying at once, one wins and the other gets 409.
            answer = self.kube.request("PUT", lease_path(self.namespace, self.name),
                                       body=lease)
        except KubeError as error:
            if not error.conflict:
                log.warning("updating the Lease failed: %s", error)
            return False
        self._observed, self._observed_at = dict(answer.get("spec") or {}), time.monotonic()
        return True

    def _create(self) -> bool:
        now = _micro_time()
        spec: dict[str, Any] = {"holderIdentity": self.identity, "acquireTime": now,
                                "renewTime": now, "leaseTransitions": 0,
                                "leaseDurationSeconds": int(self.lease_duration)}
        body = {"apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
                "metadata": {"name": self.name, "namespace": self.namespace}, "spec": spec}
        try:
            self.kube.request("POST", lease_path(self.namespace), body=body)
        except KubeError as error:
            if error.status != 409:
                log.warning("creating the Lease failed: %s", error)
            return False
        self._observed, self._observed_at = dict(spec), time.monotonic()
        return True
