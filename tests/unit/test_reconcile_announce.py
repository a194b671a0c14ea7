"""What a status change tells people: the log and the App's events."""

import logging
from typing import Any, cast

import pytest

from app_operator.core.render import AppRef
from app_operator.runtime.cache import Children
from app_operator.runtime.kube import Kube
from app_operator.runtime.reconcile import Reconciler


def ready(value: str, reason: str, message: str) -> dict[str, Any]:
    return {"conditions": [{"type": "Ready", "status": value, "reason": reason,
                            "message": message}]}


AVAILABLE = ready("True", "Available", "1 of 1 replicas available")
LOST = ready("False", "VolumesPending", "waiting for claims to be bound: flask-data (Lost)")


def announce(app: AppRef, caplog: pytest.LogCaptureFixture, before: dict[str, Any],
             after: dict[str, Any]) -> tuple[list[str], list[tuple[str, str, str]]]:
    reconciler = Reconciler(cast(Kube, None), cast(Children, None))
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="app_operator.reconcile"):
        events = reconciler._announce(app, before, after)
    return [r.getMessage() for r in caplog.records], events


def test_becoming_ready_is_logged_and_an_event(app: AppRef,
                                              caplog: pytest.LogCaptureFixture) -> None:
    logs, events = announce(app, caplog, LOST, AVAILABLE)
    assert logs == ["demo/flask: ready: 1 of 1 replicas available"]
    assert events == [("Normal", "Ready", "1 of 1 replicas available")]


def test_losing_ready_is_logged_with_the_reason(app: AppRef,
                                               caplog: pytest.LogCaptureFixture) -> None:
    logs, events = announce(app, caplog, AVAILABLE, LOST)
    assert logs == ["demo/flask: no longer ready (VolumesPending): waiting for claims to be "
                    "bound: flask-data (Lost)"]
    assert events == []


def test_staying_unready_or_ready_says_nothing_new(app: AppRef,
                                                  caplog: pytest.LogCaptureFixture) -> None:
    rolling = ready("False", "RollingOut", "0 of 1 pods are available")
    assert announce(app, caplog, rolling, LOST) == ([], [])
    assert announce(app, caplog, {}, LOST) == ([], [])
    logs, _ = announce(app, caplog, AVAILABLE, ready("True", "ScaledToZero", "scaled to 0"))
    assert logs == ["demo/flask: ready: scaled to 0"]
