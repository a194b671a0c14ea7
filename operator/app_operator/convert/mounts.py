"""What a mount's source is: a named or anonymous volume (a claim), a file of the project
(its content, inline), a directory (source code already in the image, files copied, or a data
directory Docker would create: a claim), or the host's own files (refused)."""

from __future__ import annotations

import posixpath
import re
from dataclasses import dataclass

from app_operator.convert.builder import FILES_MAX, Builder
from app_operator.convert.conversion import Refused
from app_operator.convert.files import NoFiles, SourceFiles, readable
from app_operator.convert.values import dns_label, size_text
from app_operator.core import model

TEXT = re.compile(model.TEXT_PATTERN)
DEFAULT_SIZE = model.DEFAULT_VOLUME_SIZE  # a claim given no size
FILE_LIKE = re.compile(r"[^.]\.(conf|cfg|ini|json|ya?ml|toml|xml|txt|env|sh|py|js|php|lua|"
                       r"pem|crt|key|cert|sql|db|sqlite3?|log|html?|properties)$", re.IGNORECASE)
# The host's time zone, mounted so that a container's clock shows local time: nothing but the
# zone is lost when it is left out, and the TZ variable gives it back.
CLOCK_FILES = {"/etc/localtime", "/etc/timezone"}
HOST_PATH_ADVICE = {
    "/var/run/docker.sock": "the Docker socket gives the container control of the host",
    "/run/docker.sock": "the Docker socket gives the container control of the host",
    "/etc/localtime": "set the TZ variable instead (e.g. TZ=Europe/Berlin)",
    "/etc/timezone": "set the TZ variable instead (e.g. TZ=Europe/Berlin)",
}


@dataclass
class BindContext:
    """What a bind mount needs to know about its service and project."""

    files: SourceFiles
    has_build: bool = False
    dirs_as_files: bool = False
    # Docker creates a missing source of `-v ./data:/data` (and Compose of its short syntax,
    # and of the long one unless `bind.create_host_path: false`); `--mount` refuses it.
    create_missing: bool = True


def add_volume(builder: Builder, source: str | None, target: str, read_only: bool, origin: str,
               context: BindContext | None = None) -> None:
    if not target.startswith("/"):
        raise Refused(f"{origin}: mount target {target!r} is not an absolute path")
    if source is not None and (source.startswith(("/", ".", "~")) or "/" in source
                               or "\\" in source):
        add_bind(builder, source, target, read_only, origin, context or BindContext(NoFiles()))
        return
    if source is None:
        volume_name = dns_label(target.strip("/") or "root", "mount path")
        builder.anonymous.add(target.rstrip("/") or "/")
        builder.warn(f"{origin}: anonymous volume at {target} becomes the persistent volume "
                     f"{volume_name!r} (a claim that outlives the pod; it starts empty, not "
                     "with the image's files)")
    else:
        volume_name = dns_label(source, "volume")
    builder.add_claim(volume_name, target, read_only, origin,
                      None if source is None else f"volume:{source}")


