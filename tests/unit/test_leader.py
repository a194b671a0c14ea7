"""Leader election against a fake Lease API: one leader, takeover on death and on release."""

from __future__ import annotations

import copy
import threading
import time
from typing import Any, ClassVar, cast

import pytest

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
    assert dead._try(time.monotonic() + 5) == "held"  # it held the Lease once, then died
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


# Failing closed (issue 21, item 3).


class Hanging:
    """A view of the LeaseApi whose requests can hang, as a request to an API server that
    stopped answering does: each waits until the client's timeout (`timeout`, which the
    elector sets), then fails. `frozen` hangs regardless of any timeout (a thread that does
    not run: the process stopped, or a request nothing bounds)."""

    def __init__(self, api: LeaseApi) -> None:
        self.api = api
        self.timeout = 30.0  # the Kube default: what a request waits when nobody bounds it
        self.hang = threading.Event()
        self.frozen = threading.Event()
        self.thaw = threading.Event()
        self.timeouts: list[float] = []

    def request(self, method: str, path: str, **kwargs: Any) -> Any:
        if self.frozen.is_set():
            self.thaw.wait(30)
        if self.hang.is_set():
            self.timeouts.append(self.timeout)
            time.sleep(self.timeout)
            raise KubeError(0, "ReadTimeoutError", f"read timed out after {self.timeout}s")
        return self.api.request(method, path, **kwargs)


def fail_closed_elector(view: Any, identity: str = "one") -> LeaderElector:
    return LeaderElector(cast(Kube, view), "ops", "app-operator", identity,
                         lease_duration=1.5, renew_deadline=1.0, retry_period=0.2)


def test_a_renew_that_hangs_ends_leadership_within_the_renew_deadline() -> None:
    view = Hanging(LeaseApi())
    leader = fail_closed_elector(view)
    events: list[str] = []
    start(leader, events)
    wait_until(lambda: events == ["one leads"])
    view.hang.set()
    hung = time.monotonic()
    wait_until(lambda: events == ["one leads", "one lost"], timeout=leader.renew_deadline + 1)
    assert time.monotonic() - hung < leader.renew_deadline + 0.5
    assert view.timeouts and max(view.timeouts) <= leader.renew_deadline
    assert not leader.leading.is_set() and not leader.is_leader()


def test_writes_stop_at_the_deadline_even_while_the_election_thread_is_stuck() -> None:
    """The gate asks the clock: a renewal that does not come back closes it at the deadline,
    whatever the election thread is doing."""
    view = Hanging(LeaseApi())
    leader = fail_closed_elector(view)
    events: list[str] = []
    start(leader, events)
    wait_until(lambda: events == ["one leads"])
    assert leader.is_leader()
    view.frozen.set()
    frozen = time.monotonic()
    wait_until(lambda: not leader.is_leader(), timeout=leader.renew_deadline + 1)
    assert time.monotonic() - frozen < leader.renew_deadline + 0.5
    assert events == ["one leads"]  # the thread is still stuck in its request
    view.frozen.clear()
    view.thaw.set()
    wait_until(lambda: events == ["one leads", "one lost"])


class Exploding:
    """A view of the LeaseApi that raises an error nobody foresaw once `explode` is set."""

    def __init__(self, api: LeaseApi) -> None:
        self.api = api
        self.explode = False

    def request(self, method: str, path: str, **kwargs: Any) -> Any:
        if self.explode:
            raise RuntimeError("an error nobody foresaw")
        return self.api.request(method, path, **kwargs)


def test_an_unexpected_error_ends_leadership_and_calls_the_exit_path() -> None:
    view = Exploding(LeaseApi())
    leader = elector(view, "one")
    events: list[str] = []
    thread = start(leader, events)
    wait_until(lambda: events == ["one leads"])
    view.explode = True
    wait_until(lambda: events == ["one leads", "one lost"])
    assert not leader.is_leader() and not leader.leading.is_set()
    thread.join(timeout=5)
    assert not thread.is_alive()


def test_an_unexpected_error_while_waiting_to_lead_calls_the_exit_path() -> None:
    """A standby whose election thread died would never take over: it exits instead, and
    comes back (its pod restarts)."""
    view = Exploding(LeaseApi())
    view.explode = True
    standby = elector(view, "two")
    events: list[str] = []
    start(standby, events)
    wait_until(lambda: events == ["two lost"])
    assert not standby.is_leader()


def test_a_lease_taken_by_another_ends_leadership_at_once() -> None:
    api = LeaseApi()
    leader = fail_closed_elector(api)
    events: list[str] = []
    start(leader, events)
    wait_until(lambda: events == ["one leads"])
    with api.lock:  # someone else wrote the Lease (by hand, or a standby whose clock raced)
        assert api.lease is not None
        api.lease["spec"]["holderIdentity"] = "intruder"
        api.version += 1
        api.lease["metadata"]["resourceVersion"] = str(api.version)
    wait_until(lambda: events == ["one leads", "one lost"], timeout=leader.retry_period + 1)
    assert not leader.is_leader()
    assert api.holder() == "intruder"


