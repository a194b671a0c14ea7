"""A service's `volumes:`: named and anonymous volumes become the App's claims, bind
mounts become files (or are refused when they are the host's)."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

from app_operator.convert.builder import Builder
from app_operator.convert.compose_project import Project
from app_operator.convert.conversion import Refused
from app_operator.convert.mounts import BindContext, add_bind, add_volume
from app_operator.convert.short_syntax import split_volume


def compose_volumes(builder: Builder, service: Mapping[str, Any], project: Project) -> None:
    declared = project.document.get("volumes") or {}
    context = BindContext(project.files, has_build=bool(service.get("build")),
                          dirs_as_files=project.dirs_as_files)
    for entry in service.get("volumes") or []:
        if isinstance(entry, dict):
            builder.attempt(_compose_long_volume, builder, entry, context)
            continue
        text = str(entry)

        def short(text: str = text) -> None:
            source, target, read_only = split_volume(builder, text, "volumes:")
            if source is not None and not source.startswith((".", "/", "~")) and (
                    "/" not in source and source not in declared):
                builder.warn(f"volumes: {source} is not declared under the top-level volumes:")
            add_volume(builder, source, target, read_only, f"volumes: {text}", context)
        builder.attempt(short)


def _compose_long_volume(builder: Builder, entry: Mapping[str, Any],
                         context: BindContext) -> None:
    kind = entry.get("type", "volume")
    source = entry.get("source")
    target = str(entry.get("target", ""))
    origin = f"volumes: {source or ''}:{target}".replace("volumes: :", "volumes: ")
    if kind == "tmpfs":
        builder.warn(f"volumes: tmpfs at {target} is not translated (an App's volumes are "
                     "persistent); the image's own directory is used instead")
        return
    if kind not in ("volume", "bind"):
        raise Refused(f"volumes: type {kind} at {target} cannot become an App volume")
    for key in sorted(set(entry) - {"type", "source", "target", "read_only", "bind",
                                    "volume", "consistency"}):
        builder.warn(f"{origin}: {key} is not translated")
    if (entry.get("volume") or {}).get("subpath"):
        builder.warn(f"{origin}: volume.subpath is not translated (the whole volume is "
                     "mounted)")
    read_only = bool(entry.get("read_only"))
    if kind == "bind":
        if not source:
            raise Refused(f"{origin}: a bind mount needs a source")
        create = (entry.get("bind") or {}).get("create_host_path", True) is not False
        add_bind(builder, str(source), target, read_only, origin,
                         dataclasses.replace(context, create_missing=create))
        return
    add_volume(builder, str(source) if source else None, target, read_only, origin, context)

