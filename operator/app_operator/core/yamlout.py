"""YAML for Kubernetes tools. Pure.

PyYAML writes YAML 1.1, where `1e10` is a string; kubectl reads YAML 1.2, where it is a number,
and refuses it in a string field (an annotation, an env value). Strings that a YAML 1.2 reader
would take for a number are quoted here.

A string of several lines (a config file in spec.files, a script in args) is written as a `|`
literal block, so that it reads as the file it is instead of one quoted line of `\n`s. Only
where the block reads back as the same string: PyYAML's emitter keeps the quoted form for
what a block cannot hold (spaces before a line break or at the end, a tab or other control
character, a carriage return, and non-ASCII text, which this dumper escapes), and writes the
indentation and chomping indicators (`|2`, `|-`, `|+`) that leading spaces and the final line
breaks need.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

import yaml

_NUMBER_1_2 = re.compile(
    r"[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?|0x[0-9a-fA-F]+|0o[0-7]+"
    r"|[-+]?\.(inf|Inf|INF)|\.(nan|NaN|NAN)")


class KubeDumper(yaml.SafeDumper):
    pass


def _represent_str(dumper: yaml.SafeDumper, value: str) -> yaml.Node:
    if "\n" in value:
        # PyYAML writes the block only where it reads back the same, else a quoted form
        return dumper.represent_scalar("tag:yaml.org,2002:str", value, style="|")
    # Strings a YAML 1.2 reader, or kubectl's YAML 1.1 reader (y, Y, n, N are booleans to it,
    # though not to PyYAML), would take for a number or a boolean.
    if _NUMBER_1_2.fullmatch(value) or value in ("y", "Y", "n", "N"):
        return dumper.represent_scalar("tag:yaml.org,2002:str", value, style="'")
    return dumper.represent_str(value)


KubeDumper.add_representer(str, _represent_str)


def dump(obj: Any) -> str:
    return yaml.dump(obj, Dumper=KubeDumper, sort_keys=False, width=100)


def dump_all(objs: Iterable[Any]) -> str:
    return yaml.dump_all(objs, Dumper=KubeDumper, sort_keys=False, width=100)
