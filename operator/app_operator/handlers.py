"""kopf registrations: thin, they only pass events on to the Controller.

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
from app_operator.controller import Controller
from app_operator.kube import Kube, load_client
from app_operator.reconcile import Reconciler

CHILD_SELECTOR = f"{render.MANAGED_BY_LABEL}={render.MANAGED_BY}"
# kopf's resource selectors: (group, version, plural); "" is the core group.
CHILD_RESOURCES: tuple[tuple[str, str, str], ...] = (
    ("apps", "v1", "deployments"), ("", "v1", "services"), ("", "v1", "persistentvolumeclaims"))
log = logging.getLogger(__name__)
_controller: Controller | None = None


def controller() -> Controller:
    if _controller is None:
        raise RuntimeError("the operator has not started")
    return _controller


@kopf.on.startup()
def start(settings: kopf.OperatorSettings, **_: Any) -> None:
    global _controller
    settings.posting.enabled = False
    settings.scanning.disabled = True
    settings.watching.server_timeout = 600
    settings.watching.client_timeout = 660
    for resource in CHILD_RESOURCES:
        # Watch only the children, not every Deployment, Service and claim of the cluster.
        settings.watching.label_selectors[resource] = CHILD_SELECTOR
    workers = int(os.environ.get("APP_OPERATOR_WORKERS", "8"))
    resync = float(os.environ.get("APP_OPERATOR_RESYNC_SECONDS", "300"))
    kube = Kube(load_client(pool_size=workers + 2))
    _controller = Controller(Reconciler(kube), workers=workers, resync_seconds=resync)
    _controller.start()
    log.info("app-operator started: %d workers, resync every %.0fs", workers, resync)


@kopf.on.cleanup()
def stop(**_: Any) -> None:
    if _controller is not None:
        _controller.stop()


@kopf.on.event(model.GROUP, model.VERSION, model.PLURAL)
async def app_event(event: kopf.RawEvent, **_: Any) -> None:
    controller().on_app_event(event.get("type"), dict(event["object"]))


def _on_child(event: kopf.RawEvent, **_: Any) -> None:
    controller().on_child_event(dict(event["object"]))


for _resource in CHILD_RESOURCES:
    kopf.on.event(*_resource, labels={render.MANAGED_BY_LABEL: render.MANAGED_BY},
                  id=f"child-{_resource[-1]}")(_on_child)
