"""The public surface: ``__all__`` lists exactly the public names, every public
callable documents itself with a runnable example, and every example runs."""

from __future__ import annotations

import doctest
import importlib
import inspect
import pkgutil
import re

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


def test_numerics_functions_document_args_and_returns():
    """Every public numerics function has Args (matching its parameters) and Returns sections."""
    import steerbounds.numerics as numerics

    problems = []
    for name in numerics.__all__:
        obj = getattr(numerics, name)
        if not inspect.isfunction(obj):
            continue
        doc = inspect.getdoc(obj) or ""
        params = list(inspect.signature(obj).parameters)
        if "Returns:" not in doc or (params and "Args:" not in doc):
            problems.append(f"{name}: no Args/Returns")
            continue
        args = doc.split("Args:", 1)[1].split("Returns:", 1)[0] if params else ""
        listed = re.findall(r"^\s{2,}(\w+)(?: \([^)]*\))?:", args, flags=re.M)
        if params and listed != params:
            problems.append(f"{name}: Args list {listed}, signature {params}")
    assert not problems, problems
