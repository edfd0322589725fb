"""The public surface: ``__all__`` lists exactly the public names, every public
callable documents itself with a runnable example, and every example runs."""

from __future__ import annotations

import doctest
import importlib
import inspect
import pkgutil

import pytest

import steerbounds

LAYERS = ["steerbounds", "steerbounds.theory", "steerbounds.numerics", "steerbounds.validation",
          "steerbounds.validation.studies", "steerbounds.testing"]


def _all_modules() -> list[str]:
    names = []
    for layer in LAYERS[1:]:
        package = importlib.import_module(layer)
        names.append(layer)
        if hasattr(package, "__path__"):  # a package: its private modules too
            names += [m.name for m in pkgutil.walk_packages(package.__path__, prefix=layer + ".")]
    return list(dict.fromkeys(["steerbounds", *names]))  # a subpackage listed as a layer is walked once


@pytest.mark.parametrize("layer", LAYERS)
def test_all_matches_public_names(layer):
    module = importlib.import_module(layer)
    public = {
        name
        for name, value in vars(module).items()
        if not name.startswith("_") and not inspect.ismodule(value)
    }
    listed = {n for n in module.__all__ if not n.startswith("_")}
    assert listed == public, (
        f"{layer}.__all__ and its public names differ: "
        f"missing from __all__ {sorted(public - listed)}, listed but absent {sorted(listed - public)}"
    )


@pytest.mark.parametrize("layer", LAYERS)
def test_public_callables_carry_an_example(layer):
    module = importlib.import_module(layer)
    lacking = [
        name
        for name in module.__all__
        if callable(getattr(module, name)) and ">>>" not in (inspect.getdoc(getattr(module, name)) or "")
    ]
    assert not lacking, f"{layer}: public callables without a runnable example: {lacking}"


@pytest.mark.parametrize("module_name", _all_modules())
def test_docstring_examples_run(module_name):
    module = importlib.import_module(module_name)
    finder = doctest.DocTestFinder(exclude_empty=True)
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    for test in finder.find(module, module_name):
        runner.run(test)
    result = runner.summarize(verbose=False)
    assert result.failed == 0, f"{result.failed} doctest example(s) failed in {module_name}"
