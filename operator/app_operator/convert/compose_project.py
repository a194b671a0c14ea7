"""What every service of one compose file shares while it is converted."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from app_operator.convert.builder import Builder
from app_operator.convert.files import SourceFiles


@dataclass
class Project:
    """What every service of one compose file shares."""

    document: Mapping[str, Any]
    files: SourceFiles
    environ: Mapping[str, str]
    namespace: str | None
    image_prefix: str | None
    image_tag: str
    dirs_as_files: bool
    used_secrets: set[str] = field(default_factory=set)
    used_configs: set[str] = field(default_factory=set)
    emitted: set[str] = field(default_factory=set)  # commands already given once

    def command_once(self, builder: Builder, command: str) -> None:
        if command not in self.emitted:
            self.emitted.add(command)
            builder.commands.append(command)

