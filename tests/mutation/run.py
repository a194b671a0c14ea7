"""`make mutation`: mutmut over the pure core (model, render, drift, status, convert).

mutmut names a mutant after the path of its module and knows `src/` but not `operator/`, so it
runs in `.mutation/`: `src` links to `operator/`, `tests` to `tests/`, and so on for the files
the unit tests read. Its configuration is `[tool.mutmut]` in pyproject.toml, copied there.

1. The selected tests run once on the code as it is. mutmut needs them green; a test that
   fails there shows a real bug not fixed yet: it is named, and left out of the mutation run.
2. mutmut runs every mutant, each in a process forked from one that imported everything.
3. A function the pure modules call while they are imported (the CEL rules and the field
   types of model.py, the flag table of convert/docker_run.py) has already run, unmutated, in
   that process, so none of its mutants could be killed there (and mutmut finds no test that
   calls it). Those mutants run again, each in a fresh `pytest -x` over the whole selection
   that imports the mutated modules with the mutant active (MUTANT_UNDER_TEST); a mutant
   that breaks the import itself is killed too.
4. The score: killed / (all - skipped), timeouts counted as killed (mutmut's own formula),
   and every mutant not killed, as a diff; also in `.mutation/report.md`.

Exit status: 0 when the score reaches --min-score (default 85), 1 below, 2 when mutmut fails.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
import tomllib
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
STAGE = ROOT / ".mutation"
LINKS = {"src": "operator", "tests": "tests", "crds": "crds", "docs": "docs",
         "examples": "examples", "manifests": "manifests"}
KILLED = {"killed", "timeout"}
PURE = ("core.model", "core.render", "core.drift", "core.status", "convert.docker_run",
        "convert.short_syntax", "convert.builder", "convert.mounts", "convert.files",
        "convert.values", "convert.interpolation", "convert.compose", "convert.compose_schema",
        "convert.compose_service", "convert.compose_volumes", "convert.compose_secrets",
        "convert.compose_build", "convert.compose_reach", "convert.compose_warnings")
# Step 3 runs these first: they kill most mutants of the import-time functions at once.
FIRST = ("tests/unit/test_crd.py", "tests/unit/test_model.py", "tests/unit/test_convert.py")


def settings() -> dict[str, object]:
    config: dict[str, object] = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"][
        "mutmut"]
    return config


def toml_value(value: object) -> str:
    return json.dumps(value)  # strings, lists of strings and booleans read the same in TOML


def write_config(deselect: list[str], only: list[str]) -> None:
    """.mutation/pyproject.toml: [tool.mutmut] and pytest's settings of the checkout, with
    the tests that fail on the code as it is left out (and only the modules `only` names,
    when it names any)."""
    config = dict(settings())
    if only:
        config["only_mutate"] = [path for path in config["only_mutate"]  # type: ignore[attr-defined]
                                 if Path(path).stem in only]
    config["pytest_add_cli_args"] = [*config.get("pytest_add_cli_args", []),  # type: ignore[misc]
                                     *deselect_args(deselect)]
    lines = ["[tool.mutmut]"] + [f"{key} = {toml_value(value)}" for key, value in config.items()]
    pytest_config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["pytest"][
        "ini_options"]
    lines += ["", "[tool.pytest.ini_options]"] + [
        f"{key} = {toml_value(value)}" for key, value in pytest_config.items()]
    target = STAGE / "pyproject.toml"
    if target.is_symlink():
        target.unlink()  # an older run linked it: never write through to the checkout's
    target.write_text("\n".join(lines) + "\n")


def deselect_args(tests: list[str]) -> list[str]:
    return [arg for test in tests for arg in ("--deselect", test)]


def selection() -> list[str]:
    return [str(t) for t in settings()["pytest_add_cli_args_test_selection"]]  # type: ignore[attr-defined]


def stage() -> None:
    """A fresh .mutation/ (a previous run's mutants are removed) with its links."""
    shutil.rmtree(STAGE / "mutants", ignore_errors=True)
    STAGE.mkdir(exist_ok=True)
    for link, target in LINKS.items():
        path = STAGE / link
        if path.is_symlink() or path.exists():
            path.unlink()
        path.symlink_to(ROOT / target)


def failing_tests() -> list[str]:
    """The selected tests that fail on the code as it is."""
    done = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                           "-rf", *selection()], cwd=ROOT, capture_output=True, text=True,
                          env={**os.environ, "HYPOTHESIS_PROFILE": "mutation"})
    return sorted({line.split()[1] for line in done.stdout.splitlines()
                   if line.startswith("FAILED ")})


