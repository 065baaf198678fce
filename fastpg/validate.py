"""Boundary checks shared by the public API: each raises a clear ``TypeError`` or ``ValueError``."""

from __future__ import annotations

import math
import numbers

import numpy as np

from .limits import MAX_EPISODES, MAX_SEED


def check_theta(theta) -> np.ndarray:
    """theta as a new C-contiguous float64 array of length 4 (no bias) or 5 (bias last), all finite."""
    if theta.__class__ is np.ndarray and theta.dtype == np.float64 and theta.shape in ((4,), (5,)):
        array = theta.copy()  # the common case, checked in ~0.5 us
        if all(map(math.isfinite, array.tolist())):
            return array
        raise ValueError(f"theta must be finite, got {array.tolist()}")
    if isinstance(theta, (str, bytes)) or not hasattr(theta, "__len__"):
        raise TypeError(f"theta must be an array of 4 or 5 numbers, got {type(theta).__name__}")
    array = np.asarray(theta)
    if array.dtype.kind not in "iuf" or array.dtype == np.float16:
        raise TypeError(f"theta must hold real numbers (float64, float32 or ints), got dtype {array.dtype}")
    if array.ndim != 1 or array.shape[0] not in (4, 5):
        raise ValueError(f"theta must have shape (4,) or (5,) (4 weights, optional bias), got {array.shape}")
    array = np.array(array, dtype=np.float64, order="C")
    if not np.isfinite(array).all():
        raise ValueError(f"theta must be finite, got {array.tolist()}")
    return array


def real_array(name: str, value, dtype=np.float64) -> np.ndarray:
    """``value`` as a C-contiguous array of ``dtype``; ``TypeError`` unless it holds real numbers (no complex,
    objects or strings, which a cast would silently truncate or fail on)."""
    array = np.asarray(value)
    if array.dtype.kind not in "biuf":
        raise TypeError(f"{name} must hold real numbers, got dtype {array.dtype}")
    return np.ascontiguousarray(array, dtype=dtype)


def check_starts(starts) -> np.ndarray:
    """Initial states as a new C-contiguous float64[m, 4] array, 1 <= m <= MAX_EPISODES, all finite."""
    array = np.array(real_array("starts", starts))  # a writable copy: kernels are compiled for writable arrays
    if array.ndim != 2 or array.shape[1] != 4 or not 1 <= array.shape[0] <= MAX_EPISODES:
        raise ValueError(f"starts must have shape (m, 4) with 1 <= m <= {MAX_EPISODES}, got {array.shape}")
    if not np.isfinite(array).all():
        raise ValueError("starts must be finite")
    return array


def check_int(name: str, value, low: int, high: int) -> int:
    """``value`` as an int if it is an integer (not a bool) in [low, high]."""
    if value.__class__ is int and low <= value <= high:  # the common case, without the ABC check
        return value
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be an int, got {type(value).__name__}")
    if not low <= value <= high:
        raise ValueError(f"{name} must be in [{low}, {high}], got {value}")
    return int(value)


def check_episodes(episodes, name: str = "episodes") -> int:
    """A number of episodes in [1, MAX_EPISODES]."""
    return check_int(name, episodes, 1, MAX_EPISODES)


def check_seed(seed) -> int:
    """A seed: an int in [0, MAX_SEED]."""
    return check_int("seed", seed, 0, MAX_SEED)


def check_gamma(gamma) -> float:
    """A discount factor: a real number in [0, 1]."""
    if gamma.__class__ is float and 0.0 <= gamma <= 1.0:  # the common case (NaN fails the comparison)
        return gamma
    if isinstance(gamma, bool) or not isinstance(gamma, numbers.Real):
        raise TypeError(f"gamma must be a number, got {type(gamma).__name__}")
    if not (math.isfinite(gamma) and 0.0 <= gamma <= 1.0):
        raise ValueError(f"gamma must be in [0, 1], got {gamma}")
    return float(gamma)


def check_nonnegative(name: str, value, positive: bool = False) -> float:
    """A finite real number >= 0 (> 0 with ``positive``) as a float; ``TypeError`` for a non-number or a bool."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a number, got {type(value).__name__}")
    if not math.isfinite(value) or value < 0 or (positive and value == 0):
        raise ValueError(f"{name} must be a finite number {'>' if positive else '>='} 0, got {value!r}")
    return float(value)


def choice(name: str, value, options):
    """``options[value]`` for a dict (or ``value`` for a sequence) if ``value`` is one of them."""
    if not isinstance(value, str) or value not in options:
        raise ValueError(f"unknown {name} {value!r}; expected one of {', '.join(map(repr, options))}")
    return options[value] if isinstance(options, dict) else value
