"""Would applying a desired object change the live one? Pure, so it is tested on dicts.

Applying an unchanged object would still be a write request, so the operator applies only
when this says so. Two checks together make it safe:
- the live object carries the hash of the desired object last applied (render.with_desired_hash),
  which catches fields the operator stopped setting (server-side apply removes those);
- every field the operator sets has the same value in the live object, which catches edits
  and deletions by other hands (drift).
Quantities compare by value, since the API server may write "1Gi" back as "1073741824".
"""

from __future__ import annotations

from typing import Any

from app_operator.model import parse_quantity
from app_operator.render import HASH_ANNOTATION

# Maps whose values are resource quantities.
_QUANTITY_MAPS = {"requests", "limits", "capacity"}


def _same_quantity(desired: Any, live: Any) -> bool:
    try:
        return parse_quantity(desired) == parse_quantity(live)
    except (ValueError, ArithmeticError):
        return False


def differences(desired: Any, live: Any, path: str = "") -> list[str]:
    """The paths of the fields of `desired` that are missing from `live` or differ there."""
    key = path.rsplit(".", 1)[-1]
    if isinstance(desired, dict):
        if not isinstance(live, dict):
            return [path or "."]
        found = []
        for child_key, value in desired.items():
            child_path = f"{path}.{child_key}" if path else child_key
            if child_key not in live:
                found.append(child_path)
            elif key in _QUANTITY_MAPS and not isinstance(value, dict | list):
                if value != live[child_key] and not _same_quantity(value, live[child_key]):
                    found.append(child_path)
            else:
                found.extend(differences(value, live[child_key], child_path))
        return found
    if isinstance(desired, list):
        if not isinstance(live, list) or len(desired) != len(live):
            return [path]
        found = []
        for index, (d, lv) in enumerate(zip(desired, live, strict=True)):
            found.extend(differences(d, lv, f"{path}[{index}]"))
        # A list element path keeps its parent's key for the quantity rule above.
        return found
    return [] if desired == live else [path]


def is_subset(desired: Any, live: Any) -> bool:
    """True when every field of `desired` is present in `live` with the same value."""
    return not differences(desired, live)


def needs_apply(desired: dict[str, Any], live: dict[str, Any] | None) -> bool:
    if live is None:
        return True
    live_hash = (live.get("metadata", {}).get("annotations") or {}).get(HASH_ANNOTATION)
    if live_hash != desired["metadata"]["annotations"][HASH_ANNOTATION]:
        return True
    return not is_subset(desired, live)
