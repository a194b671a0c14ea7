"""The informers' stores and the reconciler's view of children (cache.py), with a fake API."""

from __future__ import annotations

import hashlib
import json
import logging
import threading
from collections.abc import Callable, Iterable, Iterator
from typing import Any

import pytest

from app_operator.core import status
from app_operator.runtime import metrics
from app_operator.runtime.cache import (
    Children,
    Expired,
    Informer,
    Store,
    digest_payload,
    is_child,
    trim,
)

LABEL = "app.kubernetes.io/instance"
SELECTOR = "app.kubernetes.io/managed-by=app-operator"
OURS = {"app.kubernetes.io/managed-by": "app-operator"}


def obj(name: str, rv: int | str, *, uid: str = "u1", ns: str = "ns", instance: str = "web",
        labels: dict[str, str] | None = None, kind: str = "Service") -> dict[str, Any]:
    return {"kind": kind, "metadata": {
        "name": name, "namespace": ns, "uid": uid, "resourceVersion": str(rv),
        "labels": {**OURS, LABEL: instance} if labels is None else labels,
        "managedFields": [{"manager": "app-operator"}]}}


class FakeSource:
    """Hands out prepared lists and watch streams, one per call."""

    def __init__(self, lists: list[tuple[list[dict[str, Any]], str]],
                 watches: list[Iterable[dict[str, Any]]]) -> None:
        self.lists = lists
        self.watches = watches
        self.calls: list[tuple[str, ...]] = []
        self.timeouts: list[int] = []

    def list_all(self, kind: str, namespace: str | None, label_selector: str,
                 keep: Callable[[dict[str, Any]], dict[str, Any]]
                 ) -> tuple[list[dict[str, Any]], str]:
        self.calls.append(("list", kind, str(namespace), label_selector))
        items, version = self.lists.pop(0)
        return [keep(item) for item in items], version

    def watch(self, kind: str, namespace: str | None, label_selector: str,
              resource_version: str, timeout_seconds: int) -> Iterator[dict[str, Any]]:
        self.calls.append(("watch", kind, str(namespace), resource_version))
        self.timeouts.append(timeout_seconds)
        yield from self.watches.pop(0)


def test_trim_drops_managed_fields_only() -> None:
    trimmed = trim(obj("a", 1))
    assert "managedFields" not in trimmed["metadata"]
    assert trimmed["metadata"]["labels"][LABEL] == "web"
    assert "managedFields" in obj("a", 1)["metadata"]  # the input is left alone


def test_trim_shares_keys_between_objects_parsed_apart() -> None:
    one, two = (trim(json.loads('{"metadata": {"name": "x"}, "spec": {"replicas": 1}}'))
                for _ in range(2))
    assert next(iter(one["spec"])) is next(iter(two["spec"]))


def test_store_keeps_the_newest_version() -> None:
    store = Store(LABEL)
    assert store.upsert(obj("a", 10))
    assert not store.upsert(obj("a", 9))  # an older event after a newer write
    assert not store.upsert(obj("a", 10))  # the same version again is no news
    assert store.get("ns", "a")["metadata"]["resourceVersion"] == "10"
    assert store.upsert(obj("a", 11))
    assert store.upsert(obj("a", 3, uid="u2"))  # deleted and made again: a new object
    assert store.get("ns", "a")["metadata"]["uid"] == "u2"


def test_store_indexes_by_instance_and_follows_label_changes() -> None:
    store = Store(LABEL)
    store.upsert(obj("web-data", 1, instance="web"))
    store.upsert(obj("web-logs", 1, uid="u2", instance="web"))
    store.upsert(obj("db-data", 1, uid="u3", instance="db"))
    store.upsert(obj("db-other", 1, uid="u4", ns="other", instance="db"))
    assert [o["metadata"]["name"] for o in store.of_instance("ns", "web")] == [
        "web-data", "web-logs"]
    store.upsert(obj("web-logs", 2, uid="u2", instance="db"))
    assert [o["metadata"]["name"] for o in store.of_instance("ns", "web")] == ["web-data"]
    assert [o["metadata"]["name"] for o in store.of_instance("ns", "db")] == [
        "db-data", "web-logs"]
    assert store.remove(obj("web-data", 5))
    assert store.of_instance("ns", "web") == []
    assert not store.remove(obj("db-data", 5, uid="someone-else"))
    assert len(store) == 3


