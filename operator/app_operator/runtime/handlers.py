"""The operator's start and stop, as kopf runs them (`app-operator run` starts kopf).

kopf is the process's framework: it runs the startup and cleanup handlers below, handles
signals, logging and the liveness endpoint. The watching is the operator's own informers
(cache.py), for the Apps as for their children: a kopf watch does not report an App deleted
while the watch was down (after a 410 it lists again, and handlers see only the Apps that
still exist), and a deletion missed that way left the operator reconciling a ghost
(tests/integration/test_faults.py::test_a_deletion_missed_during_a_watch_outage_leaves_no_ghost).

No handler here makes kopf write to an App: no finalizers (deleting an App must work while
the operator is down), no diff-base annotations, no progress in status, no kopf events.
"""

from __future__ import annotations

import logging
import os
import signal
import socket
import threading
import uuid
from typing import Any

import kopf

from app_operator.core import model, render
from app_operator.runtime import metrics
from app_operator.runtime.cache import Children, Informer
from app_operator.runtime.controller import Controller
from app_operator.runtime.kube import Kube, RateLimiter, load_client
from app_operator.runtime.leader import LeaderElector
from app_operator.runtime.reconcile import Reconciler

# Named as users read it in the log (kopf shows 20 characters of a logger's name).
log = logging.getLogger("app_operator.handlers")
_controller: Controller | None = None
_elector: LeaderElector | None = None


def watched_namespaces() -> list[str | None]:
    """$APP_OPERATOR_NAMESPACES (comma-separated, set by `app-operator run -n`), else all."""
    names: list[str | None] = [
        n for n in os.environ.get("APP_OPERATOR_NAMESPACES", "").split(",") if n]
    return names or [None]


def build_controller(kube: Kube, namespaces: list[str | None], workers: int,
                     resync: float) -> Controller:
    children = Children(kube, render.WATCHED_KINDS, render.CHILDREN_SELECTOR,
                        render.INSTANCE_LABEL, namespaces,
                        fetch=lambda kind, namespace, name: kube.get(
                            kind, namespace, name, cached=True), optional=("Pod",))
    apps = [Informer(kube, model.KIND, "", namespace=namespace) for namespace in namespaces]
    reconciler = Reconciler(kube, children)
    controller = Controller(reconciler, apps, workers=workers, resync_seconds=resync)
    reconciler.remember_app = controller.remember_app
    return controller


@kopf.on.startup()
def start(settings: kopf.OperatorSettings, **_: Any) -> None:
    global _controller, _elector
    settings.posting.enabled = False
    settings.scanning.disabled = True
    workers = int(os.environ.get("APP_OPERATOR_WORKERS", "8"))
    resync = float(os.environ.get("APP_OPERATOR_RESYNC_SECONDS", "300"))
    qps = float(os.environ.get("APP_OPERATOR_QPS", "100"))
    burst = int(os.environ.get("APP_OPERATOR_BURST", "200"))
    namespaces = watched_namespaces()
    informers = (len(render.WATCHED_KINDS) + 1) * len(namespaces)
    # One connection per worker, per informer's watch, and one for events.
    kube = Kube(load_client(pool_size=workers + informers + 2), limiter=RateLimiter(qps, burst))
    _controller = build_controller(kube, namespaces, workers, resync)
    controller_ = _controller
    metrics.watch_apps(lambda: [o for i in controller_.apps for o in i.store.objects()])
    address = os.environ.get("APP_OPERATOR_METRICS_ADDRESS", ":9090")
    if address != "0":
        try:
            metrics.serve(address)
        except (OSError, ValueError) as error:
            # Said once and fatal: kopf would otherwise retry a failed start for ever.
            raise kopf.PermanentError(f"cannot serve metrics on {address}: {error}") from error
        log.info("metrics on %s/metrics", address)
    where = ("all namespaces" if namespaces == [None] else
             "namespaces " + ", ".join(n for n in namespaces if n))
    log.info("app-operator started: %d workers, resync every %.0fs, %s, at most %.0f "
             "requests/s (burst %d)", workers, resync, where, qps, burst)
    lease_namespace = os.environ.get("APP_OPERATOR_LEADER_ELECTION_NAMESPACE", "")
    if not lease_namespace:
        _controller.start()
        return
    identity = f"{socket.gethostname()}_{uuid.uuid4().hex[:8]}"
    _elector = LeaderElector(kube, lease_namespace, os.environ.get(
        "APP_OPERATOR_LEADER_ELECTION_ID", "app-operator"), identity)
    controller = controller_
    threading.Thread(target=_elector.run, name="leader-election", daemon=True,
                     args=(controller.start, _lost)).start()


def _lost() -> None:
    """The Lease was lost: this replica may no longer write. Stop now; the pod restarts and
    waits as a standby."""
    if _controller is not None:
        _controller.stop()
    os.kill(os.getpid(), signal.SIGTERM)


@kopf.on.cleanup()
def stop(**_: Any) -> None:
    if _controller is not None:
        _controller.stop()
    if _elector is not None:
        _elector.stop()
