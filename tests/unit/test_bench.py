"""The benchmark's own bookkeeping (bench/run.py): what it waits for and what it counts."""

from __future__ import annotations

import datetime as dt
import importlib.util
import itertools
import json
import sys
import threading
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
_spec = importlib.util.spec_from_file_location("bench_run", ROOT / "bench" / "run.py")
assert _spec is not None and _spec.loader is not None
bench = importlib.util.module_from_spec(_spec)
sys.modules[_spec.name] = bench  # its dataclasses look their module up
_spec.loader.exec_module(bench)


VERSIONS = itertools.count(1)


def app(name: str, generation: int, observed: int | None) -> dict[str, Any]:
    status = {} if observed is None else {"observedGeneration": observed}
    return {"metadata": {"name": name, "namespace": "bench-x", "generation": generation,
                         "resourceVersion": str(next(VERSIONS))}, "status": status}


def child(name: str) -> dict[str, Any]:
    return {"metadata": {"name": name, "namespace": "bench-x",
                         "resourceVersion": str(next(VERSIONS))}}


class NoCluster:
    """The informers' source in tests that feed their stores by hand."""

    def list_all(self, *_: Any, **__: Any) -> Any:
        raise AssertionError("no cluster here")

    def watch(self, *_: Any) -> Any:
        raise AssertionError("no cluster here")


def progress() -> Any:
    return bench.Progress("bench-x", NoCluster())


def seen(progress: Any, kind: str, event: str, obj: dict[str, Any]) -> None:
    """What an informer does with a watch event."""
    store = progress.informers[kind].store
    if event == "DELETED":
        store.remove(obj)
    else:
        store.upsert(obj)
    progress._wake(obj)


def with_children(progress: Any, names: list[str]) -> None:
    for kind in progress.CHILDREN:
        for name in names:
            seen(progress, kind, "ADDED", child(name))


def test_converged_needs_every_app_observed_and_every_child() -> None:
    tracked = progress()
    seen(tracked, bench.KIND, "ADDED", app("a", 1, None))
    assert not tracked.converged(2)
    seen(tracked, bench.KIND, "ADDED", app("b", 1, None))
    with_children(tracked, ["a", "b"])
    assert not tracked.converged(2)  # no status yet
    seen(tracked, bench.KIND, "MODIFIED", app("a", 1, 1))
    seen(tracked, bench.KIND, "MODIFIED", app("b", 1, 1))
    assert tracked.converged(2)
    seen(tracked, "Service", "DELETED", child("b"))
    assert not tracked.converged(2)


def test_converged_after_a_change_needs_the_new_generation() -> None:
    tracked = progress()
    for name in ("a", "b"):
        seen(tracked, bench.KIND, "ADDED", app(name, 1, 1))
    with_children(tracked, ["a", "b"])
    wanted = {"a": 2}
    # The watch has not shown the patch yet: generation 1, observed 1 is not enough.
    assert not tracked.converged(2, wanted)
    seen(tracked, bench.KIND, "MODIFIED", app("a", 2, 1))
    assert not tracked.converged(2, wanted)
    seen(tracked, bench.KIND, "MODIFIED", app("a", 2, 2))
    assert tracked.converged(2, wanted)


def test_wait_wakes_on_an_event_and_times_out_without_one() -> None:
    tracked = progress()
    with_children(tracked, ["a"])
    timer = threading.Timer(0.1, lambda: seen(tracked, bench.KIND, "ADDED", app("a", 1, 1)))
    timer.start()
    assert tracked.wait("a", lambda: tracked.converged(1), 10) < 5
    timer.join()
    with pytest.raises(TimeoutError, match="b not reached"):
        tracked.wait("b", lambda: tracked.converged(2), 0.2)


