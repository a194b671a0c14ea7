"""A service's `build:`: the image name the App runs and the `docker build` and
`docker push` commands that make it."""

from __future__ import annotations

import posixpath
import re
import shlex
from collections.abc import Mapping
from typing import Any

from app_operator.convert.builder import Builder
from app_operator.convert.compose_project import Project
from app_operator.convert.compose_secrets import secret_and_config_refs
from app_operator.convert.conversion import Refused
from app_operator.convert.values import compose_mapping


def build_command(builder: Builder, build: Any, image: str,
                   project: Project) -> None:
    """The `docker build` and `docker push` of a service's image, from its `build:`."""
    spec = {"context": build} if isinstance(build, str) else dict(build or {})
    context = str(spec.get("context", "."))
    remote = re.match(r"^(https?://|git@|git://|github\.com/)", context) is not None
    shown_context = context if remote else project.files.display(context)
    words = ["docker", "build", "-t", image]
    if "dockerfile" in spec:
        dockerfile = str(spec["dockerfile"])
        words += ["-f", dockerfile if remote or dockerfile.startswith("/") else
                  project.files.display(posixpath.join(context, dockerfile))]
    if "target" in spec:
        words += ["--target", str(spec["target"])]
    for key, value in compose_mapping(spec.get("args") or {}).items():
        words += ["--build-arg", key if value is None else f"{key}={value}"]
    for key, value in compose_mapping(spec.get("labels") or {}).items():
        words += ["--label", key if value is None else f"{key}={value}"]
    for item in spec.get("cache_from") or []:
        words += ["--cache-from", str(item)]
    if "network" in spec:
        words += ["--network", str(spec["network"])]
    for host in spec.get("extra_hosts") or []:
        words += ["--add-host", str(host)]
    if spec.get("no_cache") in (True, "true"):
        words.append("--no-cache")
    if spec.get("pull") in (True, "true"):
        words.append("--pull")
    if "shm_size" in spec:
        words += ["--shm-size", str(spec["shm_size"])]
    if spec.get("platforms"):
        words += ["--platform", ",".join(str(p) for p in spec["platforms"])]
    for item in spec.get("ssh") or []:
        words += ["--ssh", str(item)]
    words += _build_secrets(builder, spec.get("secrets"), project)
    handled = {"context", "dockerfile", "target", "args", "labels", "cache_from", "network",
               "extra_hosts", "no_cache", "pull", "shm_size", "platforms", "ssh",
               "dockerfile_inline", "secrets"}
    for other in sorted(set(spec) - handled):
        builder.warn(f"build.{other} is not in the `docker build` command below; add it by "
                     "hand")
    if "dockerfile_inline" in spec:
        words += ["-f", "-"]
    words.append(shown_context)
    command = shlex.join(words)
    if "dockerfile_inline" in spec:
        command += " <<'EOF'\n" + str(spec["dockerfile_inline"]).rstrip("\n") + "\nEOF"
    project.command_once(builder, command)
    project.command_once(builder, shlex.join(["docker", "push", image]))


def _build_secrets(builder: Builder, refs: Any, project: Project) -> list[str]:
    """`build.secrets` as `docker build --secret id=NAME,src=FILE` (or `env=VAR`): the secret
    reaches the build only, like under Compose."""
    declared = project.document.get("secrets") or {}
    words: list[str] = []
    for ref in secret_and_config_refs(refs):
        name = str(ref.get("source", ""))
        definition = declared.get(name)
        if definition is None:
            builder.warn(f"build.secrets: {name} is not declared under the top-level "
                         "secrets:; left out of the `docker build` command")
            continue
        project.used_secrets.add(name)
        secret_id = str(ref.get("target") or name)
        if definition.get("file"):
            source = project.files.display(str(definition["file"]))
            words += ["--secret", f"id={secret_id},src={source}"]
        elif definition.get("environment"):
            words += ["--secret", f"id={secret_id},env={definition['environment']}"]
        else:
            builder.warn(f"build.secrets: {name} has neither file nor environment; left out "
                         "of the `docker build` command")
    return words


IMAGE_REFERENCE = re.compile(
    r"^[a-z0-9]+([._-][a-z0-9]+)*(:[0-9]+)?(/[a-z0-9]+([._-]+[a-z0-9]+)*)*$")
TAG = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$")


def service_image(app_name: str, service: Mapping[str, Any],
                   project: Project) -> tuple[str | None, str | None]:
    """The image the App runs and, when there is none, why."""
    image = service.get("image")
    build = service.get("build")
    if not build:
        return (str(image), None) if image else (None, "has neither image nor build")
    if project.image_prefix is None:
        if image:
            return str(image), None
        spec = {"context": build} if isinstance(build, str) else dict(build)
        context = str(spec.get("context", "."))
        dockerfile = str(spec.get("dockerfile", "Dockerfile"))
        return None, (f"has only `build:` ({project.files.display(context)}, {dockerfile}); "
                      "an App runs an image from a registry. Convert again with "
                      "--image-prefix REGISTRY/PATH (e.g. --image-prefix "
                      "registry.example.com/team) to name it REGISTRY/PATH/"
                      f"{app_name}:TAG and get the `docker build` and `docker push` commands")
    tag = project.image_tag
    if image and ":" in str(image).rsplit("/", 1)[-1]:
        tag = str(image).rsplit(":", 1)[-1]
    return f"{project.image_prefix}/{app_name}:{tag}", None



def check_image_prefix(prefix: str, tag: str) -> None:
    if not IMAGE_REFERENCE.match(prefix.rstrip("/")):
        raise Refused(f"--image-prefix {prefix!r} is not a registry path (lowercase, e.g. "
                      "registry.example.com/team or localhost:5000)")
    if not TAG.match(tag):
        raise Refused(f"--image-tag {tag!r} is not an image tag (e.g. v1, latest)")

