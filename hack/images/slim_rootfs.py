"""Assembles the operator image's whole root filesystem from a build stage (Dockerfile).

The image is `FROM scratch` plus this directory: the virtual environment, the Python
interpreter it was made with, the part of its standard library a server uses, the shared
libraries all of these link against (found with ldd), and a few files in /etc. No shell, no
package manager, no pip, no compiler. It works the same on Debian's python3 (/usr/bin,
`make images` here) and on the public python image (/usr/local), since every path comes from
the interpreter itself.

    python3 slim_rootfs.py /opt/app-operator /rootfs

Run by the build stage's own python3 (not the venv's), as root: `ldconfig -r` and the final
check (`chroot`) need it.
"""

from __future__ import annotations

import compileall
import os
import re
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

# What a server never imports: tests, tools for people at a terminal, build machinery.
STDLIB_PRUNED = {
    "test", "idlelib", "tkinter", "turtledemo", "ensurepip", "lib2to3", "pydoc_data",
    "distutils", "venv", "curses", "dbm", "sqlite3", "turtle.py", "EXTERNALLY-MANAGED",
}
# Extension modules nobody imports here; several pull in libraries of their own (readline,
# ncurses, sqlite, Berkeley DB, NIS).
DYNLOAD_PRUNED = re.compile(
    r"^(_test\w*|_ctypes_test|_xxtestfuzz|xxlimited\w*|_xxsubinterpreters|_curses\w*|readline"
    r"|_dbm|_gdbm|_sqlite3|nis|ossaudiodev|audioop|_tkinter)\.")
# The venv's installers, and the kubernetes client's asyncio twin (kubernetes.aio, two thirds
# of the package): `import kubernetes` does not load it and neither the operator nor kopf
# uses it. check_unused() fails the build if something starts to.
VENV_PRUNED = ["pip", "setuptools", "pkg_resources", "_distutils_hack", "distutils-precedence.pth",
               "kubernetes/aio"]
VENV_PRUNED_GLOBS = ["pip-*.dist-info", "setuptools-*.dist-info"]
# The kubernetes client's generated API classes and models, loaded lazily: the operator, which
# sends its requests through ApiClient (kept as source), loads a dozen of the 900. Shipped as
# bytecode only, which halves them (about 30 MB); a traceback through one of them would show
# file and line without the source text.
SOURCELESS = ["kubernetes/client/api", "kubernetes/client/models"]
BIN_PRUNED = re.compile(r"^(pip.*|activate.*|Activate\.ps1)$")
# Loaded with dlopen, so ldd does not name it: glibc needs it to unwind a thread that exits
# (pthread_exit, which CPython calls for daemon threads at shutdown).
DLOPENED = ["libgcc_s.so.1"]

PASSWD = ("root:x:0:0:root:/root:/sbin/nologin\n"
          "app-operator:x:10001:10001:app-operator:/nonexistent:/sbin/nologin\n")
GROUP = "root:x:0:\napp-operator:x:10001:\n"
NSSWITCH = "passwd: files\ngroup: files\nhosts: files dns\n"


def log(message: str) -> None:
    print(f"[slim-rootfs] {message}", file=sys.stderr, flush=True)


def copy_path(path: str, root: Path) -> None:
    """Copies `path` to the same place under `root`, symlinks as symlinks: every link on the
    way (/lib -> usr/lib, python3 -> python3.11) is made again and followed."""
    source = Path("/")
    for part in Path(path).parts[1:]:
        source = source / part
        target = root / source.relative_to("/")
        if source.is_symlink():
            link = os.readlink(source)
            if not target.is_symlink():
                target.parent.mkdir(parents=True, exist_ok=True)
                target.symlink_to(link)
            copy_path(os.path.normpath(os.path.join(source.parent, link)), root)
            source = Path(os.path.realpath(source))
        elif source.is_dir():
            target.mkdir(parents=True, exist_ok=True)
            shutil.copystat(source, target)
        elif not target.exists():
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target)


def copy_tree(top: Path, root: Path, skip: set[str] | None = None,
              skip_file: re.Pattern[str] | None = None) -> None:
    for directory, dirs, files in os.walk(top):
        if skip and Path(directory) == top:
            dirs[:] = [d for d in dirs if d not in skip]
            files = [f for f in files if f not in skip]
        dirs[:] = [d for d in dirs if d != "__pycache__"]  # compiled again below
        copy_path(directory, root)
        for name in [d for d in dirs if os.path.islink(os.path.join(directory, d))]:
            copy_path(os.path.join(directory, name), root)  # os.walk does not enter links
        for name in files:
            if skip_file and skip_file.match(name):
                continue
            copy_path(os.path.join(directory, name), root)


def prune_venv(venv: Path) -> Path:
    site = Path(next(iter(venv.glob("lib/python3*/site-packages"))))
    for name in VENV_PRUNED:
        path = site / name
        if path.is_dir():
            shutil.rmtree(path)
        elif path.exists():
            path.unlink()
    for pattern in VENV_PRUNED_GLOBS:
        for path in site.glob(pattern):
            shutil.rmtree(path)
    for path in (venv / "bin").iterdir():
        if BIN_PRUNED.match(path.name):
            path.unlink()
    # A build script some wheels ship inside the package (ruamel.yaml's clibz/setup.py): never
    # imported at run time, and it imports setuptools, which is pruned.
    for path in site.rglob("setup.py"):
        path.unlink()
    return site