IMPORT_TIME_PROBE = """
import json, sys
pure = {f"{sys.argv[1]}/{name.replace('.', '/')}.py": name for name in sys.argv[2:]}
called = set()
def profile(frame, event, arg):
    if event == "call" and frame.f_code.co_filename in pure:
        called.add((pure[frame.f_code.co_filename], frame.f_code.co_qualname))
sys.setprofile(profile)
for name in sys.argv[2:]:
    __import__(f"app_operator.{name}")
sys.setprofile(None)
print(json.dumps(sorted(called)))
"""


def import_time_mutants(known: set[str], only: list[str]) -> list[str]:
    """The mutants of every function the pure modules call while they are imported."""
    package = ROOT / "operator" / "app_operator"
    modules = [m for m in PURE if not only or m.rsplit(".", 1)[-1] in only]
    done = subprocess.run([sys.executable, "-c", IMPORT_TIME_PROBE, str(package), *modules],
                          capture_output=True, text=True, check=True)
    prefixes = []
    for module, qualname in json.loads(done.stdout):
        if "<locals>" in qualname or qualname.startswith("<"):
            continue  # a closure is mutated with the function around it
        *owner, name = qualname.split(".")
        mangled = f"xǁ{owner[0]}ǁ{name}" if owner else f"x_{name}"
        prefixes.append(f"app_operator.{module}.{mangled}__mutmut_")
    return sorted(k for k in known if k.startswith(tuple(prefixes)))


def run_fresh(name: str, deselected: list[str]) -> str:
    """One mutant in a fresh process: pytest imports the mutated modules with it active."""
    ordered = [*FIRST, *(t for t in selection() if t not in FIRST)]
    env = {**os.environ, "HYPOTHESIS_PROFILE": "mutation", "MUTANT_UNDER_TEST": name,
           "PYTHONPATH": str(STAGE / "mutants" / "src")}
    try:
        done = subprocess.run(
            [sys.executable, "-m", "pytest", "-x", "-q", "-p", "no:cacheprovider", "--rootdir=.",
             *ordered, *deselect_args(deselected)], cwd=STAGE / "mutants", env=env,
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=900)
    except subprocess.TimeoutExpired:
        return "timeout"
    # 1 a test failed; 2, 3, 4: collection, pytest or a conftest failed: the mutant breaks
    # the import itself (the same run without a mutant passes: fresh_pass checks).
    return {0: "survived", 1: "killed", 2: "killed", 3: "killed", 4: "killed"}.get(
        done.returncode, "suspicious")


def fresh_pass(names: list[str], deselected: list[str], workers: int) -> None:
    if run_fresh("", deselected) != "survived":
        raise SystemExit("the tests fail in a fresh process without a mutant: see "
                         "tests/mutation/run.py, run_fresh")
    results: dict[str, str] = {}
    with ThreadPoolExecutor(workers) as pool:
        for name, verdict in zip(names, pool.map(lambda n: run_fresh(n, deselected), names),
                                 strict=True):
            results[name] = verdict
    (STAGE / "fresh-imports.json").write_text(json.dumps(results, indent=1))


def verdicts() -> dict[str, str]:
    """Each mutant's status, as mutmut's .meta files record it."""
    from mutmut.stats import status_by_exit_code

    result = {}
    for meta in sorted((STAGE / "mutants" / "src").rglob("*.py.meta")):
        for name, code in json.loads(meta.read_text())["exit_code_by_key"].items():
            result[name] = status_by_exit_code[code]
    fresh = STAGE / "fresh-imports.json"
    if fresh.exists():  # step 3's verdicts replace mutmut's for those mutants
        result.update(json.loads(fresh.read_text()))
    return result


