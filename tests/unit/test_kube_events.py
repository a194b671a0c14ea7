"""Events aggregated as client-go's recorder does: the same event on the same App within a
window is one Event whose count and lastTimestamp grow."""

from __future__ import annotations

import logging
import time
from typing import Any

import pytest

from app_operator.runtime.kube import Kube, KubeError, RateLimiter

APP = {"metadata": {"name": "flask", "namespace": "demo", "uid": "u-1",
                    "resourceVersion": "5"}}
EVENTS = "/api/v1/namespaces/demo/events"


class Recorder(Kube):
    """A Kube whose requests are recorded; a POST makes an Event of a new name, a PATCH of a
    name in `expired` is answered 404 (the API server let the Event go)."""

    def __init__(self) -> None:
        super().__init__(api_client=None)  # type: ignore[arg-type]
        self.sent: list[tuple[str, str, Any]] = []
        self.expired: set[str] = set()
        self.forbidden = False
        self.terminating = False
        self.time = 1000.0
        self.clock = lambda: self.time

    def request(self, method: str, path: str, *, query: dict[str, Any] | None = None,
                body: Any = None, content_type: str = "application/json",
                limiter: RateLimiter | None = None) -> Any:
        (limiter or self.limiter).wait()
        self.sent.append((method, path, body))
        if method == "PATCH" and path.rsplit("/", 1)[-1] in self.expired:
            raise KubeError(404, "NotFound", "events not found")
        if method == "PATCH" and self.forbidden:
            raise KubeError(403, "Forbidden", "cannot patch resource events")
        if method == "POST" and self.terminating:
            raise KubeError(403, "Forbidden", 'events "flask." is forbidden: unable to create '
                            "new content in namespace demo because it is being terminated")
        if method == "POST":
            return {**body, "metadata": {**body["metadata"], "name": f"flask.{len(self.sent)}"}}
        return {}

    def post(self, reason: str = "ApiRefused", message: str = "refused") -> None:
        self.post_event(APP, "Warning", reason, message)
        self.flush_events()


def test_the_same_event_again_is_counted_on_the_first() -> None:
    kube = Recorder()
    for _ in range(3):
        kube.post()
    (post, *patches) = kube.sent
    assert post[:2] == ("POST", EVENTS) and post[2]["count"] == 1
    assert [(m, p, b["count"]) for m, p, b in patches] == [
        ("PATCH", f"{EVENTS}/flask.1", 2), ("PATCH", f"{EVENTS}/flask.1", 3)]
    assert all(set(b) == {"count", "lastTimestamp"} for _, _, b in patches)


def test_another_reason_message_or_app_is_an_event_of_its_own() -> None:
    kube = Recorder()
    kube.post()
    kube.post(message="refused again, otherwise")
    kube.post(reason="NameConflict")
    kube.post_event({"metadata": {**APP["metadata"], "uid": "u-2"}}, "Warning", "ApiRefused",
                    "refused")  # an App of the same name, made again
    kube.flush_events()
    assert [m for m, _, _ in kube.sent] == ["POST"] * 4


def test_after_the_window_or_once_the_event_expired_a_new_one_is_posted() -> None:
    kube = Recorder()
    kube.post()
    kube.time += kube.EVENT_WINDOW - 1
    kube.post()  # within the window of the last time
    kube.time += kube.EVENT_WINDOW - 1
    kube.post()
    kube.time += kube.EVENT_WINDOW
    kube.post()
    assert [m for m, _, _ in kube.sent] == ["POST", "PATCH", "PATCH", "POST"]
    kube.expired.add("flask.4")  # the name the fourth request, a POST, got
    kube.post()
    assert [m for m, _, _ in kube.sent][4:] == ["PATCH", "POST"]
    kube.post()  # counted on the new one
    assert kube.sent[-1][0] == "PATCH" and kube.sent[-1][1] == f"{EVENTS}/flask.6"


def test_an_operator_that_may_not_patch_events_posts_each_one() -> None:
    """Installed with an older ClusterRole (events: create only), no event is lost."""
    kube = Recorder()
    kube.forbidden = True
    kube.post()
    kube.post()
    assert [m for m, _, _ in kube.sent] == ["POST", "PATCH", "POST"]
    assert kube.events_dropped == 0


def test_events_do_not_take_the_reconciles_tokens() -> None:
    """The workers' bucket empty (one request every 100 s): an event and its count are
    still posted at once, from a bucket of their own of the same size; the workers' bucket
    is left as it was."""
    kube = Recorder()
    kube.limiter = RateLimiter(0.01, 1)
    kube.event_limiter = RateLimiter(0.01, 2)
    kube.limiter.wait()  # its one token taken
    start = time.monotonic()
    kube.post("ApiRefused", "refused")
    kube.post("ApiRefused", "refused")
    assert time.monotonic() - start < 5
    assert [method for method, _, _ in kube.sent] == ["POST", "PATCH"]
    assert kube.limiter._tokens < 1


def test_the_events_bucket_is_as_large_as_the_workers_by_default() -> None:
    kube = Kube(api_client=None, limiter=RateLimiter(30, 50))  # type: ignore[arg-type]
    assert (kube.event_limiter.qps, kube.event_limiter.burst) == (30, 50)
    assert kube.event_limiter is not kube.limiter


def test_an_event_in_a_namespace_being_deleted_is_dropped_quietly(
        caplog: pytest.LogCaptureFixture) -> None:
    # The App's namespace is being deleted while its last event waits in the queue: the 403
    # is the namespace's lifecycle, not a missing permission, and is no warning (the kind
    # tier's log check reads "Forbidden" as an RBAC problem).
    kube = Recorder()
    kube.terminating = True
    with caplog.at_level(logging.DEBUG, logger="app_operator"):
        kube.post()
    assert [m for m, _, _ in kube.sent] == ["POST"]
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING], caplog.text
    assert "namespace is being deleted" in caplog.text
    kube.terminating = False
    kube.post(reason="Other")  # the thread goes on posting
    assert [m for m, _, _ in kube.sent] == ["POST", "POST"]
