"""Exceptions raised by fastpg's public entry points."""

from __future__ import annotations


class InvalidActionError(ValueError, AssertionError):
    """An action outside the action space.

    Gymnasium signals this with an ``AssertionError``; fastpg raises this
    subclass of both ``ValueError`` and ``AssertionError`` so either ``except``
    clause catches it.
    """