def test_replace_reports_changes_and_keeps_later_writes() -> None:
    store = Store(LABEL)
    store.upsert(obj("same", 5, uid="1"))
    store.upsert(obj("changed", 5, uid="2"))
    store.upsert(obj("gone", 5, uid="3"))
    store.upsert(obj("written-after", 30, uid="4"))  # remembered after the list's version
    changed = store.replace([obj("same", 5, uid="1"), obj("changed", 7, uid="2"),
                             obj("new", 8, uid="5")], "20")
    assert sorted((o["metadata"]["name"], gone) for o, gone in changed) == [
        ("changed", False), ("gone", True), ("new", False)]
    assert store.get("ns", "gone") is None
    assert store.get("ns", "written-after") is not None
    assert store.get("ns", "changed")["metadata"]["resourceVersion"] == "7"


def test_informer_lists_watches_and_relists_when_the_watch_expires() -> None:
    stop = threading.Event()
    seen: list[tuple[str, str, bool]] = []
    source = FakeSource(
        lists=[([obj("a", 5), obj("d", 4, uid="u4")], "5"),
               ([obj("a", 9), obj("c", 9, uid="u3")], "9")],
        watches=[
            [{"type": "ADDED", "object": obj("b", 6, uid="u2")},
             {"type": "BOOKMARK", "object": {"metadata": {"resourceVersion": "7"}}},
             {"type": "MODIFIED", "object": obj("a", 8)}],
            [{"type": "DELETED", "object": obj("b", 8, uid="u2")},
             {"type": "ERROR", "object": {"code": 410, "message": "too old"}}],
            [{"type": "MODIFIED", "object": obj("c", 10, uid="u3")}],
        ])
    informer = Informer(source, "Service", SELECTOR, LABEL,
                        on_change=lambda o, gone: seen.append((
                            o["metadata"]["name"], o["metadata"]["resourceVersion"], gone)))
    assert informer.list_once() == "5"
    assert informer.synced.is_set()
    assert seen == [("a", "5", False), ("d", "4", False)]  # the first list reports all
    seen.clear()
    assert informer.watch_once("5") == "8"
    with pytest.raises(Expired):
        informer.watch_once("8")
    assert seen == [("b", "6", False), ("a", "8", False), ("b", "8", True)]
    seen.clear()
    assert informer.list_once() == "9"
    # A relist reports what it finds different, and what is gone: "d" was deleted while
    # the watch was down, and no DELETED event will ever say so.
    assert sorted(seen) == [("a", "9", False), ("c", "9", False), ("d", "4", True)]
    informer.watch_once("9")
    assert informer.store.get("ns", "c")["metadata"]["resourceVersion"] == "10"
    assert informer.store.get("ns", "b") is None
    assert [c[3] for c in source.calls if c[0] == "watch"] == ["5", "8", "9"]
    stop.set()


def test_informer_skips_the_event_of_a_write_already_remembered() -> None:
    seen: list[str] = []
    source = FakeSource(lists=[([], "1")], watches=[
        [{"type": "ADDED", "object": obj("a", 2)}, {"type": "MODIFIED", "object": obj("a", 3)}]])
    informer = Informer(source, "Service", SELECTOR, LABEL,
                        on_change=lambda o, _: seen.append(o["metadata"]["resourceVersion"]))
    informer.list_once()
    informer.store.upsert(obj("a", 2))  # what our own apply answered
    informer.watch_once("1")
    assert seen == ["3"]


def test_informer_run_survives_errors_and_retries() -> None:
    calls: list[int] = []

    class Flaky(FakeSource):
        def list_all(self, kind: str, namespace: str | None, label_selector: str,
                     keep: Callable[[dict[str, Any]], dict[str, Any]]
                     ) -> tuple[list[dict[str, Any]], str]:
            calls.append(1)
            if len(calls) == 1:
                raise OSError("connection refused")
            informer.stop()
            return [obj("a", 1)], "1"

    informer = Informer(Flaky([], [[]]), "Service", SELECTOR, LABEL, retry_seconds=0.01)
    informer.run()
    assert len(calls) == 2
    assert informer.synced.is_set()
    assert informer.store.get("ns", "a") is not None


def children(fetched: dict[tuple[str, str, str], dict[str, Any]]) -> tuple[Children, list[Any]]:
    asked: list[Any] = []

    def fetch(kind: str, namespace: str, name: str) -> dict[str, Any] | None:
        asked.append((kind, namespace, name))
        found = fetched.get((kind, namespace, name))
        return dict(found) if found else None

    source = FakeSource([], [])
    return Children(source, ["Service", "Deployment"], SELECTOR, LABEL, [None], fetch), asked


