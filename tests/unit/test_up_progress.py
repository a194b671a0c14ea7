"""`app-operator up`'s progress display: what each App waits for, from its status alone."""

from __future__ import annotations

import io
from typing import Any

from app_operator.deploy import progress
from app_operator.deploy.progress import AppState, Display, app_state, wait_until_ready


def app(name: str = "web", generation: int = 1, **status: Any) -> dict[str, Any]:
    return {"metadata": {"name": name, "generation": generation}, "status": status}


def condition(kind: str, value: str, reason: str, message: str) -> dict[str, str]:
    return {"type": kind, "status": value, "reason": reason, "message": message}


READY = [condition("Ready", "True", "Available", "1 of 1 replicas available"),
         condition("Stalled", "False", "Available", "")]
PULLING = [condition("Ready", "False", "ImagePullBackOff", "cannot pull image shop/web:v1"),
           condition("Stalled", "False", "ImagePullBackOff", "")]
STALLED = [condition("Ready", "False", "InvalidSpec", "port 80 twice"),
           condition("Stalled", "True", "InvalidSpec", "port 80 twice")]


def test_the_line_says_what_the_status_says() -> None:
    assert app_state("web", app(observedGeneration=1, conditions=PULLING)) == AppState(
        "web", "waiting", "ImagePullBackOff: cannot pull image shop/web:v1")
    assert app_state("web", app(observedGeneration=1, conditions=STALLED)) == AppState(
        "web", "stalled", "InvalidSpec: port 80 twice")
    ready = app_state("web", app(observedGeneration=1, conditions=READY,
                                 url="http://web.demo.svc:8080"))
    assert ready.ready and ready.url == "http://web.demo.svc:8080"
    assert ready.detail == "Available: 1 of 1 replicas available"


def test_run_once_work_that_completed_is_done() -> None:
    completed = [condition("Ready", "True", "Completed", "completed: its pod ran to success")]
    state = app_state("migrate", app(observedGeneration=1, conditions=completed))
    assert (state.word, state.ready) == ("done", True)


def test_a_ready_status_of_the_previous_generation_is_not_ready() -> None:
    """kstatus: a status written for the spec before this `up` says nothing of the new one."""
    state = app_state("web", app(generation=2, observedGeneration=1, conditions=READY))
    assert state.word == "waiting" and not state.ready
    assert "generation 2" in state.detail


def test_no_status_asks_whether_the_operator_runs_only_after_a_while() -> None:
    assert app_state("web", app(), waited=1.0).detail == progress.NO_STATUS
    late = app_state("web", app(), waited=progress.NO_OPERATOR_AFTER)
    assert "is the operator running" in late.detail and not late.ready
    assert app_state("web", None).word == "missing"


def states(*words: str) -> list[AppState]:
    return [AppState(name, word, f"{name} is {word}")
            for name, word in zip(("web", "postgres"), words, strict=False)]


def test_not_a_terminal_a_line_per_change_and_no_escape_codes() -> None:
    out = io.StringIO()
    display = Display(out, tty=False)
    display.show(states("waiting", "waiting"))
    display.show(states("waiting", "waiting"))  # nothing changed: nothing printed
    display.show(states("ready", "waiting"))
    assert out.getvalue().splitlines() == [
        "web       waiting  web is waiting",
        "postgres  waiting  postgres is waiting",
        "web       ready    web is ready",
    ]
    assert "\x1b" not in out.getvalue()


def test_on_a_terminal_the_lines_are_redrawn_in_place_and_cut_to_the_width() -> None:
    out = io.StringIO()
    display = Display(out, tty=True, columns=lambda: 30)
    display.show(states("waiting", "waiting"))
    first = out.getvalue()
    assert first == ("\x1b[2Kweb       waiting  web is wai\n"
                     "\x1b[2Kpostgres  waiting  postgres i\n")  # 29 columns
    display.show(states("ready", "waiting"))
    again = out.getvalue()[len(first):]
    assert again.startswith("\x1b[2F")  # back up the two lines drawn, then over them
    assert again.count("\x1b[2K") == 2 and "web       ready    web is rea\n" in again


class Clock:
    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


def test_waits_until_every_app_is_ready() -> None:
    clock = Clock()
    polls = iter([
        {"web": app(observedGeneration=1, conditions=PULLING), "postgres": app("postgres")},
        {"web": app(observedGeneration=1, conditions=READY),
         "postgres": app("postgres", observedGeneration=1, conditions=PULLING)},
        {"web": app(observedGeneration=1, conditions=READY),
         "postgres": app("postgres", observedGeneration=1, conditions=READY)},
    ])
    out = io.StringIO()
    final = wait_until_ready(lambda: next(polls), ["web", "postgres"], Display(out, tty=False),
                             timeout=60, clock=clock, sleep=clock.sleep)
    assert all(state.ready for state in final)
    assert len(clock.sleeps) == 2
    assert "postgres  waiting  waiting for the operator" in out.getvalue()


def test_gives_up_at_the_timeout_with_what_each_app_waits_for() -> None:
    clock = Clock()
    final = wait_until_ready(
        lambda: {"web": app(observedGeneration=1, conditions=PULLING)}, ["web"],
        Display(io.StringIO(), tty=False), timeout=2.5, clock=clock, sleep=clock.sleep)
    assert [s.word for s in final] == ["waiting"]
    assert clock.now == 2.5 and clock.sleeps == [1.0, 1.0, 0.5]  # never past the deadline
