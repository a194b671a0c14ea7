"""The README's tour as data: its ```console blocks read into commands and what each must print.

Both the quick checks of tests/docs/test_readme.py (no cluster) and the kind tier's
tests/kind/test_tour.py (every command run against real pods) read the tour from README.md
itself through this module, so the README cannot drift from the product unnoticed.

What a block means: a line starting with `$ ` is a command (a `# comment` after it is the
shell's); the lines after it, up to the next command, are what it prints. The check is loose
where output legitimately varies and strict elsewhere: each shown line must be the start of a
printed line, word for word, in the order shown (other printed lines may come between them, so
a table's header and one row may be shown alone); a word that is an age (`1m`, `2m30s`) matches
any age, and a line `...` only tells the reader that lines were left out.
"""

from __future__ import annotations

import os
import re
import shlex
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
# TOUR_README=FILE runs the tour of another text: to watch the test fail on a README that
# drifted (an old revision's), without touching the checkout's.
README = Path(os.environ.get("TOUR_README", str(ROOT / "README.md")))
CONSOLE_BLOCK = re.compile(r"^```console\n(.*?)^```", re.MULTILINE | re.DOTALL)
# kubectl's ages: 45s, 3m, 2m30s, 5h, 3d12h, and what it prints for a missing time
AGE = re.compile(r"^(?:\d+[smhdy])+$|^<unknown>$|^<invalid>$")
ELLIPSIS = "..."


@dataclass
class Step:
    """One `$ ` command of the tour and the lines the README shows under it."""

    command: str
    shown: list[str] = field(default_factory=list)

    def argv(self) -> list[str]:
        """The command's words as the shell splits them, without its trailing comment."""
        return shlex.split(self.command, comments=True)


def steps(text: str) -> list[Step]:
    """Every command of every ```console block, in the order of the text."""
    found: list[Step] = []
    for block in CONSOLE_BLOCK.findall(text):
        for line in block.splitlines():
            if line.startswith("$ "):
                found.append(Step(line[2:].strip()))
            elif line.strip():
                if not found:
                    raise ValueError(f"output before any command in a console block: {line!r}")
                found[-1].shown.append(line.rstrip())
    return found


def readme_steps() -> list[Step]:
    return steps(README.read_text())


def _words_match(shown: list[str], printed: list[str]) -> bool:
    if len(printed) < len(shown):
        return False
    return all(s == p or (AGE.match(s) is not None and AGE.match(p) is not None)
               for s, p in zip(shown, printed, strict=False))


def unmatched(shown: list[str], output: str) -> list[str]:
    """The shown lines the output does not have (in order), [] when it has them all."""
    printed = [line.split() for line in output.splitlines()]
    position = 0
    for index, line in enumerate(shown):
        words = line.split()
        if not words or line.strip() == ELLIPSIS:
            continue
        while position < len(printed) and not _words_match(words, printed[position]):
            position += 1
        if position == len(printed):
            return [s for s in shown[index:] if s.strip() not in ("", ELLIPSIS)]
        position += 1
    return []
