"""Boundary checks shared by the public API: each raises a clear ``TypeError`` or ``ValueError``."""

from __future__ import annotations

import functools
import math
import numbers

import numpy as np

from .params import CartPoleParams

MAX_SEED = 2**63 - 1


def check_theta(theta) -> np.ndarray:
    """theta as a new C-contiguous float64 array of length 4 (no bias) or 5 (bias last), all finite."""
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


def check_int(name: str, value, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be an int, got {type(value).__name__}")
    if not low <= value <= high:
        raise ValueError(f"{name} must be in [{low}, {high}], got {value}")
    return int(value)


def check_batch_size(batch_size) -> int:
    return check_int("batch_size", batch_size, 1, 10**8)


def check_seed(seed) -> int:
    return check_int("seed", seed, 0, MAX_SEED)


def check_gamma(gamma) -> float:
    if isinstance(gamma, bool) or not isinstance(gamma, numbers.Real):
        raise TypeError(f"gamma must be a number, got {type(gamma).__name__}")
    if not (math.isfinite(gamma) and 0.0 <= gamma <= 1.0):
        raise ValueError(f"gamma must be in [0, 1], got {gamma}")
    return float(gamma)


@functools.lru_cache(maxsize=64)
def _checked_array(params: CartPoleParams) -> np.ndarray:
    return check_params(params).as_array()


def params_array(params) -> np.ndarray:
    """The validated kernel array (float64[NUM_PARAMS]) of ``params``, cached per distinct value.

    Kernels only read it; callers must not modify it.
    """
    try:
        hash(params)
    except TypeError:  # unhashable field values: validate without caching
        return check_params(params).as_array()
    return _checked_array(params)


def check_params(params) -> CartPoleParams:
    if not isinstance(params, CartPoleParams):
        raise TypeError(f"params must be a CartPoleParams (see fastpg.make_params), got {type(params).__name__}")
    if not all(math.isfinite(float(v)) for v in params):
        raise ValueError("params must be finite")
    check_int("max_episode_steps", params.max_episode_steps, 1, 10**7)
    if params.total_mass != params.masspole + params.masscart or \
            params.polemass_length != params.masspole * params.length:
        raise ValueError("params.total_mass and params.polemass_length must be derived from the masses and length")
    return params


def choice(name: str, value, options):
    """``options[value]`` for a dict (or ``value`` for a sequence) if ``value`` is one of them."""
    if not isinstance(value, str) or value not in options:
        raise ValueError(f"unknown {name} {value!r}; expected one of {', '.join(map(repr, options))}")
    return options[value] if isinstance(options, dict) else value
