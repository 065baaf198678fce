"""Every exception fastpg raises on purpose, under one base class ``FastpgError``.

Each also derives from the built-in exception a caller would naturally catch (``ValueError`` for
bad input, ``RuntimeError`` for a failed computation, ``ImportError`` for a missing package), so
code written against those keeps working.
"""

from __future__ import annotations


class FastpgError(Exception):
    """Base class of fastpg's own exceptions."""


class InvalidActionError(FastpgError, ValueError, AssertionError):
    """An action outside the action space.

    Gymnasium signals this with an ``AssertionError``; fastpg raises this subclass of both
    ``ValueError`` and ``AssertionError`` so either ``except`` clause catches it.
    """


class TrainingError(FastpgError, RuntimeError):
    """Training cannot go on (e.g. a non-finite gradient); the last good checkpoint is kept."""


class RunFolderError(FastpgError, ValueError):
    """A run folder that cannot be used as asked (exists, is not a run, is finished, is corrupt)."""


class CReferenceUnavailable(FastpgError, RuntimeError):
    """The C reference cannot be built here: no C compiler, no source, or the build failed."""


class MissingDependencyError(FastpgError, ImportError):
    """An optional package a feature needs is not installed; the message says which and how to install it."""


def require(module: str, extra: str, feature: str):
    """Import and return ``module``, or raise :class:`MissingDependencyError` naming ``pip install 'fastpg[extra]'``."""
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError:
        raise MissingDependencyError(f"{feature} needs {module.split('.')[0]}: pip install 'fastpg[{extra}]'") from None
