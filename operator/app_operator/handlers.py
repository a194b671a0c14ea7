"""kopf registrations: thin, they only pass events on to the Controller.

kopf watches the Apps. The children (Deployments, Services, claims) are watched by the
operator's own informers (cache.py), which also serve the reconciler's reads.

No handler here makes kopf write to an App: no finalizers (deleting an App must work while
the operator is down), no diff-base annotations, no progress in status, no kopf events.
`kopf run -m app_operator.handlers` works as well as `app-operator run`.
"""

from __future__ import annotations

import logging
import os
from typing import Any

import kopf

from app_operator import model, render
from app_operator.cache import Children
from app_operator.controller import Controller
from app_operator.kube import Kube, load_client
from app_operator.reconcile import Reconciler

log = logging.getLogger(__name__)
_controller: Controller | None = None


def controller() -> Controller:
    if _controller is None:
        raise RuntimeError("the operator has not started")
    return _controller


def watched_namespaces() -> list[str | None]:
    """$APP_OPERATOR_NAMESPACES (comma-separated, set by `app-operator run -n`), else all."""
    names: list[str | None] = [
        n for n in os.environ.get("APP_OPERATOR_NAMESPACES", "").split(",") if n]
    return names or [None]


@kopf.on.startup()
def start(settings: kopf.OperatorSettings, **_: Any) -> None:
    global _controller
    settings.posting.enabled = False
    settings.scanning.disabled = True
    settings.watching.server_timeout = 600
    settings.watching.client_timeout = 660
    workers = int(os.environ.get("APP_OPERATOR_WORKERS", "8"))
    resync = float(os.environ.get("APP_OPERATOR_RESYNC_SECONDS", "300"))
    namespaces = watched_namespaces()
    informers = len(render.CHILD_KINDS) * len(namespaces)
    # One connection per worker, per informer's watch, and one for events.
    kube = Kube(load_client(pool_size=workers + informers + 1))
    children = Children(kube, render.CHILD_KINDS, render.CHILDREN_SELECTOR, render.INSTANCE_LABEL,
                        namespaces, fetch=lambda kind, namespace, name: kube.get(
                            kind, namespace, name, cached=True))
    _controller = Controller(Reconciler(kube, children), workers=workers,
                             resync_seconds=resync)
    _controller.start()
    log.info("app-operator started: %d workers, resync every %.0fs, %s", workers, resync,
             "all namespaces" if namespaces == [None] else "namespaces " + ", ".join(
                 n for n in namespaces if n))


@kopf.on.cleanup()
def stop(**_: Any) -> None:
    if _controller is not None:
        _controller.stop()


@kopf.on.event(model.GROUP, model.VERSION, model.PLURAL)
async def app_event(event: kopf.RawEvent, **_: Any) -> None:
    controller().on_app_event(event.get("type"), dict(event["object"]))
