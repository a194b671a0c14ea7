"""Compose files read as Docker Compose reads them: with YAML 1.2's scalars, not PyYAML's 1.1.

Under YAML 1.1 (PyYAML's `safe_load`) `restart: no` is the boolean False, `FLAG: on` is True,
`- 22:22` is the sexagesimal number 1342 and `mode: 0755` is octal. Compose decodes plain
scalars into untyped values with YAML 1.2's core schema, where the first three are strings
and `0755` is the decimal 755: the file means what its author typed. This loader resolves
only the core schema's booleans, numbers and nulls; everything else is a string.
"""

from __future__ import annotations

import re
from typing import Any

import yaml


class ComposeLoader(yaml.SafeLoader):
    """PyYAML's safe loader with YAML 1.2 core-schema resolution of plain scalars."""


ComposeLoader.yaml_implicit_resolvers = {}
_RESOLVERS = [  # (tag, pattern, the characters a matching scalar may start with)
    ("tag:yaml.org,2002:bool", r"true|True|TRUE|false|False|FALSE", list("tTfF")),
    ("tag:yaml.org,2002:int", r"[-+]?[0-9]+|0o[0-7]+|0x[0-9a-fA-F]+", list("-+0123456789")),
    ("tag:yaml.org,2002:float",
     r"[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?|[-+]?\.(inf|Inf|INF)"
     r"|\.(nan|NaN|NAN)", list("-+0123456789.")),
    ("tag:yaml.org,2002:null", r"~|null|Null|NULL|", [*"~nN", ""]),
    ("tag:yaml.org,2002:merge", r"<<", ["<"]),
]
for _tag, _pattern, _first in _RESOLVERS:
    ComposeLoader.add_implicit_resolver(_tag, re.compile(f"^(?:{_pattern})$"), _first)


def _construct_int(loader: yaml.SafeLoader, node: yaml.Node) -> int:
    text = str(loader.construct_scalar(node))  # type: ignore[arg-type]
    if text.startswith("0o"):
        return int(text[2:], 8)
    if text.startswith("0x"):
        return int(text[2:], 16)
    return int(text, 10)  # `0755` is decimal under YAML 1.2, not octal


ComposeLoader.add_constructor("tag:yaml.org,2002:int", _construct_int)


def load(text: str) -> Any:
    """The compose document in `text`; yaml.YAMLError when it is not YAML."""
    return yaml.load(text, Loader=ComposeLoader)
