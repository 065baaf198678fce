"""Shared test set-up: headless rendering and a libm diagnostic for exactness failures."""

from __future__ import annotations

import math
import os

import numpy as np

os.environ.setdefault("SDL_VIDEODRIVER", "dummy")
os.environ.setdefault("SDL_AUDIODRIVER", "dummy")
os.environ.setdefault("XDG_RUNTIME_DIR", "/tmp")

if os.environ.get("NUMBA_DISABLE_JIT") == "1":
    # Kernels run as Python: the RNG's uint64 arithmetic wraps on purpose, as it does compiled.
    np.seterr(over="ignore")


def libm_report(theta: float) -> str:
    """Say whether this platform's libm and NumPy disagree on sin/cos(theta) in the last bit."""
    lines = []
    for name in ("sin", "cos"):
        a, b = getattr(math, name)(theta), float(getattr(np, name)(np.float64(theta)))
        if a != b:
            lines.append(f"{name}({theta!r}): libm {a!r} vs NumPy {b!r} ({abs(np.float64(a).view(np.int64) - np.float64(b).view(np.int64))} ulp)")
    if lines:
        return "this platform's libm differs from NumPy's sin/cos in the last bit: " + "; ".join(lines)
    return "libm and NumPy agree on sin/cos here, so the difference is in fastpg's arithmetic"


def assert_bitwise(actual, expected, what: str, theta: float | None = None) -> None:
    """Assert two arrays are identical bit for bit, with a libm diagnosis when ``theta`` is given."""
    actual, expected = np.asarray(actual), np.asarray(expected)
    assert actual.dtype == expected.dtype, f"{what}: dtype {actual.dtype} != {expected.dtype}"
    assert actual.shape == expected.shape, f"{what}: shape {actual.shape} != {expected.shape}"
    if actual.tobytes() != expected.tobytes():
        hint = "" if theta is None else " — " + libm_report(theta)
        raise AssertionError(f"{what}: {actual!r} != {expected!r} bitwise{hint}")