def test_children_read_the_store_and_fetch_only_on_a_miss() -> None:
    foreign = obj("web", 4, uid="f", labels={"team": "x"})
    view, asked = children({("Service", "ns", "web"): foreign,
                            ("Deployment", "ns", "web"): obj("web", 3, kind="Deployment")})
    # A foreign object of the same name: found every time (so it is never taken over), and
    # not stored, since no watch would ever tell when it changes or goes.
    assert view.get("Service", "ns", "web")["metadata"]["uid"] == "f"
    assert view.get("Service", "ns", "web")["metadata"]["uid"] == "f"
    assert view.get("Service", "ns", "web", fetch=False) is None
    assert ("Service", "ns", "web") in asked
    # Ours, fetched before its watch event came: stored, so asked at most once.
    view.get("Deployment", "ns", "web")
    assert view.get("Deployment", "ns", "web", fetch=False)["metadata"]["resourceVersion"] == "3"
    view.get("Deployment", "ns", "web")
    assert asked.count(("Deployment", "ns", "web")) <= 1
    assert view.get("Service", "ns", "absent") is None


def test_children_remember_writes_and_forget_deletions() -> None:
    view, asked = children({})
    view.remember(obj("web", 7))
    assert view.get("Service", "ns", "web")["metadata"]["resourceVersion"] == "7"
    assert [o["metadata"]["name"] for o in view.of_instance("Service", "ns", "web")] == ["web"]
    view.remember(obj("foreign", 7, labels={}))  # not what the informers select: not kept
    view.forget(obj("web", 7))
    assert view.get("Service", "ns", "web") is None
    assert view.get("Service", "ns", "foreign") is None
    assert asked == [("Service", "ns", "web"), ("Service", "ns", "foreign")]


def test_an_object_seen_deleted_is_never_brought_back() -> None:
    """The answer of a write sent before a deletion, or a cached read from before it, must
    not put the object back in the store (it would look in step while it is gone)."""
    store = Store(LABEL)
    store.upsert(obj("web", 5, uid="u1"))
    store.remove(obj("web", 6, uid="u1"))  # the informer's DELETED event
    assert not store.upsert(obj("web", 5, uid="u1"))  # our apply's answer, arriving late
    assert store.get("ns", "web") is None
    assert store.upsert(obj("web", 9, uid="u2"))  # made again: a new object
    assert store.get("ns", "web")["metadata"]["uid"] == "u2"


def test_children_do_not_fetch_back_a_deleted_object() -> None:
    stale = obj("web", 5, uid="u1")
    children = Children(FakeSource(lists=[], watches=[]), ["Service"], SELECTOR, LABEL,
                        [None], fetch=lambda kind, ns, name: dict(stale))
    store = children.informers[("Service", None)].store
    store.remove(stale)
    assert children.get("Service", "ns", "web") is None
    assert children.get("Service", "ns", "web", fetch=False) is None


def test_reconciles_do_not_wait_for_optional_informers() -> None:
    """The pods are only read for diagnostics: an operator that may not list them (older
    RBAC) still reconciles."""
    children = Children(FakeSource(lists=[], watches=[]), ["Service", "Pod"], SELECTOR, LABEL,
                        [None], fetch=lambda kind, ns, name: None, optional=["Pod"])
    children.informers[("Service", None)].synced.set()
    assert children.wait_synced(timeout=0.01)
    assert children.of_instance("Pod", "ns", "web") == []


def test_a_pod_is_kept_with_what_its_apps_status_reads_only() -> None:
    """Pods are stored for status.pod_problem and found by their labels: the spec, the
    annotations and the rest of the status are left out, and the problem reads the same."""
    pod = {"apiVersion": "v1", "kind": "Pod",
           "metadata": {"name": "flask-1", "namespace": "demo", "uid": "u1",
                        "resourceVersion": "7", "labels": {"app.kubernetes.io/instance": "flask"},
                        "annotations": {"big": "x" * 10_000}, "managedFields": [{}]},
           "spec": {"containers": [{"name": "flask", "image": "pylounge_flask_app:v9"}]},
           "status": {"phase": "Pending", "podIP": "10.0.0.5", "containerStatuses": [
               {"name": "flask", "image": "pylounge_flask_app:v9", "restartCount": 0,
                "state": {"waiting": {"reason": "ImagePullBackOff", "message": "not found"}}}]}}
    kept = trim(pod)
    assert set(kept) == {"apiVersion", "kind", "metadata", "status"}
    assert set(kept["metadata"]) == {"name", "namespace", "uid", "resourceVersion", "labels"}
    assert set(kept["status"]) == {"phase", "containerStatuses"}
    assert status.pod_problem([kept]) == status.pod_problem([pod])
    assert status.pod_problem([kept]) is not None


