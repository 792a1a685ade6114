"""The docstring examples of PneumothoraxAnnotatorLib run and give what they show."""

import doctest
import importlib
import pkgutil

import PneumothoraxAnnotatorLib
import pytest

MODULES = sorted(info.name for info in pkgutil.iter_modules(PneumothoraxAnnotatorLib.__path__))


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name):
    module = importlib.import_module(f"PneumothoraxAnnotatorLib.{name}")
    failed, attempted = doctest.testmod(module, optionflags=doctest.ELLIPSIS)
    assert failed == 0
