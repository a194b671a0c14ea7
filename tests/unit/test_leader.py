"""Leader election against a fake Lease API: one leader, takeover on death and on release."""

from __future__ import annotations

import copy
import threading
import time
from typing import Any, cast

from app_operator.runtime.kube import Kube, KubeError
from app_operator.runtime.leader import LeaderElector


class LeaseApi:
    """GET, POST and PUT of one Lease, with resourceVersion compare-and-swap."""

    def __init__(self) -> None:
        self.lease: dict[str, Any] | None = None
        self.version = 0
        self.lock = threading.Lock()
        self.down = False

    def request(self, method: str, path: str, *, body: Any = None, **_: Any) -> Any:
        with self.lock:
            if self.down:
                raise KubeError(0, "ConnectionRefused", "down")
            if method == "GET":
                if self.lease is None:
                    raise KubeError(404, "NotFound", "no lease")
                return copy.deepcopy(self.lease)
            if method == "POST":
                if self.lease is not None:
                    raise KubeError(409, "AlreadyExists", "exists")
                self.version += 1
                self.lease = {**copy.deepcopy(body), "metadata": {
                    **body["metadata"], "resourceVersion": str(self.version)}}
                return copy.deepcopy(self.lease)
            if method == "PUT":
                assert self.lease is not None
                if body["metadata"]["resourceVersion"] != self.lease["metadata"][
                        "resourceVersion"]:
                    raise KubeError(409, "Conflict", "modified")
                self.version += 1
                self.lease = copy.deepcopy(body)
                self.lease["metadata"]["resourceVersion"] = str(self.version)
                return copy.deepcopy(self.lease)
        raise AssertionError(method)

    def holder(self) -> str | None:
        with self.lock:
            return (self.lease or {}).get("spec", {}).get("holderIdentity")


class Counted:
    """One candidate's view of the LeaseApi, counting its reads of the Lease."""

    def __init__(self, api: LeaseApi) -> None:
        self.api = api
        self.reads = 0

    def request(self, method: str, path: str, **kwargs: Any) -> Any:
        if method == "GET":
            self.reads += 1
        return self.api.request(method, path, **kwargs)


def elector(api: LeaseApi | Counted, identity: str) -> LeaderElector:
    return LeaderElector(cast(Kube, api), "ops", "app-operator", identity,
                         lease_duration=0.6, renew_deadline=0.4, retry_period=0.1)


def wait_until(check: Any, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


def start(candidate: LeaderElector, events: list[str]) -> threading.Thread:
    thread = threading.Thread(target=candidate.run, daemon=True, args=(
        lambda: events.append(f"{candidate.identity} leads"),
        lambda: events.append(f"{candidate.identity} lost")))
    thread.start()
    return thread


def test_one_leader_and_a_handover_on_release() -> None:
    api = LeaseApi()
    events: list[str] = []
    standby_view = Counted(api)
    one, two = elector(api, "one"), elector(standby_view, "two")
    start(one, events)
    wait_until(lambda: events == ["one leads"])
    start(two, events)
    # The standby has looked at the Lease 20 times, 0.1 s apart: over three lease durations,
    # and each time it found the Lease renewed, so it must not have taken it.
    wait_until(lambda: standby_view.reads >= 20)
    assert events == ["one leads"] and api.holder() == "one"
    one.stop()  # a rollout: the leader gives the Lease up
    wait_until(lambda: events == ["one leads", "two leads"])
    assert api.holder() == "two"
    assert api.lease is not None and api.lease["spec"]["leaseTransitions"] == 1
    two.stop()


def test_a_standby_takes_over_when_the_leader_stops_renewing() -> None:
    api = LeaseApi()
    events: list[str] = []
    dead = elector(api, "dead")
    assert dead._try()  # it held the Lease once, then died without a word
    standby = elector(api, "standby")
    started = time.monotonic()
    start(standby, events)
    wait_until(lambda: events == ["standby leads"])
    assert time.monotonic() - started >= standby.lease_duration
    standby.stop()


def test_a_leader_that_cannot_renew_stops_leading() -> None:
    api = LeaseApi()
    events: list[str] = []
    leader = elector(api, "one")
    start(leader, events)
    wait_until(lambda: events == ["one leads"])
    api.down = True  # cut off from the API server
    wait_until(lambda: events == ["one leads", "one lost"])
    assert not leader.leading.is_set()
