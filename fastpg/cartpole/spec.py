"""What CartPole-v0/v1 means: the env specs, the physical parameters, integrators and index constants.

The one owner of "which id has which episode limit and reward threshold" and of the parameters
every kernel takes. Kernels take ``CartPoleParams.as_array()``: Numba types a heterogeneous
NamedTuple argument in ~2 us per call from Python, a float64 array in ~0.1 us.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np

from ..limits import MAX_EPISODE_STEPS as MAX_EPISODE_LIMIT, MAX_LATTICE_LEVELS

NAMESPACE = "fastpg"  # fastpg registers "fastpg/CartPole-v0" and "fastpg/CartPole-v1"


@dataclass(frozen=True)
class EnvSpec:
    """A Gymnasium CartPole version: its id, truncation limit (steps) and solving mean return."""

    id: str
    version: str
    max_episode_steps: int
    reward_threshold: float


ENV_SPECS = {spec.id: spec for spec in (EnvSpec("CartPole-v1", "v1", 500, 475.0),
                                        EnvSpec("CartPole-v0", "v0", 200, 195.0))}
ENV_IDS = tuple(ENV_SPECS)  # ("CartPole-v1", "CartPole-v0")


def env_spec(env_id: str) -> EnvSpec:
    """The spec of ``"CartPole-v1"``/``"CartPole-v0"`` (also with the ``fastpg/`` prefix); ``ValueError`` otherwise."""
    if isinstance(env_id, str) and env_id.startswith(NAMESPACE + "/"):
        env_id = env_id[len(NAMESPACE) + 1:]
    if not isinstance(env_id, str) or env_id not in ENV_SPECS:
        raise ValueError(f"unknown env {env_id!r}; expected one of {', '.join(ENV_IDS)}")
    return ENV_SPECS[env_id]


def spec_of(params: "CartPoleParams") -> EnvSpec | None:
    """The Gymnasium version whose episode limit ``params`` has (None if neither)."""
    return next((s for s in ENV_SPECS.values() if s.max_episode_steps == params.max_episode_steps), None)


EULER = 0
SEMI_IMPLICIT_EULER = 1
INTEGRATORS = {"euler": EULER, "semi-implicit euler": SEMI_IMPLICIT_EULER}
INTEGRATOR_NAMES = tuple(INTEGRATORS)

# Gymnasium's reset draws each of the 4 state coordinates uniformly in [RESET_LOW, RESET_HIGH).
RESET_LOW, RESET_HIGH = -0.05, 0.05

# Indices into a state row (float64[4]) and an observation row (float32[4]).
X, X_DOT, ANGLE, ANGLE_DOT = 0, 1, 2, 3
FEATURE_NAMES = ("cart_position", "cart_velocity", "pole_angle", "pole_angular_velocity")

# Indices into the float64 parameter vector that kernels take (``CartPoleParams.as_array()``).
(GRAVITY, MASSCART, MASSPOLE, TOTAL_MASS, LENGTH, POLEMASS_LENGTH, FORCE_MAG, TAU,
 ANGLE_THRESHOLD, X_THRESHOLD, INTEGRATOR, SUTTON_BARTO_REWARD, MAX_EPISODE_STEPS) = range(13)
NUM_PARAMS = 13


class CartPoleParams(NamedTuple):
    """Constants of Gymnasium's CartPole, computed exactly as Gymnasium computes them.

    Units are SI: metres, seconds, kilograms, newtons, radians. Field names are Gymnasium's.
    ``integrator`` is ``EULER`` (0, Gymnasium's default) or ``SEMI_IMPLICIT_EULER`` (1).
    ``sutton_barto_reward`` selects reward 0 per step and -1 on termination.
    ``max_episode_steps`` is the truncation limit (500 for v1, 200 for v0).
    """

    gravity: float = 9.8
    masscart: float = 1.0
    masspole: float = 0.1
    total_mass: float = 0.1 + 1.0
    length: float = 0.5  # half the pole's length
    polemass_length: float = 0.1 * 0.5
    force_mag: float = 10.0
    tau: float = 0.02  # seconds between state updates
    theta_threshold_radians: float = 12 * 2 * math.pi / 360
    x_threshold: float = 2.4
    integrator: int = EULER
    sutton_barto_reward: bool = False
    max_episode_steps: int = 500

    def as_array(self) -> np.ndarray:
        """The parameters as a float64[NUM_PARAMS] vector in field order, as kernels take them."""
        return np.array([float(v) for v in self], dtype=np.float64)

    @property
    def kinematics_integrator(self) -> str:
        """The integrator's Gymnasium name: "euler" or "semi-implicit euler"."""
        return INTEGRATOR_NAMES[self.integrator]


def make_params(
    version: str = "v1",
    *,
    kinematics_integrator: str = "euler",
    sutton_barto_reward: bool = False,
    max_episode_steps: int | None = None,
) -> CartPoleParams:
    """Parameters of ``CartPole-v1`` (or ``-v0``; also ``"CartPole-v0"``) with Gymnasium's defaults.

    Raises ``ValueError`` for an unknown version or integrator, or a ``max_episode_steps`` outside
    [1, MAX_EPISODE_STEPS]; ``TypeError`` for a non-bool reward flag.
    """
    versions = {spec.version: spec for spec in ENV_SPECS.values()}
    spec = versions.get(version) or (ENV_SPECS.get(version) if isinstance(version, str) else None)
    if spec is None:
        raise ValueError(f"unknown CartPole version {version!r}; expected one of {sorted(versions)}")
    if kinematics_integrator not in INTEGRATORS:
        raise ValueError(f"unknown kinematics_integrator {kinematics_integrator!r}; "
                         f"expected one of {list(INTEGRATOR_NAMES)}")
    if not isinstance(sutton_barto_reward, bool):
        raise TypeError(f"sutton_barto_reward must be a bool, got {type(sutton_barto_reward).__name__}")
    steps = spec.max_episode_steps if max_episode_steps is None else max_episode_steps
    if isinstance(steps, bool) or not isinstance(steps, int) or not 1 <= steps <= MAX_EPISODE_LIMIT:
        raise ValueError(f"max_episode_steps must be an int in [1, {MAX_EPISODE_LIMIT}], got {steps!r}")
    return CartPoleParams(integrator=INTEGRATORS[kinematics_integrator], sutton_barto_reward=sutton_barto_reward,
                          max_episode_steps=steps)


def check_params(params) -> CartPoleParams:
    """``params`` if it is a valid ``CartPoleParams``; ``TypeError``/``ValueError`` otherwise."""
    if not isinstance(params, CartPoleParams):
        raise TypeError(f"params must be a CartPoleParams (see fastpg.make_params), got {type(params).__name__}")
    try:
        finite = all(math.isfinite(float(v)) for v in params)
    except (TypeError, ValueError, OverflowError):
        finite = False
    if not finite:
        raise ValueError("params must be finite numbers")
    max_steps = params.max_episode_steps
    if isinstance(max_steps, bool) or not isinstance(max_steps, int) or not 1 <= max_steps <= MAX_EPISODE_LIMIT:
        raise ValueError(f"params.max_episode_steps must be an int in [1, {MAX_EPISODE_LIMIT}], got {max_steps!r}")
    if params.integrator not in INTEGRATORS.values():
        raise ValueError(f"params.integrator must be EULER (0) or SEMI_IMPLICIT_EULER (1), got {params.integrator!r}")
    if params.total_mass != params.masspole + params.masscart or \
            params.polemass_length != params.masspole * params.length:
        raise ValueError("params.total_mass and params.polemass_length must be derived from the masses and length")
    return params


@functools.lru_cache(maxsize=64)
def _checked_array(params: CartPoleParams) -> np.ndarray:
    return check_params(params).as_array()


def params_array(params) -> np.ndarray:
    """The validated kernel array (float64[NUM_PARAMS]) of ``params``, cached per distinct value.

    Kernels only read it; callers must not modify it."""
    if not isinstance(params, CartPoleParams):  # before the cache: an equal plain tuple must not pass
        check_params(params)
    try:
        hash(params)
    except TypeError:  # unhashable field values: validate without caching
        return check_params(params).as_array()
    return _checked_array(params)


def start_lattice(levels: int) -> np.ndarray:
    """float64[levels**4, 4]: every state whose coordinates each take one of ``levels`` evenly spaced values
    from RESET_LOW to RESET_HIGH (both included), in C order (the last coordinate varies fastest).

    With 3 levels: the 16 corners of the start box, the centres of its edges and faces, and its centre.
    """
    from ..validate import check_int  # here: ``import fastpg`` loads this module and only what registration needs

    levels = check_int("levels", levels, 1, MAX_LATTICE_LEVELS)
    values = np.linspace(RESET_LOW, RESET_HIGH, levels) if levels > 1 else np.zeros(1)
    return np.stack(np.meshgrid(values, values, values, values, indexing="ij"), axis=-1).reshape(-1, 4)


DEFAULT_PARAMS = make_params()
