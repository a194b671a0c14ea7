"""Whether the cluster serves the Gateway API: HTTPRoutes are made and watched only if it
does, and the CRDs may be installed after the operator started.

API discovery (`GET /apis/gateway.networking.k8s.io/v1`) answers it: every authenticated
client may read it (the `system:discovery` ClusterRole), so the operator needs no right on
CustomResourceDefinitions. It is asked once at the start, before the first reconcile, so
that an App naming a Gateway is never first given something else; while the answer is no,
it is asked again every POLL_SECONDS by a thread of its own, which survives any error, and
the first yes calls `on_found` (which starts the HTTPRoute informers and looks at every App
again). CRDs removed later are not followed: the HTTPRoute informer then fails and says so
in the log and in the liveness check, as for any kind the API server stops serving.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Protocol

from app_operator.core import model

log = logging.getLogger("app_operator.discovery")
GATEWAY_API_VERSION = f"{model.GATEWAY_GROUP}/v1"


class Discovers(Protocol):
    def serves(self, group_version: str, plural: str) -> bool: ...


class GatewayApiDiscovery:
    POLL_SECONDS = 30.0

    def __init__(self, kube: Discovers, on_found: Callable[[], None],
                 poll_seconds: float = POLL_SECONDS) -> None:
        self.kube = kube
        self.on_found = on_found
        self.poll_seconds = poll_seconds
        self.found = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._said_error = False

    def check(self) -> bool:
        """Ask once; an error counts as no (said once in the log), and is asked again."""
        try:
            served = self.kube.serves(GATEWAY_API_VERSION, "httproutes")
        except Exception as error:  # the poll must outlive any error
            if not self._said_error:
                log.warning("could not tell whether the Gateway API is installed (%s); "
                            "asking again every %.0fs", error, self.poll_seconds)
                self._said_error = True
            return False
        if served:
            self.found.set()
        return served

    def start(self) -> None:
        """Poll until the Gateway API is found (nothing to do if it was at the start)."""
        if self.found.is_set():
            return
        self._thread = threading.Thread(target=self._run, name="gateway-api-discovery",
                                        daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()

    def _run(self) -> None:
        while not self._stop.wait(self.poll_seconds):
            if not self.check():
                continue
            log.info("the Gateway API (%s) is installed now: watching HTTPRoutes",
                     GATEWAY_API_VERSION)
            try:
                self.on_found()
            except Exception:
                log.exception("could not start watching HTTPRoutes")
                self.found.clear()
                continue
            return
