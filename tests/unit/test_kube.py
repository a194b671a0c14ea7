"""Kube.list_all: pages followed to the end, and only what `keep` makes of each item held."""

from __future__ import annotations

from typing import Any

from app_operator.runtime.cache import trim
from app_operator.runtime.kube import Kube, RateLimiter


def deployment(name: str) -> dict[str, Any]:
    return {"metadata": {"name": name, "namespace": "ns", "resourceVersion": "7",
                         "managedFields": [{"manager": "app-operator"}]},
            "spec": {"replicas": 1}}


class Pages(Kube):
    """A Kube whose GETs are answered from a list of pages, the queries they were sent with
    recorded."""

    def __init__(self, pages: list[dict[str, Any]]) -> None:
        super().__init__(api_client=None)  # type: ignore[arg-type]
        self.pages = pages
        self.queries: list[dict[str, Any]] = []
        self.on_request = lambda: None

    def request(self, method: str, path: str, *, query: dict[str, Any] | None = None,
                body: Any = None, content_type: str = "application/json",
                limiter: RateLimiter | None = None) -> Any:
        assert method == "GET" and path == "/apis/apps/v1/namespaces/ns/deployments"
        self.queries.append(dict(query or {}))
        self.on_request()
        return self.pages.pop(0)


def test_list_all_follows_continue_and_keeps_what_keep_makes() -> None:
    kube = Pages([
        {"apiVersion": "apps/v1", "metadata": {"continue": "next", "resourceVersion": "9"},
         "items": [deployment("a"), deployment("b")]},
        {"apiVersion": "apps/v1", "metadata": {"resourceVersion": "9"},
         "items": [deployment("c")]},
    ])
    kept: list[str] = []
    kept_when_asked: list[list[str]] = []
    kube.on_request = lambda: kept_when_asked.append(list(kept))

    def keep(obj: dict[str, Any]) -> dict[str, Any]:
        kept.append(obj["metadata"]["name"])
        return trim(obj)

    items, version = kube.list_all("Deployment", "ns", "x=y", keep=keep)
    assert version == "9"
    assert [i["metadata"]["name"] for i in items] == ["a", "b", "c"]
    assert all("managedFields" not in i["metadata"] for i in items)
    assert all(i["kind"] == "Deployment" and i["apiVersion"] == "apps/v1" for i in items)
    # Each page is trimmed before the next is asked for.
    assert kept_when_asked == [[], ["a", "b"]]
    assert kept == ["a", "b", "c"]
    # Paged (whatever the page size), the second page asked for with the first one's token.
    first, second = kube.queries
    assert first["labelSelector"] == second["labelSelector"] == "x=y"
    assert first["limit"] > 0 and second["limit"] == first["limit"]
    assert "continue" not in first and second["continue"] == "next"


def test_list_all_without_keep_returns_whole_objects() -> None:
    kube = Pages([{"metadata": {"resourceVersion": "3"}, "items": [deployment("a")]}])
    items, version = kube.list_all("Deployment", "ns", "")
    assert version == "3"
    assert items[0]["metadata"]["managedFields"] == [{"manager": "app-operator"}]
