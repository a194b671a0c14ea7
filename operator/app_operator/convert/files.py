"""The project's files as the converter sees them. It reads them only through a
`SourceFiles`; `DiskFiles` is the one implementation that touches the disk, so that tests and
`docker run` without a project read nothing."""

from __future__ import annotations

import os
import posixpath
import stat
from pathlib import Path
from typing import Literal, Protocol

Kind = Literal["file", "directory", "missing", "other"]


class SourceFiles(Protocol):
    """The files of the project being converted. Paths are relative to the project's
    directory (the compose file's, or the current one for `docker run`) or absolute."""

    def kind(self, path: str) -> Kind: ...

    def read_text(self, path: str) -> str:
        """The file's text; OSError when it cannot be read, ValueError when it is not text."""
        ...

    def executable(self, path: str) -> bool: ...

    def list_files(self, path: str) -> list[str]:
        """The regular files under a directory, recursively, relative to it, sorted."""
        ...

    def relative(self, path: str) -> str | None:
        """An absolute path as a path relative to the project, or None when it is outside."""
        ...

    def display(self, path: str) -> str:
        """The path as the user names it from where they ran the command."""
        ...


class NoFiles:
    """A project whose files cannot be read: every path is missing."""

    def kind(self, path: str) -> Kind:
        return "missing"

    def read_text(self, path: str) -> str:
        raise OSError(2, "reading files is not allowed here", path)

    def executable(self, path: str) -> bool:
        return False

    def list_files(self, path: str) -> list[str]:
        return []

    def relative(self, path: str) -> str | None:
        return None

    def display(self, path: str) -> str:
        return path if path.startswith(("/", "~", ".")) else f"./{path}"


class DiskFiles:
    """The project directory `base` on disk; `shown` is how the user named it."""

    def __init__(self, base: Path, shown: str = "") -> None:
        self.base = base.resolve()
        self.shown = shown

    def _path(self, path: str) -> Path:
        return Path(os.path.expanduser(path)) if path.startswith(("/", "~")) else (
            self.base / path)

    def kind(self, path: str) -> Kind:
        try:
            mode = self._path(path).stat().st_mode
        except OSError:
            return "missing"
        if stat.S_ISREG(mode):
            return "file"
        return "directory" if stat.S_ISDIR(mode) else "other"

    def read_text(self, path: str) -> str:
        data = self._path(path).read_bytes()
        try:
            return data.decode("utf-8")
        except UnicodeDecodeError as error:
            raise ValueError("it is not UTF-8 text") from error

    def executable(self, path: str) -> bool:
        try:
            return bool(self._path(path).stat().st_mode & 0o111)
        except OSError:
            return False

    def list_files(self, path: str) -> list[str]:
        root = self._path(path)
        found = []
        for directory, subdirectories, names in os.walk(root):
            subdirectories.sort()
            for name in names:
                full = Path(directory) / name
                if full.is_file():
                    found.append(full.relative_to(root).as_posix())
        return sorted(found)

    def relative(self, path: str) -> str | None:
        if path.startswith("~"):
            return None
        try:
            return Path(path).resolve().relative_to(self.base).as_posix()
        except ValueError:
            return None

    def display(self, path: str) -> str:
        if path.startswith(("/", "~")):
            return path
        joined = posixpath.normpath(posixpath.join(self.shown, path)) if self.shown else (
            posixpath.normpath(path))
        return joined if joined.startswith(("/", ".")) else f"./{joined}"

def readable(files: SourceFiles, path: str) -> bool:
    try:
        files.read_text(path)
    except (OSError, ValueError):
        return False
    return True

