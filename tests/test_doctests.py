"""Every example in the package's docstrings runs (examples that need data are marked SKIP)."""

from __future__ import annotations

import doctest
import importlib
import pkgutil

import pytest

import whyrec.agent
import whyrec.prompts
import whyrec.tools
import whyrec.ui

PACKAGES = (whyrec.agent, whyrec.tools, whyrec.prompts, whyrec.ui)


def _modules() -> list[str]:
    names = []
    for package in PACKAGES:
        names.append(package.__name__)
        names += [m.name for m in pkgutil.walk_packages(package.__path__, prefix=package.__name__ + ".")]
    return sorted(names)


@pytest.mark.parametrize("name", _modules())
def test_docstring_examples_run(name: str) -> None:
    module = importlib.import_module(name)
    failures, _ = doctest.testmod(module, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert failures == 0
