"""Every `>>>` example in the package's docstrings runs, and prints what it says it prints.

One test per module; modules whose examples take more than a few seconds are marked `slow`.
"""

from __future__ import annotations

import doctest
import importlib
import io
import os
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "meanfield"
# modules whose examples solve a problem or sample a network for more than a few seconds
SLOW: set[str] = set()
FLAGS = doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE


def _module_names() -> list[str]:
    names = []
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = ("meanfield",) + path.relative_to(PACKAGE).with_suffix("").parts
        if parts[-1] == "__init__":
            parts = parts[:-1]
        names.append(".".join(parts))
    return names


def _examples(name: str):
    module = importlib.import_module(name)
    finder = doctest.DocTestFinder(exclude_empty=True)
    # only the docstrings defined in this module (not those of names it re-exports)
    return [t for t in finder.find(module, name) if t.examples and
            (t.filename is None or Path(t.filename).resolve() == Path(module.__file__).resolve())]


def run_examples(name: str) -> tuple[int, int, str]:
    """(failures, examples run, the runner's report) for one module's docstring examples."""
    os.environ.setdefault("MPLBACKEND", "Agg")
    runner = doctest.DocTestRunner(optionflags=FLAGS)
    out = io.StringIO()
    for test in _examples(name):
        runner.run(test, out=out.write)
    return runner.failures, runner.tries, out.getvalue()


@pytest.mark.parametrize("name", [pytest.param(n, marks=pytest.mark.slow) if n in SLOW else n
                                  for n in _module_names()])
def test_docstring_examples_run(name):
    failures, tries, report = run_examples(name)
    assert failures == 0, f"{failures} of {tries} examples failed in {name}:\n{report}"


def test_the_examples_are_collected():
    """The collection is not vacuous: the package documents itself with many examples, and a
    wrong example is reported as a failure."""
    total = sum(len(t.examples) for n in _module_names() for t in _examples(n))
    assert total >= 80, total
    bad = doctest.DocTestParser().get_doctest(">>> 1 + 1\n3\n", {}, "bad", None, 0)
    runner = doctest.DocTestRunner(optionflags=FLAGS)
    runner.run(bad, out=lambda s: None)
    assert runner.failures == 1
