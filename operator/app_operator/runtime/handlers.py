"""The operator's start and stop, as kopf runs them (`app-operator run` starts kopf).

kopf is the process's framework: it runs the startup and cleanup handlers below, carries the
operator's settings (`Settings`, kopf's own with the command line's options beside them),
handles signals and logging, and serves the liveness endpoint, whose answer is the probe
handler below. The watching is the operator's own informers (cache.py), for the Apps as for
their children: a kopf watch does not report an App deleted while the watch was down (after
a 410 it lists again, and handlers see only the Apps that still exist), and a deletion
missed that way left the operator reconciling a ghost
(tests/integration/test_faults.py::test_a_deletion_missed_during_a_watch_outage_leaves_no_ghost).
docs/design.md says more.

No handler here makes kopf write to an App: no finalizers (deleting an App must work while
the operator is down), no diff-base annotations, no progress in status, no kopf events.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import os
import socket
import sys
import threading
import uuid
from typing import Any

import kopf

from app_operator.core import model, render
from app_operator.runtime import leader, metrics
from app_operator.runtime.cache import Children, Informer
from app_operator.runtime.controller import Controller
from app_operator.runtime.discovery import GatewayApiDiscovery
from app_operator.runtime.health import Health
from app_operator.runtime.kube import Kube, RateLimiter, load_client
from app_operator.runtime.leader import LeaderElector
from app_operator.runtime.reconcile import Reconciler

# Named as users read it in the log (kopf shows 20 characters of a logger's name).
log = logging.getLogger("app_operator.handlers")
_controller: Controller | None = None
_elector: LeaderElector | None = None
_health: Health | None = None
_discovery: GatewayApiDiscovery | None = None

# The exit status of a replica that lost the Lease (controller-runtime's manager exits
# non-zero too): its pod restarts and waits as a standby.
LOST_LEASE_EXIT = 1


@dataclasses.dataclass
class RunOptions:
    """What `app-operator run`'s flags say, handed to the startup handler inside kopf's
    settings (the defaults are the flags' defaults, for `kopf run -m` too)."""

    namespaces: list[str] = dataclasses.field(default_factory=list)  # none: all namespaces
    workers: int = 8
    resync_seconds: float = 300.0
    qps: float = 100.0
    burst: int = 200
    metrics_address: str = ":9090"  # "0": no metrics (and no /readyz)
    leader_election_namespace: str | None = None  # None: no leader election
    leader_election_id: str = "app-operator"
    lease_duration: float = leader.LEASE_DURATION
    renew_deadline: float = leader.RENEW_DEADLINE
    retry_period: float = leader.RETRY_PERIOD


@dataclasses.dataclass
class Settings(kopf.OperatorSettings):
    """kopf's settings with the operator's own beside them: the startup handler receives
    this very object."""

    app_operator: RunOptions = dataclasses.field(default_factory=RunOptions)


def options_of(settings: kopf.OperatorSettings) -> RunOptions:
    """The operator's options in kopf's settings; the defaults when kopf was started some
    other way (`kopf run -m app_operator.runtime.handlers`)."""
    return settings.app_operator if isinstance(settings, Settings) else RunOptions()


def build_controller(kube: Kube, namespaces: list[str | None], workers: int,
                     resync: float, gateway_api: bool = False) -> Controller:
    """`gateway_api`: whether the cluster serves HTTPRoutes now (discovery.py); they are
    watched from the start if it does, else once they appear (Controller.watch_kind)."""
    kinds = (*render.WATCHED_KINDS, render.HTTP_ROUTE) if gateway_api else render.WATCHED_KINDS
    children = Children(kube, kinds, render.CHILDREN_SELECTOR,
                        render.INSTANCE_LABEL, namespaces,
                        fetch=lambda kind, namespace, name: kube.get(
                            kind, namespace, name, cached=True), optional=("Pod",))
    apps = [Informer(kube, model.KIND, "", namespace=namespace) for namespace in namespaces]
    reconciler = Reconciler(kube, children,
                            gateway_api=lambda: children.watches(render.HTTP_ROUTE))
    controller = Controller(reconciler, apps, workers=workers, resync_seconds=resync)
    reconciler.remember_app = controller.remember_app
    reconciler.find_app = lambda namespace, name: controller.app((namespace, name))
    return controller


@kopf.on.startup()
def start(settings: kopf.OperatorSettings, **_: Any) -> None:
    global _controller, _elector, _health, _discovery
    settings.posting.enabled = False
    settings.scanning.disabled = True
    options = options_of(settings)
    namespaces: list[str | None] = list(options.namespaces) or [None]
    informers = (len(render.WATCHED_KINDS) + 2) * len(namespaces)
    # One connection per worker, per informer's watch (HTTPRoutes' included), and one for
    # events.
    kube = Kube(load_client(pool_size=options.workers + informers + 2),
                limiter=RateLimiter(options.qps, options.burst))
    discovery = _discovery = GatewayApiDiscovery(
        kube, on_found=lambda: controller.watch_kind(render.HTTP_ROUTE))
    _controller = build_controller(kube, namespaces, options.workers, options.resync_seconds,
                                   gateway_api=discovery.check())
    controller = _controller
    discovery.start()
    if options.leader_election_namespace:
        identity = f"{socket.gethostname()}_{uuid.uuid4().hex[:8]}"
        try:
            _elector = LeaderElector(
                leader.election_kube(), options.leader_election_namespace,
                options.leader_election_id, identity, lease_duration=options.lease_duration,
                renew_deadline=options.renew_deadline, retry_period=options.retry_period)
        except ValueError as error:
            raise kopf.PermanentError(str(error)) from error
        # Every write of the workers and of the events asks the elector first.
        kube.may_write = _elector.is_leader
    health = _health = Health(controller, _elector)
    election = None if _elector is None else threading.Thread(
        target=_elector.run, name="leader-election", daemon=True,
        args=(lambda: _start_controller(controller, health), _lost))
    health.election = election
    metrics.watch_apps(lambda: [o for i in controller.apps for o in i.store.objects()])
    address = options.metrics_address
    if address != "0":
        try:
            metrics.serve(address, readiness=health.readiness)
        except (OSError, ValueError) as error:
            # Said once and fatal: kopf would otherwise retry a failed start for ever.
            raise kopf.PermanentError(f"cannot serve metrics on {address}: {error}") from error
        log.info("metrics on %s/metrics", address)
    where = ("all namespaces" if namespaces == [None] else
             "namespaces " + ", ".join(n for n in namespaces if n))
    log.info("app-operator started: %d workers, resync every %.0fs, %s, at most %.0f "
             "requests/s (burst %d)", options.workers, options.resync_seconds, where,
             options.qps, options.burst)
    if election is None:
        _start_controller(controller, health)
    else:
        election.start()


def _start_controller(controller: Controller, health: Health) -> None:
    controller.start()
    health.started.set()


@kopf.on.probe(id="health")
def alive(**_: Any) -> dict[str, Any]:
    """kopf's liveness endpoint (`--liveness URL`) answers with this: 200 and
    `{"health": {role, identity, leader, problems}}` while alive. A problem raises
    PermanentError: kopf logs it, and its endpoint answers 500 (a TemporaryError would make
    kopf retry the probe after a backoff while the kubelet waits for its answer)."""
    if _health is None:
        return {"role": "starting", "problems": []}
    ok, body = _health.liveness()
    if not ok:
        raise kopf.PermanentError("not alive: " + "; ".join(body["problems"]))
    return body


def _lost() -> None:
    """Leadership ended without our asking (the renew deadline passed, another replica holds
    the Lease, the election failed): the write gate is closed already. Exit at once, without
    waiting for reconciles in flight (their writes are refused anyway) and without cleanup:
    the pod restarts and waits as a standby."""
    log.error("leadership lost: exiting with status %d", LOST_LEASE_EXIT)
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(OSError, ValueError):  # (a closed or broken stream)
            stream.flush()
    os._exit(LOST_LEASE_EXIT)


@kopf.on.cleanup()
def stop(**_: Any) -> None:
    # The elector first: it closes the write gate and then releases the Lease, so a standby
    # takes over without waiting for the reconciles in flight here to end.
    if _elector is not None:
        _elector.stop()
    if _discovery is not None:
        _discovery.stop()
    if _controller is not None:
        _controller.stop()