def add_bind(builder: Builder, source: str, target: str, read_only: bool, origin: str,
             context: BindContext) -> None:
    """A bind mount: a file of the project becomes a file of the App; a directory of a
    service that is built is its source code, already in the image; a host path is
    refused."""
    files = context.files
    if source.startswith("~"):
        raise Refused(f"{origin}: {source} is a path in your home directory on this "
                      "machine; an App cannot mount the host's files. Use a named volume "
                      "(and copy the data into it) or build the files into the image")
    relative: str | None = source
    if source.startswith("/"):
        relative = files.relative(source)
        if relative is None and source.rstrip("/") in CLOCK_FILES and target.rstrip(
                "/") in CLOCK_FILES:
            builder.warn(f"{origin}: left out: the container cannot read the host's time "
                         "zone; it keeps UTC unless you set the TZ variable (e.g. "
                         "TZ=Europe/Berlin)")
            return
        if relative is None:
            advice = HOST_PATH_ADVICE.get(source.rstrip("/"),
                                          "use a named volume (and copy the data into it) "
                                          "or build the files into the image")
            raise Refused(f"{origin}: {source} is a host path; an App cannot mount the "
                          f"host's files: {advice}")
    path = posixpath.normpath(relative or ".")
    shown = files.display(path)
    kind = files.kind(path)
    if kind == "missing":
        _missing_directory(builder, path, shown, target, read_only, origin, context)
        return
    if kind == "other":
        raise Refused(f"{origin}: {shown} is neither a file nor a directory (a socket or "
                      "a device); an App cannot mount it")
    if kind == "file":
        add_file_from(builder, path, shown, target, read_only, origin, files)
        return
    if context.has_build:
        builder.dropped_binds.append((target.rstrip("/") or "/", shown))
        builder.warn(f"{origin}: left out: {shown} is a directory of source code mounted for "
                     "live reload; the image built for this service already contains it")
        return
    listing = files.list_files(path)
    if not context.dirs_as_files:
        total = sum(len(files.read_text(posixpath.join(path, name)).encode())
                    for name in listing[:FILES_MAX + 1]
                    if readable(files, posixpath.join(path, name)))
        hint = (f"; or convert again with --files-from-dirs to mount its {len(listing)} "
                f"file(s) ({total} bytes) read-only, one by one"
                if 0 < len(listing) <= FILES_MAX else "")
        raise Refused(f"{origin}: {shown} is a directory; an App cannot mount a directory "
                      f"of your machine. Build its files into the image (COPY) or put "
                      f"them in a volume{hint}")
    if not listing:
        builder.warn(f"{origin}: {shown} is an empty directory; left out")
        return
    for name in listing:
        add_file_from(builder, posixpath.join(path, name), files.display(
            posixpath.join(path, name)), posixpath.join(target, name), True, origin, files)
    builder.warn(f"{origin}: the {len(listing)} file(s) of {shown} are copied into the App "
                 f"as read-only files under {target}; files the container writes there are "
                 "not kept, and files added later to the directory do not appear")


def _missing_directory(builder: Builder, path: str, shown: str, target: str, read_only: bool,
                       origin: str, context: BindContext) -> None:
    """A bind source that does not exist yet is where Docker creates an empty directory
    and keeps what the container writes (`./data:/var/lib/postgresql/data`): a
    persistent claim. A name that looks like a file's is more likely a file forgotten."""
    if not context.create_missing:
        raise Refused(f"{origin}: {shown} does not exist (Docker refuses a missing bind "
                      "source here too); create it, or use a named volume")
    if FILE_LIKE.search(posixpath.basename(path)) or FILE_LIKE.search(
            posixpath.basename(target.rstrip("/"))):
        raise Refused(f"{origin}: {shown} does not exist, and its name is a file's: "
                      "create the file (Docker would mount an empty directory in its "
                      "place), or use a named volume")
    if read_only:
        raise Refused(f"{origin}: {shown} does not exist, and is mounted read-only: the "
                      "container would see an empty directory it cannot write; create it "
                      "with its files, or use a named volume")
    if path in ("", ".") or path.startswith("../"):
        raise Refused(f"{origin}: {shown} does not exist and is outside the project; "
                      "use a named volume")
    name = dns_label(path, "bind source")
    if builder.add_claim(name, target, read_only, origin, f"bind:{path}"):
        builder.warn(f"{origin}: {shown} does not exist yet; Docker would create it empty and "
                     "keep the container's data there, so it becomes the persistent volume "
                     f"{name!r} mounted at {target} (a claim of {DEFAULT_SIZE}, "
                     "the default size: set spec.volumes[].size for more)")


def add_file_from(builder: Builder, path: str, shown: str, target: str, read_only: bool,
                   origin: str, files: SourceFiles) -> None:
    try:
        content = files.read_text(path)
    except OSError as error:
        raise Refused(f"{origin}: cannot read {shown}: {error.strerror or error}") from error
    except ValueError as error:
        raise Refused(f"{origin}: {shown} is not a text file ({error}); build it into the "
                      "image or put it in a volume") from error
    if not TEXT.match(content):
        raise Refused(f"{origin}: {shown} holds control characters (a binary file?); "
                      "build it into the image or put it in a volume")
    if len(content) > model.FILES_CONTENT_MAX:
        raise Refused(f"{origin}: {shown} has {size_text(content)}, more than the "
                      f"{model.FILES_CONTENT_MAX // 1024} KiB an App's files may hold in "
                      "all; build it into the image or put it in a volume")
    mode = 0o755 if files.executable(path) else None
    builder.add_file(target, origin, content=content, mode=mode)
    if not read_only:
        builder.warn(f"{origin}: {target} is mounted read-only (from {shown}); the container "
                     "cannot change it")
