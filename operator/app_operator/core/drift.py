"""Would applying a desired object change the live one? Pure, so it is tested on dicts.

Applying an unchanged object would still be a write request, so the operator applies only
when this says so. Two checks together make it safe:
- the live object carries the hash of the desired object last applied (render.with_desired_hash),
  which catches fields the operator stopped setting (server-side apply removes those);
- every field the operator sets has the same value in the live object, which catches edits
  and deletions by other hands (drift).
Quantities compare by value, since the API server may write "1Gi" back as "1073741824".
Lists that server-side apply merges by a key (env by name, ports by port and protocol,
volumes, volume mounts, containers, owner references) compare entry by entry, by that key:
an entry another field manager added (`kubectl set env`, a webhook's sidecar) is theirs,
kept by the API server, and no difference of ours.
"""

from __future__ import annotations

from decimal import ROUND_CEILING, Decimal
from typing import Any

from app_operator.core.model import parse_quantity
from app_operator.core.render import HASH_ANNOTATION

# Maps whose values are resource quantities.
_QUANTITY_MAPS = {"requests", "limits", "capacity"}
# Lists merged by key (the fields' x-kubernetes-list-map-keys in the Kubernetes API).
_MERGE_KEYS: dict[str, tuple[str, ...]] = {
    "env": ("name",), "containers": ("name",), "initContainers": ("name",),
    "volumes": ("name",), "volumeMounts": ("mountPath",), "imagePullSecrets": ("name",),
    "ownerReferences": ("uid",),
}


def _merge_key(field: str, entry: Any) -> tuple[str, ...] | None:
    if field == "ports" and isinstance(entry, dict):
        # A container's ports by containerPort and protocol, a Service's by port and protocol.
        return ("containerPort", "protocol") if "containerPort" in entry else ("port", "protocol")
    return _MERGE_KEYS.get(field)


def _same_quantity(desired: Any, live: Any) -> bool:
    """The API server keeps quantities to the thousandth, rounding up (".5e-3" is stored as
    "1e-3", "1.0001" as "1001m"): compared at that precision, as it would store them."""
    try:
        return _milli(parse_quantity(desired)) == _milli(parse_quantity(live, strict=False))
    except (ValueError, ArithmeticError):
        return False


def _milli(value: Decimal) -> Decimal:
    return value.quantize(Decimal("0.001"), rounding=ROUND_CEILING)


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
        keys = _merge_key(key.split("[", 1)[0], desired[0]) if desired else None
        if keys is not None and isinstance(live, list):
            return _keyed_differences(desired, live, keys, path)
        if not isinstance(live, list) or len(desired) != len(live):
            return [path]
        found = []
        for index, (d, lv) in enumerate(zip(desired, live, strict=True)):
            found.extend(differences(d, lv, f"{path}[{index}]"))
        # A list element path keeps its parent's key for the quantity rule above.
        return found
    return [] if desired == live else [path]


def _keyed_differences(desired: list[Any], live: list[Any], keys: tuple[str, ...],
                       path: str) -> list[str]:
    """Each desired entry against the live entry of the same key; live entries of other
    keys belong to other field managers."""
    def key_of(entry: Any) -> tuple[Any, ...]:
        return tuple(entry.get(k) for k in keys) if isinstance(entry, dict) else (entry,)

    by_key = {key_of(entry): entry for entry in live}
    found = []
    for entry in desired:
        name = ",".join(str(part) for part in key_of(entry))
        entry_path = f"{path}[{name}]"
        if key_of(entry) not in by_key:
            found.append(entry_path)
        else:
            found.extend(differences(entry, by_key[key_of(entry)], entry_path))
    return found


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


def _port_lists(obj: dict[str, Any]) -> list[tuple[str, str, list[Any]]]:
    """The ports lists of a Service or a Deployment: each with its JSON pointer and the name
    of the container that holds it ("" for a Service)."""
    spec = obj.get("spec") or {}
    if obj.get("kind") == "Service":
        return [("/spec/ports", "", spec.get("ports") or [])]
    containers = ((spec.get("template") or {}).get("spec") or {}).get("containers") or []
    return [(f"/spec/template/spec/containers/{index}/ports", container.get("name", ""),
             container.get("ports") or [])
            for index, container in enumerate(containers) if isinstance(container, dict)]


def _by_name(entries: list[Any]) -> dict[str, dict[str, Any]]:
    return {entry["name"]: entry for entry in entries
            if isinstance(entry, dict) and entry.get("name")}


def _entry_key(entry: dict[str, Any]) -> tuple[Any, ...]:
    keys = _merge_key("ports", entry) or ()
    return tuple(entry.get(k, "TCP" if k == "protocol" else None) for k in keys)


def renumbered_ports(desired: dict[str, Any], live: dict[str, Any] | None) -> list[Any]:
    """A JSON patch that puts the desired port in place of a live port that carries its name
    under another number (`kubectl edit` changed 80 to 8080): server-side apply merges ports
    by number and protocol, so it would add 80 beside 8080 and the API server would refuse
    two ports of one name (and a Service of no ports, were 8080 removed first). Empty when
    no port was renumbered. Each replacement is guarded by a test of what it replaces, so a
    concurrent edit makes the patch fail instead of replacing the wrong entry."""
    if live is None:
        return []
    wanted = {owner: _by_name(entries) for _, owner, entries in _port_lists(desired)}
    patch: list[Any] = []
    for pointer, owner, entries in _port_lists(live):
        ours = wanted.get(owner, {})
        keys = {_entry_key(port) for port in ours.values()}
        for position, entry in enumerate(entries):
            if not isinstance(entry, dict) or entry.get("name") not in ours:
                continue
            if _entry_key(entry) in keys:
                continue  # a number still wanted: the apply renames its entry in place
            if _entry_key(entry) != _entry_key(ours[entry["name"]]):
                path = f"{pointer}/{position}"
                number = "port" if "port" in entry else "containerPort"
                patch += [{"op": "test", "path": f"{path}/name", "value": entry["name"]},
                          {"op": "test", "path": f"{path}/{number}", "value": entry.get(number)},
                          {"op": "replace", "path": path, "value": ours[entry["name"]]}]
    return patch
