"""Reading the conditions Kubernetes objects carry (Deployments, Jobs, Apps, a route's
parents): one lookup for every reader."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any


def find_condition(conditions: Iterable[Any] | None, kind: str) -> dict[str, Any]:
    """A copy of the first condition of type `kind`, or {} when there is none."""
    for condition in conditions or []:
        if isinstance(condition, dict) and condition.get("type") == kind:
            return dict(condition)
    return {}


def condition_of(obj: dict[str, Any], kind: str) -> dict[str, Any]:
    """The condition of type `kind` in an object's status, or {}."""
    return find_condition((obj.get("status") or {}).get("conditions"), kind)
