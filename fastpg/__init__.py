"""fastpg: exact, fast policy gradients on a Numba-compiled CartPole-v1."""

from __future__ import annotations

from .config import TrainConfig, load_config
from .evaluation import Evaluation, evaluate, evaluate_in_gymnasium
from .export import Policy, load_policy, save_policy
from .params import DEFAULT_PARAMS, CartPoleParams, make_params
from .registration import register_envs
from .sweeps import SweepResult, sweep
from .training import TrainingError, TrainResult, train

__version__ = "0.1.0"
__all__ = ["CartPoleParams", "DEFAULT_PARAMS", "Evaluation", "Policy", "TrainConfig", "TrainResult", "TrainingError",
           "evaluate", "evaluate_in_gymnasium", "load_config", "load_policy", "make_params", "save_policy", "sweep", "SweepResult", "train",
           "__version__"]

register_envs()
