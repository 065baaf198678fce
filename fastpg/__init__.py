"""fastpg: exact, fast policy gradients on a Numba-compiled CartPole-v1.

``import fastpg`` registers ``fastpg/CartPole-v0`` and ``fastpg/CartPole-v1`` with Gymnasium and
nothing else; the names below load their modules on first use. Layers, each depending only on
those before it: ``cartpole`` (simulator) -> ``pg`` (policy-gradient engine) -> ``export`` ->
``training`` -> ``sweeps`` / ``benchmark`` -> ``cli``; base modules (``errors``, ``limits``,
``files``, ``validate``, ``_jit``, ``_rng``) serve them all.
"""

from __future__ import annotations

from ._lazy import lazy_attributes
from .cartpole.registration import register_envs

__version__ = "0.1.0"
__getattr__ = lazy_attributes(__name__, {
    "CartPoleParams": ".cartpole.spec", "DEFAULT_PARAMS": ".cartpole.spec", "make_params": ".cartpole.spec",
    "start_lattice": ".cartpole.spec", "Evaluation": ".pg.evaluation", "evaluate": ".pg.evaluation",
    "evaluate_from": ".pg.evaluation", "evaluate_in_gymnasium": ".pg.evaluation",
    "Policy": ".export.document", "load_policy": ".training.runs", "save_policy": ".export.policy_io",
    "TrainConfig": ".training.config", "load_config": ".training.config",
    "TrainResult": ".training.loop", "train": ".training.loop", "TrainingError": ".errors",
    "SweepResult": ".sweeps.run", "sweep": ".sweeps.run",
})
__all__ = ["CartPoleParams", "DEFAULT_PARAMS", "Evaluation", "Policy", "TrainConfig", "TrainResult", "TrainingError",
           "evaluate", "evaluate_from", "evaluate_in_gymnasium", "load_config", "load_policy", "make_params",
           "save_policy", "start_lattice", "sweep", "SweepResult", "train", "__version__"]


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))


register_envs()