def test_an_object_relabelled_away_and_back_is_seen_again() -> None:
    """A child whose label someone removed leaves the selector (the watch says DELETED); when
    the label is put back (by that person, or by our apply) it must be seen again: hidden, it
    cost a GET, an apply and a `Created` event at every reconcile."""
    seen: list[tuple[str, bool]] = []
    source = FakeSource(lists=[([obj("web", 5)], "5")], watches=[[
        {"type": "DELETED", "object": obj("web", 6, labels={LABEL: "web"})},
        {"type": "ADDED", "object": obj("web", 7)}]])
    informer = Informer(source, "Service", SELECTOR, LABEL, on_change=lambda o, gone: seen.append(
        (o["metadata"]["resourceVersion"], gone)))
    informer.list_once()
    seen.clear()
    informer.watch_once("5")
    assert seen == [("6", True), ("7", False)]
    assert informer.store.get("ns", "web")["metadata"]["resourceVersion"] == "7"


def test_our_apply_that_puts_a_removed_label_back_is_remembered() -> None:
    view, asked = children({})
    store = view.informers[("Service", None)].store
    store.replace([obj("web", 5)], "5")
    store.observe(obj("web", 6, labels={LABEL: "web"}), gone=True)  # label removed
    view.remember(obj("web", 8))  # the reconcile's apply put it back
    assert view.get("Service", "ns", "web", fetch=False)["metadata"]["resourceVersion"] == "8"
    store.observe(obj("web", 8), gone=False)  # its watch event, later
    assert view.get("Service", "ns", "web")["metadata"]["resourceVersion"] == "8"
    assert asked == []


def test_what_the_watch_has_passed_is_not_brought_back_by_a_late_answer() -> None:
    """Deleted by someone else at version 6: the answer of our write at version 5, arriving
    after the DELETED event, and a cached read of version 5, are older news."""
    view, _ = children({("Service", "ns", "web"): obj("web", 5)})
    store = view.informers[("Service", None)].store
    store.replace([obj("web", 5)], "5")
    store.observe(obj("web", 6), gone=True)
    view.remember(obj("web", 5))
    assert view.get("Service", "ns", "web") is None  # the cached read is refused too
    view.remember(obj("web", 9, uid="u2"))  # made again
    assert view.get("Service", "ns", "web", fetch=False)["metadata"]["uid"] == "u2"


def test_our_deletion_hides_the_deleted_version_until_the_watch_passes_it() -> None:
    store = Store(LABEL)
    store.replace([], "1")
    store.upsert(obj("data", 5))  # our apply's answer, ahead of the watch
    store.remove(obj("data", 5))  # then deleted by us
    assert not store.upsert(obj("data", 5))  # a cached read from before the deletion
    assert store.tombstones() == 1
    # A claim held by a finalizer lives on, being deleted: that newer version is the truth.
    terminating = obj("data", 7)
    terminating["metadata"]["deletionTimestamp"] = "2026-01-01T00:00:00Z"
    assert store.observe(terminating, gone=False)
    assert store.get("ns", "data") is not None
    store.advance("7")
    assert store.tombstones() == 0


def test_a_hundred_thousand_deletions_seen_by_the_watch_leave_nothing_behind() -> None:
    """Tombstones were kept for ever, one per deleted object (100,000 deleted pods held 22
    MiB): a deletion the watch saw needs none, the watch's position keeps older versions
    out."""
    n = 100_000

    def events() -> Iterator[dict[str, Any]]:
        for i in range(n):
            meta = {"name": f"pod-{i}", "namespace": "ns", "uid": f"u{i}"}
            yield {"type": "ADDED", "object": {
                "kind": "Pod", "metadata": {**meta, "resourceVersion": str(2 * i + 2)}}}
            yield {"type": "DELETED", "object": {
                "kind": "Pod", "metadata": {**meta, "resourceVersion": str(2 * i + 3)}}}

    informer = Informer(FakeSource(lists=[([], "1")], watches=[events()]), "Pod", SELECTOR)
    informer.list_once()
    informer.watch_once("1")
    assert len(informer.store) == 0
    assert informer.store.tombstones() == 0
    assert not informer.store.upsert(obj("pod-7", 17, uid="u7"))  # before its deletion


