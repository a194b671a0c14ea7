"""Compose's variable substitution (`${VAR:-default}` and the rest) over a whole document."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from app_operator.convert.conversion import Refused

INTERPOLATION = re.compile(r"\$(?:(?P<escaped>\$)|\{(?P<braced>[^}]*)\}|(?P<named>[A-Za-z_]"
                           r"[A-Za-z0-9_]*))")
BRACED = re.compile(r"(?P<name>[A-Za-z_][A-Za-z0-9_]*)(?:(?P<operator>:?[-?+])(?P<rest>.*))?",
                    re.S)


def interpolate(value: Any, environ: Mapping[str, str], warnings: list[str]) -> Any:
    """Compose's ${VAR}, ${VAR:-default}, ${VAR-default}, ${VAR:?error} and $$ in strings."""
    if isinstance(value, dict):
        return {k: interpolate(v, environ, warnings) for k, v in value.items()}
    if isinstance(value, list):
        return [interpolate(v, environ, warnings) for v in value]
    if not isinstance(value, str):
        return value

    def replace(match: re.Match[str]) -> str:
        if match["escaped"]:
            return "$"
        expression = match["braced"] if match["braced"] is not None else match["named"]
        # The operator is what follows the variable's name: `${DEBUG:+--verbose}`.
        parts = BRACED.fullmatch(expression)
        if parts is None:
            name, operator, default = expression, "", ""
        else:
            name, operator, default = parts["name"], parts["operator"] or "", parts["rest"]
        current = environ.get(name)
        empty = current is None or (current == "" and operator.startswith(":"))
        if operator in (":-", "-"):
            return default if empty else str(current)
        if operator in (":?", "?"):
            if empty:
                raise Refused(f"variable {name} is required: {default or 'not set'}")
            return str(current)
        if operator in (":+", "+"):
            return "" if empty else default
        if current is None:
            message = f"variable {name} is not set; an empty string is used"
            if message not in warnings:
                warnings.append(message)
            return ""
        return current

    return INTERPOLATION.sub(replace, value)

