"""What the liveness and readiness probes say, and why.

Liveness (kopf's endpoint, `--liveness URL`, answered by the probe handler in handlers.py):
the process is alive when its threads do their work. It fails when a worker or informer
thread is dead or stuck, or a reconcile runs past its limit (the controller judges those:
`Controller.liveness_problems()`), or the leader election thread is dead or has not tried the
Lease for longer than it ever should. A kubelet then restarts the pod: a thread that died
would otherwise leave a replica that looks up and does nothing.

Readiness (`/readyz` beside `/metrics`): the leader (or the only replica) is ready once its
caches are synced (`Controller.readiness_problems()`). A standby is ready too, and says so
with who leads: it is what a rollout waits for and what the PodDisruptionBudget counts, and a
standby that never became ready would stop every rollout.

Both answers name this replica's role (`leader`, `standby`, or `single` without
`--leader-elect`), its identity and the Lease's holder, so `curl` on either tells who leads.
"""

from __future__ import annotations

import threading
import time
from typing import Any, Protocol

from app_operator.runtime.leader import LeaderElector


class ControllerHealth(Protocol):
    """What the controller says of itself: empty lists mean healthy."""

    def liveness_problems(self) -> list[str]: ...

    def readiness_problems(self) -> list[str]: ...


class Health:
    def __init__(self, controller: ControllerHealth, elector: LeaderElector | None = None,
                 election: threading.Thread | None = None) -> None:
        self.controller = controller
        self.elector = elector
        self.election = election  # the thread that runs elector.run
        # Set once the controller's threads are started: before, there is nothing of it to
        # judge (a standby never starts them).
        self.started = threading.Event()

    def role(self) -> dict[str, Any]:
        if self.elector is None:
            return {"role": "single"}
        return {"role": "leader" if self.elector.is_leader() else "standby",
                "identity": self.elector.identity, "leader": self.elector.holder()}

    def liveness_problems(self) -> list[str]:
        problems: list[str] = []
        elector = self.elector
        if elector is not None and self.election is not None:
            if not self.election.is_alive():
                problems.append("the leader election thread is dead")
            else:
                # An attempt comes every retry period, each bounded by the renew deadline.
                limit = elector.renew_deadline + 2 * elector.retry_period
                quiet = time.monotonic() - elector.last_attempt
                if quiet > limit:
                    problems.append(f"the leader election thread is stuck: no attempt on "
                                    f"the Lease for {quiet:.0f}s")
        if self.started.is_set():
            problems += self.controller.liveness_problems()
        return problems

    def readiness_problems(self) -> list[str]:
        if self.elector is not None and not self.elector.is_leader():
            return []  # a standby: ready to take over, and says who leads
        if not self.started.is_set():
            return ["the controller is starting"]
        return self.controller.readiness_problems()

    def liveness(self) -> tuple[bool, dict[str, Any]]:
        problems = self.liveness_problems()
        return not problems, {**self.role(), "problems": problems}

    def readiness(self) -> tuple[bool, dict[str, Any]]:
        problems = self.readiness_problems()
        return not problems, {**self.role(), "problems": problems}