def test_tombstones_of_our_deletions_are_bounded_while_the_watch_stands_still() -> None:
    class SmallStore(Store):
        MAX_TOMBSTONES = 100

    store = SmallStore()
    store.replace([], "1")
    for i in range(1000):  # written, then deleted, by us; the watch has not caught up
        store.upsert(obj(f"cm-{i}", 10 + i, uid=f"c{i}"))
        store.remove(obj(f"cm-{i}", 10 + i, uid=f"c{i}"))
    assert store.tombstones() == 100
    assert not store.upsert(obj("cm-999", 1009, uid="c999"))  # the newest are kept
    store.advance("2000")
    assert store.tombstones() == 0


def test_a_late_deleted_event_does_not_drop_a_newer_version_we_wrote() -> None:
    """The label was removed at version 6 and our apply put it back at 8; the watch's
    DELETED of version 6, arriving after our answer, is older news."""
    informer = Informer(FakeSource(lists=[([obj("web", 5)], "5")], watches=[[
        {"type": "DELETED", "object": obj("web", 6, labels={})}]]), "Service", SELECTOR, LABEL)
    informer.list_once()
    assert informer.store.upsert(obj("web", 8))
    informer.watch_once("5")
    assert informer.store.get("ns", "web")["metadata"]["resourceVersion"] == "8"


def test_each_watch_asks_for_a_timeout_of_its_own_between_five_and_ten_minutes() -> None:
    """Informers started together must not all watch again at the same moment."""
    source = FakeSource(lists=[], watches=[[] for _ in range(30)])
    informer = Informer(source, "Service", SELECTOR, LABEL)
    for _ in range(30):
        informer.watch_once("1")
    assert all(300 <= timeout <= 600 for timeout in source.timeouts), source.timeouts
    assert len(set(source.timeouts)) > 1


def restarts(kind: str, reason: str) -> float:
    return metrics.REGISTRY.get_sample_value(
        "app_operator_informer_restarts_total", {"kind": kind, "reason": reason}) or 0.0


class Scripted(FakeSource):
    """Each watch is a list of events, or an exception raised where the stream breaks; the
    informer is stopped at the last list."""

    def __init__(self, informer_box: list[Informer], lists: int,
                 watches: list[list[dict[str, Any]] | Exception]) -> None:
        super().__init__([([], "1")] * lists, [])
        self.box = informer_box
        self.script = watches

    def list_all(self, kind: str, namespace: str | None, label_selector: str,
                 keep: Callable[[dict[str, Any]], dict[str, Any]]
                 ) -> tuple[list[dict[str, Any]], str]:
        if len(self.lists) == 1:
            self.box[0].stop()
        return super().list_all(kind, namespace, label_selector, keep)

    def watch(self, kind: str, namespace: str | None, label_selector: str,
              resource_version: str, timeout_seconds: int) -> Iterator[dict[str, Any]]:
        self.timeouts.append(timeout_seconds)
        step = self.script.pop(0)
        if isinstance(step, Exception):
            raise step
        yield from step


def test_restarts_are_counted_and_logged_by_reason(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="app_operator.cache")
    box: list[Informer] = []
    source = Scripted(box, lists=4, watches=[
        [{"type": "ERROR", "object": {"code": 410, "message": "too old"}}],
        OSError("connection reset by peer")])
    refused = source.list_all

    def list_all(*args: Any, **kwargs: Any) -> tuple[list[dict[str, Any]], str]:
        if len(source.lists) == 2:  # the relist after the failed watch fails once too
            source.lists.pop()
            raise OSError("connection refused")
        return refused(*args, **kwargs)

    source.list_all = list_all  # type: ignore[method-assign]
    box.append(Informer(source, "ConfigMap", SELECTOR, namespace="ns", retry_seconds=0.01))
    before = {reason: restarts("ConfigMap", reason) for reason in ("expired", "error")}
    box[0].run()
    assert restarts("ConfigMap", "expired") == before["expired"] + 1
    assert restarts("ConfigMap", "error") == before["error"] + 2
    messages = [r.getMessage() for r in caplog.records]
    assert "ConfigMap informer (ns): watch expired (too old); listing again" in messages
    assert [m.split(";")[0] for m in messages if "failed" in m] == [
        "ConfigMap informer (ns): watch failed (connection reset by peer)",
        "ConfigMap informer (ns): list failed (connection refused)"]


