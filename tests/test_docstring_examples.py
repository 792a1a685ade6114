"""The docstring examples of the ptxseg library run and give what they show.

Each module's examples run in a fresh temporary working folder, so an example that writes a file writes it there.
Examples that need a file the reader does not have (a real radiograph, a data set), a trained model, a running
server or the network are marked ``# doctest: +SKIP``: still correct code, shown but not run.
"""

import doctest
import importlib
import importlib.util
import pkgutil
from pathlib import Path

import pytest

import ptxseg

OPTIONS = doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE


def _modules_with_examples() -> list[str]:
    names = ["ptxseg", *(info.name for info in pkgutil.walk_packages(ptxseg.__path__, "ptxseg."))]
    return sorted(name for name in names if ">>>" in Path(importlib.util.find_spec(name).origin).read_text())


@pytest.mark.parametrize("name", _modules_with_examples())
def test_docstring_examples(name, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    tests = doctest.DocTestFinder().find(importlib.import_module(name))
    assert any(test.examples for test in tests), f"{name} has '>>>' but no example doctest can find"
    runner = doctest.DocTestRunner(optionflags=OPTIONS)
    for test in tests:
        runner.run(test)
    assert runner.summarize(verbose=False).failed == 0
