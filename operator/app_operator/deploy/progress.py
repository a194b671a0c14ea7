"""What each App waits for, one line per App, from its status alone (pure: no client).

The line says what the operator says: the Stalled or Ready condition's reason and message,
for the App's current generation. On a terminal the lines are redrawn in place; elsewhere
(a CI log, a pipe) a line is printed each time an App's state changes, so that a log reads
as a history and never holds escape codes.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, TextIO

READY, DONE, WAITING, STALLED, MISSING = "ready", "done", "waiting", "stalled", "missing"
# The Ready reason of run-once work (a migration, a one-shot service) that ran to success.
COMPLETED = "Completed"
NO_STATUS = "waiting for the operator: no status yet"
# An operator that runs writes a first status within a second or two; after this long
# without one, the line asks whether it runs at all.
NO_OPERATOR_AFTER = 10.0
NO_OPERATOR = ("no status yet: is the operator running, and watching this namespace? "
               "(`kubectl get deploy -A -l app.kubernetes.io/name=app-operator`)")


@dataclass(frozen=True)
class AppState:
    name: str
    word: str
    """ready, done (run-once work completed), waiting, stalled or missing."""
    detail: str
    """What it waits for, or the Ready message."""
    url: str | None = None

    @property
    def ready(self) -> bool:
        return self.word in (READY, DONE)


def _conditions(status: Mapping[str, Any]) -> dict[str, Mapping[str, Any]]:
    return {str(c.get("type")): c for c in status.get("conditions") or []
            if isinstance(c, Mapping)}


def _said(condition: Mapping[str, Any]) -> str:
    reason, message = condition.get("reason") or "", condition.get("message") or ""
    return f"{reason}: {message}" if reason and message else str(reason or message)


def app_state(name: str, app: Mapping[str, Any] | None, waited: float = 0.0) -> AppState:
    """An App's state for the display. Ready counts only when the status describes the
    App's current generation (kstatus): a status written for the previous spec says nothing
    of the one just applied."""
    if app is None:
        return AppState(name, MISSING, "the App is gone (deleted meanwhile?)")
    status = app.get("status") or {}
    conditions = _conditions(status)
    if not conditions:
        return AppState(name, WAITING, NO_OPERATOR if waited >= NO_OPERATOR_AFTER else NO_STATUS)
    generation = (app.get("metadata") or {}).get("generation")
    observed = status.get("observedGeneration")
    if isinstance(generation, int) and (not isinstance(observed, int) or observed < generation):
        return AppState(name, WAITING, f"the operator has not reconciled generation "
                        f"{generation} yet (its status is of generation {observed})")
    ready = conditions.get("Ready") or {}
    url = status.get("url") if isinstance(status.get("url"), str) else None
    if ready.get("status") == "True":
        return AppState(name, DONE if ready.get("reason") == COMPLETED else READY, _said(ready),
                        url)
    stalled = conditions.get("Stalled") or {}
    if stalled.get("status") == "True":
        return AppState(name, STALLED, _said(stalled))
    said = _said(ready) or _said(conditions.get("Reconciling") or {})
    return AppState(name, WAITING, said or "Ready is not True yet")


def render_lines(states: list[AppState]) -> list[str]:
    """`name  word  detail`, names and words in columns."""
    width = max((len(s.name) for s in states), default=0)
    return [f"{s.name:<{width}}  {s.word:<7}  {s.detail}".rstrip() for s in states]


class Display:
    """Shows the states: redrawn in place on a terminal, else a line per change."""

    def __init__(self, stream: TextIO, tty: bool | None = None,
                 columns: Callable[[], int] | None = None) -> None:
        self.stream = stream
        self.tty = stream.isatty() if tty is None else tty
        self.columns = columns or _terminal_columns
        self._drawn = 0
        self._last: dict[str, str] = {}

    def show(self, states: list[AppState]) -> None:
        lines = render_lines(states)
        if self.tty:
            # Cut to the width: a line that wraps takes two rows, and the redraw would then
            # go up one row too few.
            width = max(self.columns() - 1, 20)
            text = f"\x1b[{self._drawn}F" if self._drawn else ""
            text += "".join(f"\x1b[2K{line[:width]}\n" for line in lines)
            self._drawn = len(lines)
            self.stream.write(text)
        else:
            for state, line in zip(states, lines, strict=True):
                if self._last.get(state.name) != line:
                    self._last[state.name] = line
                    self.stream.write(line + "\n")
        self.stream.flush()


def _terminal_columns() -> int:
    import shutil

    return shutil.get_terminal_size().columns


def wait_until_ready(poll: Callable[[], Mapping[str, Mapping[str, Any] | None]],
                     names: list[str], display: Display, timeout: float,
                     clock: Callable[[], float] = time.monotonic,
                     sleep: Callable[[float], None] = time.sleep,
                     interval: float = 1.0) -> list[AppState]:
    """Poll the Apps and show their states until all are Ready or `timeout` seconds have
    passed; the last states either way. A poll is an App list (one request), once a
    second: what a person watching needs, and nothing for the API server."""
    start = clock()
    deadline = start + timeout
    while True:
        apps = poll()
        states = [app_state(name, apps.get(name), clock() - start) for name in names]
        display.show(states)
        left = deadline - clock()
        if all(state.ready for state in states) or left <= 0:
            return states
        sleep(min(interval, left))