def test_a_watch_that_breaks_after_its_timeout_is_counted_as_silent() -> None:
    """The source's read timeout is a little above the watch's: a watch that fails once it
    has said nothing for its whole timeout was a dead connection, not a refusal."""
    box: list[Informer] = []

    class Instant(Informer):
        WATCH_TIMEOUT_SECONDS = (0, 0)

    source = Scripted(box, lists=2, watches=[OSError("read timed out")])
    box.append(Instant(source, "Deployment", SELECTOR, retry_seconds=0.01))
    before = restarts("Deployment", "silent")
    box[0].run()
    assert restarts("Deployment", "silent") == before + 1


def test_an_informer_is_followed_from_each_list_to_the_next_failure() -> None:
    box: list[Informer] = []
    following: list[bool] = []

    class Watching(Scripted):
        def list_all(self, kind: str, namespace: str | None, label_selector: str,
                     keep: Callable[[dict[str, Any]], dict[str, Any]]
                     ) -> tuple[list[dict[str, Any]], str]:
            following.append(box[0].following)
            return super().list_all(kind, namespace, label_selector, keep)

        def watch(self, kind: str, namespace: str | None, label_selector: str,
                  resource_version: str, timeout_seconds: int) -> Iterator[dict[str, Any]]:
            following.append(box[0].following)
            return super().watch(kind, namespace, label_selector, resource_version,
                                 timeout_seconds)

    source = Watching(box, lists=2, watches=[OSError("connection reset by peer")])
    box.append(Informer(source, "App", "", retry_seconds=0.01))
    box[0].run()
    assert following == [False, True, False]  # listing, watching, listing again
    assert box[0].following and box[0].synced.is_set()


# Issue 23 item 1: what others put in objects that carry our labels does not grow the store.

APP_REF = {"apiVersion": "appoperator.dev/v1alpha1", "kind": "App", "name": "web",
           "uid": "app-uid", "controller": True}
BIG = "x" * (900 * 1024)


def config_map(name: str, *, owner: dict[str, Any] | None = None, ns: str = "ns",
               data: dict[str, str] | None = None) -> dict[str, Any]:
    meta: dict[str, Any] = {
        "name": name, "namespace": ns, "uid": f"uid-{name}", "resourceVersion": "5",
        "labels": {**OURS, LABEL: "web", "extra": "y" * 60},
        "annotations": {"kubectl.kubernetes.io/last-applied-configuration": BIG,
                        "appoperator.dev/desired-hash": "0123456789abcdef",
                        "appoperator.dev/app-uid": "z" * 300},
        "managedFields": [{"manager": "kubectl", "fieldsV1": {"f:data": BIG}}]}
    if owner is not None:
        meta["ownerReferences"] = [owner]
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": meta,
            "data": {"big": BIG} if data is None else data, "binaryData": {"b": "eHl6"}}


@pytest.mark.parametrize("planted", [
    config_map("attack-1"),  # our labels, no owner
    config_map("web-files", owner={**APP_REF, "kind": "ReplicaSet", "apiVersion": "apps/v1"}),
    config_map("other-name", owner=APP_REF),  # an App's reference, not under its child's name
    {**config_map("web"), "kind": "Deployment", "spec": {"template": {"x": BIG}}},
    {**config_map("web-data"), "kind": "PersistentVolumeClaim", "spec": {"x": BIG}},
])
def test_an_object_that_is_no_apps_child_is_held_by_name_only(planted: dict[str, Any]) -> None:
    held = trim(planted)
    assert len(json.dumps(held)) < 1024
    meta = held["metadata"]
    assert (meta["name"], meta["namespace"], meta["uid"], meta["resourceVersion"]) == (
        planted["metadata"]["name"], "ns", planted["metadata"]["uid"], "5")
    # The labels the index and the reconciler read, the short marks it reads, nothing else.
    assert meta["labels"] == {**OURS, LABEL: "web"}
    assert meta["annotations"] == {"appoperator.dev/desired-hash": "0123456789abcdef"}
    assert set(held) == {"apiVersion", "kind", "metadata"}
    # A reconcile still sees the name taken, by whom it is controlled if by anyone.
    assert meta.get("ownerReferences", []) == planted["metadata"].get("ownerReferences", [])