def test_counts_only_the_operator_and_only_the_benchmark_namespaces(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def entry(verb: str, resource: str, namespace: str | None = "bench-op-1",
              user: str = bench.OPERATOR_ACCOUNT, subresource: str = "",
              stage: str = "ResponseComplete") -> dict[str, Any]:
        ref: dict[str, Any] = {"resource": resource, "subresource": subresource}
        if namespace is not None:
            ref["namespace"] = namespace
        return {"stage": stage, "verb": verb, "user": {"username": user}, "objectRef": ref}

    entries = [
        entry("patch", "deployments"), entry("patch", "services"),
        entry("patch", "apps", subresource="status"), entry("create", "events"),
        entry("get", "persistentvolumeclaims"), entry("watch", "deployments", namespace=None),
        entry("patch", "deployments", namespace="t-earlier-test"),  # another test's
        entry("patch", "deployments", user="system:admin"),  # not the operator
        entry("patch", "deployments", stage="RequestReceived"),  # the same request twice
    ]
    log = tmp_path / "audit.log"
    log.write_text("".join(json.dumps(e) + "\n" for e in entries))
    monkeypatch.setattr(bench, "AUDIT_LOG", log)
    counted = bench.operator_requests(bench.AuditMark(0, 0))
    assert bench.count(counted) == (4, 2)
    assert bench.child_writes(counted) == 2
    assert bench.operator_requests(bench.audit_mark()) == []


def test_audit_lines_follow_the_log_across_a_rotation(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    log = tmp_path / "audit.log"
    monkeypatch.setattr(bench, "AUDIT_LOG", log)
    log.write_bytes(b"old 1\n")
    (tmp_path / "audit-2026-11-28T10-00-00.000.log").write_bytes(b"older\n")  # rotated before
    mark = bench.audit_mark()
    with log.open("ab") as current:
        current.write(b"new 1\n")
    # The API server renames the full log and starts a new, shorter one.
    log.rename(tmp_path / "audit-2026-11-28T11-00-00.000.log")
    log.write_bytes(b"new 2\n")
    assert bench.audit_lines(mark) == [b"new 1", b"new 2"]
    assert bench.audit_lines(bench.audit_mark()) == []


def test_a_half_written_line_is_left_for_later(tmp_path: Path,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    log = tmp_path / "audit.log"
    monkeypatch.setattr(bench, "AUDIT_LOG", log)
    done = {"stage": "ResponseComplete", "verb": "get", "objectRef": {"namespace": "bench-a"},
            "user": {"username": bench.OPERATOR_ACCOUNT}}
    line = json.dumps(done).encode()
    log.write_bytes(line + b"\n" + line[:30])  # the API server is halfway through a line
    assert bench.audit_lines(bench.AuditMark(0, 0)) == [line]
    # A mark taken halfway through a line: that line's end is not a request of its own.
    mark = bench.audit_mark()
    with log.open("ab") as current:
        current.write(line[30:] + b"\n" + line + b"\n")
    assert bench.operator_requests(mark) == [done]


def test_requests_are_counted_once_the_log_has_caught_up(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # The bench's watch saw the churn converge (at 100.0) before the API server had written
    # the audit line of its last write (received at 99.5): that line must still be counted,
    # and a request received after the moment of convergence must not.
    def entry(verb: str, at: str) -> dict[str, Any]:
        return {"stage": "ResponseComplete", "verb": verb,
                "user": {"username": bench.OPERATOR_ACCOUNT},
                "objectRef": {"namespace": "bench-op-1", "resource": "deployments"},
                "requestReceivedTimestamp": at}

    def at(seconds: float) -> str:
        return dt.datetime.fromtimestamp(seconds, dt.UTC).isoformat().replace("+00:00", "Z")

    log = tmp_path / "audit.log"
    monkeypatch.setattr(bench, "AUDIT_LOG", log)
    log.write_text(json.dumps(entry("patch", at(99.0))) + "\n")
    late, after = entry("patch", at(99.5)), entry("patch", at(100.5))
    sleeps: list[float] = []

    def sleep(seconds: float) -> None:  # the time the API server takes to write its lines
        if not sleeps:
            with log.open("a") as current:
                current.write(json.dumps(late) + "\n")
        elif len(sleeps) == 1:
            with log.open("a") as current:
                current.write(json.dumps(after) + "\n")
        sleeps.append(seconds)

    monkeypatch.setattr(bench.time, "sleep", sleep)
    counted = bench.requests_until(bench.AuditMark(0, 0), 100.0)
    assert counted == [entry("patch", at(99.0)), late]
    assert len(sleeps) == 2  # it waited until a request newer than the convergence was there
    # A log that stays quiet (the operator sent nothing after converging) ends the wait
    # after one look that finds no new line.
    log.write_text(json.dumps(late) + "\n")
    sleeps.clear()
    monkeypatch.setattr(bench.time, "sleep", lambda seconds: sleeps.append(seconds))
    assert bench.requests_until(bench.AuditMark(0, 0), 100.0) == [late]
    assert sleeps == [2.0]


def test_settle_window_grows_with_n() -> None:
    assert bench.settle_timeout(1000) == 600
    assert bench.settle_timeout(5000) == 1500


def test_combine_makes_one_table_of_several_runs(tmp_path: Path,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    plotted: list[list[int]] = []
    monkeypatch.setattr(bench, "plot", lambda rows, path: plotted.append([r["n"] for r in rows]))
    large = tmp_path / "large.json"
    large.write_text(json.dumps({"when": "B", "rows": [{"n": 5000, "t_api_s": 400.0}]}))
    small = tmp_path / "small.json"
    small.write_text(json.dumps({"when": "A", "rows": [
        {"n": 100, "t_api_s": 3.1, "resync_writes": 0}, {"n": 1000, "t_api_s": 33.8}]}))
    bench.combine([large, small], tmp_path / "out", "all")
    rows = json.loads((tmp_path / "out" / "all.json").read_text())["rows"]
    assert [row["n"] for row in rows] == [100, 1000, 5000]
    table = (tmp_path / "out" / "all.md").read_text()
    assert "Benchmark B and A" in table and "| 5000 | 400.0 |" in table
    assert plotted == [[100, 1000, 5000]]


def test_repeated_pairs_report_the_median_of_their_own_ratios() -> None:
    # Each pair ran side by side; the median of the ratios (1.05) is not the ratio of the
    # medians (200 / 200).
    pairs = [{"t_contract_s": 100.0, "t_op_s": 130.0, "ratio": 1.3, "cpu_op_s": 9.0,
              "load_contract": 3.1, "load_op": 3.4, "rss_mib": 100.0},
             {"t_contract_s": 200.0, "t_op_s": 200.0, "ratio": 1.0, "cpu_op_s": 12.0,
              "load_contract": 3.0, "load_op": 3.2, "rss_mib": 110.0},
             {"t_contract_s": 300.0, "t_op_s": 315.0, "ratio": 1.05, "cpu_op_s": 11.0,
              "load_contract": 2.9, "load_op": 3.3, "rss_mib": 120.0}]
    row: dict[str, Any] = {"n": 5000, "t_api_s": 100.0}
    bench.summarize(row, pairs)
    bench.finish(row)
    assert row["op_over_contract"] == 1.05
    assert (row["t_contract_s"], row["t_op_s"], row["cpu_op_s"]) == (200.0, 200.0, 11.0)
    assert row["rss_mib"] == 120.0 and row["op_over_api"] == 2.0 and "ratio" not in row
    table = bench.markdown([row], "now")
    assert "- 100.0 / 130.0 s, 1.3, load 3.1 / 3.4" in table
    assert "| 5000 | 100.0 | 200.0 |" in table


def test_one_pair_is_its_own_ratio() -> None:
    row: dict[str, Any] = {"n": 100, "t_api_s": 10.0}
    bench.summarize(row, [{"t_contract_s": 20.0, "t_op_s": 21.0, "ratio": 1.05}])
    bench.finish(row)
    assert row["op_over_contract"] == 1.05 and "pairs" not in row
