"""The bugs an audit planted by hand in the pure core (issue 16), planted again one at a time
in a copy of the package, each followed by a run of the unit tier: each must be caught.

    .venv/bin/python tests/mutation/planted.py

Prints one line per bug, caught or not, and exits 1 when one is not caught. The copy lives in
a temporary directory; the checkout is never changed."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

# (what, file, the code as it is, the code with the bug)
BUGS = [
    ("a Service without a type becomes a NodePort", "core/render.py",
     'service_type = spec.service.type if spec.service else "ClusterIP"',
     'service_type = spec.service.type if spec.service else "NodePort"'),
    ("a controller reference matched by name instead of uid", "runtime/reconcile.py",
     'if ref.get("uid") == app.uid:', 'if ref.get("name") == app.name:'),
    ("drift compares list lengths with >", "core/drift.py",
     "len(desired) != len(live)", "len(desired) > len(live)"),
    ("${VAR-x} treated like ${VAR:-x}", "convert/interpolation.py",
     'empty = current is None or (current == "" and operator.startswith(":"))',
     'empty = current is None or current == ""'),
    ("Ready before the Service exists", "core/status.py",
     "if spec.ports and observed.service is None:", "if False:"),
    ("Service links on", "core/render.py",
     '"enableServiceLinks": False,', '"enableServiceLinks": True,'),
    ("no https short form in the url", "core/status.py",
     'if (scheme, number) in (("http", 80), ("https", 443)):',
     'if (scheme, number) == ("http", 80):'),
    ("a kept claim (data of a deleted App) is taken over by a new App", "core/render.py",
     'if annotations.get(KEPT_ANNOTATION) == "true":\n        return True',
     'if annotations.get(KEPT_ANNOTATION) == "true":\n        return False'),
]


def main() -> int:
    missed = 0
    with tempfile.TemporaryDirectory(prefix="planted-") as temp:
        for what, path, before, after in BUGS:
            copy = Path(temp) / "operator"
            shutil.rmtree(copy, ignore_errors=True)
            shutil.copytree(ROOT / "operator" / "app_operator", copy / "app_operator",
                            ignore=shutil.ignore_patterns("__pycache__"))
            target = copy / "app_operator" / path
            text = target.read_text()
            if text.count(before) != 1:
                print(f"cannot plant '{what}': the code it changes is not in {path} once")
                return 2
            target.write_text(text.replace(before, after))
            env = {**os.environ, "PYTHONPATH": str(copy)}
            done = subprocess.run(
                [sys.executable, "-m", "pytest", "-x", "-q", "-p", "no:cacheprovider",
                 "tests/unit"], cwd=ROOT, env=env, capture_output=True, text=True)
            caught = done.returncode == 1
            failed = [line.split(" ")[1] for line in done.stdout.splitlines()
                      if line.startswith("FAILED ")]
            print(f"{'caught' if caught else 'MISSED'}: {what} ({path})"
                  + (f" by {failed[0]}" if failed else ""))
            missed += not caught
    print(f"{len(BUGS) - missed} of {len(BUGS)} planted bugs caught by the unit tier")
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main())