def mutmut(*args: str) -> int:
    with (STAGE / "mutmut.log").open("a") as log:
        log.write(f"\n$ mutmut {' '.join(args)}\n")
        log.flush()
        env = {**os.environ, "HYPOTHESIS_PROFILE": "mutation"}
        return subprocess.run([str(Path(sys.executable).parent / "mutmut"), *args], cwd=STAGE,
                              env=env, stdout=log, stderr=subprocess.STDOUT).returncode


def report(seconds: float, min_score: float, deselected: list[str]) -> int:
    from mutmut.mutation.diff_apply import get_diff_for_mutant

    os.chdir(STAGE)
    results = verdicts()
    by_status = Counter(results.values())
    tested = len(results) - by_status["skipped"]
    killed = sum(by_status[s] for s in KILLED)
    score = 100.0 * killed / tested if tested else 0.0
    lines = [f"# Mutation testing of the pure core ({time.strftime('%Y-%m-%d')})", "",
             f"score {score:.1f}%: {killed} killed of {tested} mutants "
             f"({', '.join(f'{n} {s}' for s, n in sorted(by_status.items()))}), "
             f"{seconds / 60:.0f} minutes", ""]
    if deselected:
        lines += ["Left out, failing on the code as it is (bugs not fixed yet):", ""]
        lines += [f"- {test}" for test in deselected] + [""]
    modules = Counter(n.split(".x")[0] for n in results)
    killed_in = Counter(n.split(".x")[0] for n, s in results.items() if s in KILLED)
    for module in sorted(modules):
        lines.append(f"- {module}: {killed_in[module]}/{modules[module]} "
                     f"({100 * killed_in[module] / modules[module]:.1f}%)")
    survivors = [n for n, s in results.items() if s not in KILLED]
    functions = Counter(n.split("__mutmut_")[0] for n in survivors)
    lines += ["", "Not killed, by function:", ""]
    lines += [f"- {name}: {count}" for name, count in functions.most_common()]
    lines += ["", f"## Not killed ({len(survivors)})", ""]
    for name in survivors:
        lines += [f"### {name}: {results[name]}", "```diff", get_diff_for_mutant(name), "```",
                  ""]
    (STAGE / "report.md").write_text("\n".join(lines))
    print("\n".join(lines[:lines.index(f"## Not killed ({len(survivors)})")]))
    print(f"score {score:.1f}% ({killed}/{tested}); every mutant not killed, with its diff, "
          "is in .mutation/report.md")
    return 0 if score >= min_score else 1


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--min-score", type=float, default=85.0)
    parser.add_argument("--max-children", type=int, default=os.cpu_count() or 2)
    parser.add_argument("--only", action="append", default=[], metavar="MODULE",
                        help="mutate only this module (model, render, drift, status, "
                             "converter); may be given again")
    parser.add_argument("--report-only", action="store_true",
                        help="report the last run's verdicts without running again")
    args = parser.parse_args()
    started = time.monotonic()
    deselected: list[str] = []
    if not args.report_only:
        stage()
        (STAGE / "mutmut.log").write_text("")
        deselected = failing_tests()
        for test in deselected:
            print(f"warning: fails on the code as it is, left out: {test}")
        (STAGE / "deselected.json").write_text(json.dumps(deselected))
        write_config(deselected, args.only)
        children = str(args.max_children)
        if mutmut("run", "--max-children", children) != 0:
            print("mutmut run failed: see .mutation/mutmut.log")
            return 2
        (STAGE / "fresh-imports.json").unlink(missing_ok=True)
        fresh_pass(import_time_mutants(set(verdicts()), args.only), deselected,
                   args.max_children)
    elif (STAGE / "deselected.json").exists():
        deselected = json.loads((STAGE / "deselected.json").read_text())
    return report(time.monotonic() - started, args.min_score, deselected)


if __name__ == "__main__":
    sys.exit(main())