class Recorded(Kube):
    """A real Kube whose requests are recorded instead of sent."""

    def __init__(self) -> None:
        super().__init__(cast(Any, None))
        self.sent: list[str] = []

    def _send(self, method: str, path: str, query: Any, body: Any, content_type: str,
              timeout: Any) -> Any:
        self.sent.append(method)

        class Answer:
            status = 200
            headers: ClassVar[dict[str, str]] = {}

            def read(self) -> bytes:
                return b"{}"
        return Answer()


def test_writes_are_refused_once_leadership_is_lost() -> None:
    api = LeaseApi()
    leader = fail_closed_elector(api)
    kube = Recorded()
    kube.may_write = leader.is_leader
    events: list[str] = []
    with pytest.raises(KubeError, match="NotLeader"):
        kube.request("PATCH", "/x")  # not leading yet
    start(leader, events)
    wait_until(lambda: events == ["one leads"])
    kube.request("PATCH", "/x")
    api.down = True
    wait_until(lambda: events == ["one leads", "one lost"])
    with pytest.raises(KubeError, match="NotLeader"):
        kube.request("PATCH", "/x")
    with pytest.raises(KubeError, match="NotLeader"):
        kube.request("DELETE", "/x")
    kube.request("GET", "/x")  # reads are not writes
    assert kube.sent == ["PATCH", "GET"]


def test_stopping_closes_the_gate_before_the_lease_is_released() -> None:
    api = LeaseApi()
    leader = fail_closed_elector(api)
    events: list[str] = []
    start(leader, events)
    wait_until(lambda: events == ["one leads"])
    seen_while_releasing: list[bool] = []
    original = api.request

    def watching(method: str, path: str, **kwargs: Any) -> Any:
        if method == "PUT" and kwargs["body"]["spec"]["holderIdentity"] is None:
            seen_while_releasing.append(leader.is_leader())
        return original(method, path, **kwargs)
    api.request = watching  # type: ignore[method-assign]
    leader.stop()
    assert seen_while_releasing == [False]
    assert api.holder() is None
    assert events == ["one leads"]  # stopped on purpose: no exit


def test_timings_that_cannot_fail_closed_are_refused() -> None:
    with pytest.raises(ValueError, match="renew deadline"):
        LeaderElector(cast(Kube, LeaseApi()), "ops", "x", "one", lease_duration=10,
                      renew_deadline=10, retry_period=2)


def test_a_lost_lease_exits_at_once_with_a_failure_status(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """No waiting for the reconciles in flight (their writes are refused anyway), no
    graceful stop that a kill would end with status 0: exit 1, as controller-runtime does."""
    from app_operator.runtime import handlers

    calls: list[Any] = []

    class InFlight:
        def stop(self) -> None:
            calls.append("waited for the reconciles in flight")

    monkeypatch.setattr(handlers, "_controller", InFlight())
    monkeypatch.setattr(handlers.os, "_exit", lambda status: calls.append(("exit", status)))
    monkeypatch.setattr(handlers.os, "kill", lambda pid, sig: calls.append(("kill", sig)))
    handlers._lost()
    assert calls == [("exit", 1)]


def test_the_lease_timings_are_flags_and_reach_the_elector_through_kopfs_settings(
        monkeypatch: pytest.MonkeyPatch) -> None:
    from app_operator import cli
    from app_operator.runtime.handlers import Settings, options_of

    given: list[Any] = []
    monkeypatch.setattr(cli.kopf, "configure", lambda **_: None)  # (the process's logging)
    monkeypatch.setattr(cli.kopf, "run", lambda **kwargs: given.append(kwargs["settings"]))
    assert cli.main(["run", "--leader-elect", "--leader-election-namespace", "ops",
                     "--leader-elect-lease-duration", "6", "--leader-elect-renew-deadline",
                     "4", "--leader-elect-retry-period", "0.5", "-n", "a", "-n", "b"]) == 0
    [settings] = given
    assert isinstance(settings, Settings)
    options = options_of(settings)
    assert (options.lease_duration, options.renew_deadline, options.retry_period) == (6, 4, 0.5)
    assert options.leader_election_namespace == "ops" and options.namespaces == ["a", "b"]
    given.clear()
    assert cli.main(["run"]) == 0
    defaults = options_of(given[0])
    assert defaults.leader_election_namespace is None  # no --leader-elect: no election
    assert (defaults.lease_duration, defaults.renew_deadline, defaults.retry_period) == (
        15, 10, 2)  # the Kubernetes defaults


def test_lease_timings_that_cannot_fail_closed_are_refused_by_the_command(
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    from app_operator import cli

    monkeypatch.setattr(cli.kopf, "run", lambda **_: pytest.fail("kopf.run was called"))
    assert cli.main(["run", "--leader-elect", "--leader-elect-renew-deadline", "20"]) == 2
    assert "--leader-elect-renew-deadline < --leader-elect-lease-duration" in (
        capsys.readouterr().err)
