"""Lazy package attributes (PEP 562): a package names what it offers without importing it up front."""

from __future__ import annotations

import importlib
from typing import Any, Callable


def lazy_attributes(package: str, names: dict[str, str]) -> Callable[[str], Any]:
    """A module ``__getattr__`` that imports ``names[attr]`` (a module path relative to ``package``) on first use."""
    def __getattr__(attr: str) -> Any:
        if attr not in names:
            raise AttributeError(f"module {package!r} has no attribute {attr!r}")
        value = getattr(importlib.import_module(names[attr], package), attr)
        setattr(importlib.import_module(package), attr, value)
        return value

    return __getattr__