def test_an_apps_files_config_map_keeps_a_digest_of_each_value() -> None:
    owned = config_map("web-files", owner=APP_REF, data={"0-app.conf": "debug = false\n"})
    held = trim(owned)
    digest = "sha256:" + hashlib.sha256(b"debug = false\n").hexdigest()
    assert held["data"] == {"0-app.conf": digest}
    assert held["binaryData"] == {"b": "sha256:" + hashlib.sha256(b"eHl6").hexdigest()}
    assert "managedFields" not in held["metadata"]
    assert "kubectl.kubernetes.io/last-applied-configuration" not in held["metadata"][
        "annotations"]
    assert held["metadata"]["labels"]["extra"] == "y" * 60  # a child keeps its metadata
    assert trim(held) == held  # digested once only
    assert digest_payload(owned)["data"] == held["data"]  # what the reconciler compares


def test_a_claim_with_the_operators_annotations_keeps_what_the_reconciler_reads() -> None:
    """A kept claim has no owner: the annotations the operator writes on claims make it a
    child the reconciler reads (its size, its capacity), and only that is kept of it, since
    anyone may write those annotations."""
    claim = {"apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": {
        "name": "web-data", "namespace": "ns", "uid": "c", "resourceVersion": "3",
        "labels": {**OURS, LABEL: "web"},
        "annotations": {"appoperator.dev/kept": "true"}},
        "spec": {"resources": {"requests": {"storage": "1Gi"}}},
        "status": {"capacity": {"storage": "1Gi"}}}
    assert is_child(claim) and trim(claim) == claim
    padded = {**claim, "spec": {**claim["spec"], "selector": {"matchLabels": {"x": BIG}}},
              "metadata": {**claim["metadata"], "labels": {**OURS, LABEL: "web", "x": "y"},
                           "annotations": {"appoperator.dev/kept": "true", "note": BIG}}}
    assert trim(padded) == claim
    assert not is_child({**claim, "metadata": {**claim["metadata"], "annotations": {}}})


def test_objects_held_by_name_only_are_counted_and_said_once_per_namespace(
        caplog: pytest.LogCaptureFixture) -> None:
    store = Store(LABEL)
    gauge = metrics.ignored_objects.labels("ConfigMap")
    before = gauge._value.get()
    with caplog.at_level(logging.WARNING, logger="app_operator.cache"):
        for i in range(30):
            assert store.upsert(config_map(f"attack-{i}", ns="tenant-a"))
        store.upsert(config_map("attack-0", ns="tenant-b"))
        store.upsert(config_map("web-files", owner=APP_REF, ns="tenant-a"))  # a child
    assert store.ignored() == 31
    assert store.ignored_by_namespace == {"tenant-a": 30, "tenant-b": 1}
    assert gauge._value.get() == before + 31
    said = [r.getMessage() for r in caplog.records if "no App's child" in r.getMessage()]
    assert len(said) == 2, said
    assert "namespace tenant-a" in said[0] and "ConfigMap attack-0" in said[0]
    # Gone, or a newer version that is an App's child: no longer counted.
    store.remove(config_map("attack-0", ns="tenant-b"))
    store.remove(config_map("attack-2", ns="tenant-a"))
    assert store.upsert(config_map("web-files", ns="tenant-b"))  # no owner yet
    assert store.ignored_by_namespace == {"tenant-a": 29, "tenant-b": 1}
    owned = config_map("web-files", owner=APP_REF, ns="tenant-b")
    owned["metadata"]["resourceVersion"] = "9"
    assert store.upsert(owned)
    assert store.ignored() == 29 and gauge._value.get() == before + 29
    assert store.ignored_by_namespace == {"tenant-a": 29}
    assert "big" in store.get("tenant-b", "web-files")["data"]


def test_a_store_of_many_big_labelled_config_maps_stays_small() -> None:
    """The attack of issue 23 in miniature: what the store holds of 50 labelled ConfigMaps
    of 900 KiB is a few kilobytes each, not their payload."""
    store = Store(LABEL)
    for i in range(50):
        store.upsert(config_map(f"attack-{i}"))
    held = sum(len(json.dumps(o)) for o in store.objects())
    assert held < 50 * 1024, held
