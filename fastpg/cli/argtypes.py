"""Strict argument types for the command line: what Python's ``int``/``float``/``Path`` would accept too loosely.

``int("1_0")`` is 10 and ``Path("")`` is the current folder; a typo must not become a valid value.
"""

from __future__ import annotations

import argparse
import math
import re
from pathlib import Path

_INT = re.compile(r"[+-]?[0-9]+")
_FLOAT = re.compile(r"[+-]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][+-]?[0-9]+)?")


def int_arg(text: str) -> int:
    """A decimal integer (no underscores, no spaces)."""
    if not _INT.fullmatch(text):
        raise argparse.ArgumentTypeError(f"invalid int value: {text!r}")
    return int(text)


def float_arg(text: str) -> float:
    """A finite decimal number (no underscores, no nan or inf)."""
    if not _FLOAT.fullmatch(text) or not math.isfinite(float(text)):
        raise argparse.ArgumentTypeError(f"invalid float value: {text!r} (a finite number)")
    return float(text)


def path_arg(text: str) -> Path:
    """A non-empty path."""
    if not text.strip():
        raise argparse.ArgumentTypeError("invalid path: it is empty")
    return Path(text)


ARG_TYPES = {int: int_arg, float: float_arg, str: str}
