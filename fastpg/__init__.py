"""fastpg: exact, fast policy gradients on a Numba-compiled CartPole-v1."""

from __future__ import annotations

from .params import DEFAULT_PARAMS, CartPoleParams, make_params
from .registration import register_envs

__version__ = "0.1.0"
__all__ = ["CartPoleParams", "DEFAULT_PARAMS", "make_params", "__version__"]

register_envs()