def check_unused(site: Path) -> None:
    """The pruned packages must stay unused: no module left may import them."""
    pattern = re.compile(rb"^\s*(import|from)\s+(pip|setuptools|pkg_resources)\b"
                         rb"|kubernetes\.aio|from\s+kubernetes\s+import\s+aio", re.MULTILINE)
    users = [str(path) for path in site.rglob("*.py") if pattern.search(path.read_bytes())]
    if users:
        raise SystemExit(f"pruned packages are imported by: {', '.join(users[:10])}")


def elf_files(root: Path) -> list[Path]:
    found = []
    for path in root.rglob("*"):
        if path.is_file() and not path.is_symlink():
            with path.open("rb") as handle:
                if handle.read(4) == b"\x7fELF":
                    found.append(path)
    return found


def linked_libraries(files: list[Path], root: Path) -> set[str]:
    """Every library the files need, as ldd resolves it on the build stage."""
    libraries: set[str] = set()
    for path in files:
        result = subprocess.run(["ldd", str(path)], capture_output=True, text=True, check=False)
        if "not a dynamic executable" in result.stdout + result.stderr:
            continue
        for line in result.stdout.splitlines():
            if "not found" in line:
                raise SystemExit(f"{path.relative_to(root)}: {line.strip()}")
            match = re.search(r"(?:=>\s*)?(/\S+)\s+\(0x", line)
            if match:
                libraries.add(match.group(1))
    return libraries


def dlopened_libraries() -> set[str]:
    cache = subprocess.run(["ldconfig", "-p"], capture_output=True, text=True,
                           check=True).stdout
    found = set()
    for name in DLOPENED:
        match = re.search(rf"^\s*{re.escape(name)} \(libc6,x86-64\) => (\S+)$", cache,
                          re.MULTILINE)
        if match is None:
            raise SystemExit(f"{name} not found on the build stage (ldconfig -p)")
        found.add(match.group(1))
    return found


def size(root: Path) -> float:
    total = sum(p.lstat().st_size for p in root.rglob("*") if p.is_file() or p.is_symlink())
    return total / 1e6


def main() -> None:
    venv, root = Path(sys.argv[1]), Path(sys.argv[2])
    root.mkdir(parents=True, exist_ok=True)

    site = prune_venv(venv)
    check_unused(site)
    log(f"venv {venv} pruned")
    copy_tree(venv, root)

    # The interpreter the venv was made with (bin/python3 links to it) and its stdlib.
    copy_path(str(venv / "bin" / "python3"), root)
    stdlib = Path(sysconfig.get_paths()["stdlib"])
    dynload = Path(sysconfig.get_config_var("DESTSHARED") or stdlib / "lib-dynload")
    copy_tree(stdlib, root, skip=STDLIB_PRUNED | {dynload.name, "site-packages",
                                                    "dist-packages"})
    copy_tree(dynload, root, skip_file=DYNLOAD_PRUNED)
    log(f"interpreter {os.path.realpath(venv / 'bin' / 'python3')} and stdlib {stdlib} copied")

    libraries = linked_libraries(elf_files(root), root) | dlopened_libraries()
    for library in sorted(libraries):
        copy_path(library, root)
    log(f"{len(libraries)} shared libraries copied")

    etc = root / "etc"
    etc.mkdir(exist_ok=True)
    for conf in ("/etc/ld.so.conf", "/etc/ld.so.conf.d"):
        if os.path.exists(conf):
            if os.path.isdir(conf):
                copy_tree(Path(conf), root)
            else:
                copy_path(conf, root)
    (etc / "passwd").write_text(PASSWD)
    (etc / "group").write_text(GROUP)
    (etc / "nsswitch.conf").write_text(NSSWITCH)
    tmp = root / "tmp"
    tmp.mkdir(exist_ok=True)
    tmp.chmod(0o1777)
    subprocess.run(["ldconfig", "-r", str(root)], check=True)

    # Bytecode for every module, made for the paths it will have in the image (the file
    # system is read-only there, so nothing could be cached at run time).
    for name in SOURCELESS:
        top = root / site.relative_to("/") / name
        if not compileall.compile_dir(top, quiet=1, stripdir=str(root), prependdir="/",
                                      legacy=True, workers=0):
            raise SystemExit(f"compileall failed in {top}")
        for source in top.rglob("*.py"):
            source.unlink()
    for top in (root / venv.relative_to("/"), root / stdlib.relative_to("/")):
        if not compileall.compile_dir(top, quiet=1, stripdir=str(root), prependdir="/",
                                      workers=0):
            raise SystemExit(f"compileall failed in {top}")
    log("bytecode compiled")

    # The image, tried before it is one: the operator imports and its CLI answers.
    chroot = shutil.which("chroot") or "/usr/sbin/chroot"
    subprocess.run([chroot, "--userspec=10001:10001", str(root),
                    str(venv / "bin" / "app-operator"), "--help"],
                   check=True, stdout=subprocess.DEVNULL, env={"PATH": str(venv / "bin")})
    log(f"root filesystem ready: {size(root):.1f} MB")


if __name__ == "__main__":
    main()
