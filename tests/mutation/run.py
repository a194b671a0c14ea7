"""`make mutation`: mutmut over the pure core (model, render, drift, status, convert).

mutmut names a mutant after the path of its module and knows `src/` but not `operator/`, so it
runs in `.mutation/`, a directory of links: `src` -> `operator/`, `tests` -> `tests/`, and the
files the unit tests read. Its configuration is `[tool.mutmut]` in pyproject.toml. Each run
starts afresh (no cached verdicts), then prints the score, killed / (all - skipped) with
timeouts counted as killed (mutmut's own badge formula), and every surviving mutant as a diff.
The whole report is also written to `.mutation/report.md`.

Exit status: 0 when the score reaches --min-score (default 85), 1 otherwise.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
STAGE = ROOT / ".mutation"
LINKS = ("operator", "tests", "crds", "docs", "examples", "manifests", "pyproject.toml")
KILLED = {"killed", "timeout"}


def stage() -> None:
    """A fresh .mutation/ with its links (a previous run's mutants are removed)."""
    shutil.rmtree(STAGE / "mutants", ignore_errors=True)
    STAGE.mkdir(exist_ok=True)
    for name in LINKS:
        link = STAGE / ("src" if name == "operator" else name)
        if link.is_symlink() or link.exists():
            link.unlink()
        link.symlink_to(ROOT / name)


def verdicts() -> dict[str, str]:
    """Each mutant's status, as mutmut's .meta files record it."""
    from mutmut.stats import status_by_exit_code

    result = {}
    for meta in sorted((STAGE / "mutants" / "src").rglob("*.py.meta")):
        for name, code in json.loads(meta.read_text())["exit_code_by_key"].items():
            result[name] = status_by_exit_code[code]
    return result


def diff(name: str) -> str:
    from mutmut.mutation.diff_apply import get_diff_for_mutant

    return get_diff_for_mutant(name)


def report(seconds: float, min_score: float) -> int:
    os.chdir(STAGE)
    results = verdicts()
    by_status = Counter(results.values())
    tested = len(results) - by_status["skipped"]
    killed = sum(by_status[s] for s in KILLED)
    score = 100.0 * killed / tested if tested else 0.0
    lines = [f"# Mutation testing of the pure core ({time.strftime('%Y-%m-%d')})", "",
             f"score {score:.1f}%: {killed} killed of {tested} mutants "
             f"({', '.join(f'{n} {s}' for s, n in sorted(by_status.items()))}), "
             f"{seconds / 60:.1f} minutes", ""]
    per_module = Counter(n.split(".x")[0] for n in results)
    per_module_killed = Counter(n.split(".x")[0] for n, s in results.items() if s in KILLED)
    for module in sorted(per_module):
        lines.append(f"- {module}: {per_module_killed[module]}/{per_module[module]}")
    survivors = [n for n, s in results.items() if s not in KILLED]
    lines += ["", f"## Not killed ({len(survivors)})", ""]
    for name in survivors:
        lines += [f"### {name}: {results[name]}", "```diff", diff(name), "```", ""]
    text = "\n".join(lines)
    (STAGE / "report.md").write_text(text)
    print(text)
    print(f"\nscore {score:.1f}% ({killed}/{tested}); the report is in .mutation/report.md")
    return 0 if score >= min_score else 1


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--min-score", type=float, default=85.0)
    parser.add_argument("--max-children", type=int, default=os.cpu_count() or 2)
    parser.add_argument("--report-only", action="store_true",
                        help="report the last run's verdicts without running again")
    args = parser.parse_args()
    started = time.monotonic()
    if not args.report_only:
        stage()
        mutmut = Path(sys.executable).parent / "mutmut"
        # Derandomized property tests: the same examples for every mutant and every run.
        env = {**os.environ, "HYPOTHESIS_PROFILE": "mutation"}
        with (STAGE / "mutmut.log").open("w") as log:
            done = subprocess.run([str(mutmut), "run", "--max-children",
                                   str(args.max_children)], cwd=STAGE, env=env, stdout=log,
                                  stderr=subprocess.STDOUT)
        if done.returncode != 0:
            print(f"mutmut run failed ({done.returncode}): see .mutation/mutmut.log")
            return done.returncode
    return report(time.monotonic() - started, args.min_score)


if __name__ == "__main__":
    sys.exit(main())
