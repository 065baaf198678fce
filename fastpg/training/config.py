"""``TrainConfig``: the single, documented source of truth for a training run.

Loaded from a TOML file (stdlib ``tomllib``) and/or CLI flags (flags override the
file), validated field by field, and written next to every run as ``config.toml``
so the run can be reproduced from its folder alone.
"""

from __future__ import annotations

import dataclasses
import difflib
import hashlib
import math
import tomllib
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from .. import limits
from ..files import read_capped
from ..cartpole.spec import ENV_IDS, INTEGRATOR_NAMES, env_spec, make_params
from ..pg.options import (
    BASELINES, DISCOUNTS, NORMALIZE, OPTIMIZERS, PSI, RENAMED_BASELINES, REUSE_WEIGHTS, SCHEDULES, baseline_code,
    normalize_name,
)


def _f(default: Any, help: str, *, choices: tuple | None = None, low: float | None = None,
       high: float | None = None, low_open: bool = False, high_open: bool = False) -> Any:
    """A documented config field with its valid range."""
    meta = {"help": help, "choices": choices, "low": low, "high": high, "low_open": low_open, "high_open": high_open}
    return field(default=default, metadata=meta)


@dataclass(frozen=True)
class TrainConfig:
    """Every option of a training run, with units and defaults.

    The defaults are fastpg's tuned logistic REINFORCE: batches of 4 episodes,
    reward-to-go with gamma = 1, a per-timestep baseline and normalized advantages, Adam at
    learning rate 1.2 with beta1 = 0.5, theta_0 = 0 and no bias (tools/solve_stats.py measures them).
    """

    env: str = _f("CartPole-v1", "environment: CartPole-v1 or CartPole-v0", choices=ENV_IDS)
    kinematics_integrator: str = _f("euler", "physics integrator", choices=INTEGRATOR_NAMES)
    seed: int = _f(0, "seed of the whole run (episodes, evaluations)", low=0, high=limits.MAX_SEED)
    batch_size: int = _f(4, "episodes per gradient estimate", low=1, high=limits.MAX_EPISODES)
    psi: str = _f("reward_to_go", "return weighting each score: the episode's total return, or the reward to go "
                                  "from each step", choices=PSI)
    gamma: float = _f(1.0, "discount factor in [0, 1]", low=0.0, high=1.0)
    discount: str = _f("from_start", "how reward_to_go discounts the reward r_t' of (s_t', a_t') seen from step "
                                     "t: gamma^t' (from_start) or gamma^(t'-t) (from_step)", choices=DISCOUNTS)
    baseline: str = _f("per_timestep", "baseline subtracted from psi (per_timestep: batch mean of psi_t, zero "
                                       "after an episode ends; *_loo: from the other episodes of the batch)",
                       choices=tuple(BASELINES))
    normalize: str = _f("batch", "standardize advantages (psi - baseline) over the batch's steps (batch), over each "
                                 "episode's steps (episode, seed 001) or not (none); true/false mean batch/none",
                        choices=tuple(NORMALIZE))
    bias: bool = _f(False, "add a bias term: P(left) = sigmoid(theta . s + b)")
    theta_init: float = _f(0.0, "initial value of every weight", low=-1e6, high=1e6)
    optimizer: str = _f("adam", "update rule: adam, sgd (plain ascent), natural (KL trust region) or kl_penalty "
                                "(surrogate minus lambda * (KL - kl_delta), lambda by dual ascent)", choices=OPTIMIZERS)
    lr: float = _f(1.2, "learning rate (adam, sgd)", low=0.0, high=1e6, low_open=True)
    lr_schedule: str = _f("constant", "learning-rate schedule over the max_episodes budget (other budgets do not "
                                      "shorten it)", choices=SCHEDULES)
    lr_final: float = _f(0.1, "final learning rate as a fraction of lr (linear, exponential)", low=0.0, high=1.0,
                         low_open=True)
    adam_beta1: float = _f(0.5, "Adam first-moment decay", low=0.0, high=1.0, high_open=True)
    adam_beta2: float = _f(0.999, "Adam second-moment decay", low=0.0, high=1.0, high_open=True)
    adam_eps: float = _f(1e-8, "Adam epsilon", low=0.0, high=1.0, low_open=True)
    kl_delta: float = _f(0.01, "KL per update (nats, mean over states): the natural gradient's trust region, "
                               "kl_penalty's target epsilon", low=0.0, high=10.0, low_open=True)
    fisher_damping: float = _f(1e-4, "natural gradient: damping added to the Fisher diagonal", low=0.0, high=1e6)
    line_search: bool = _f(True, "natural gradient: backtrack until actual KL <= kl_delta and the surrogate improves")
    max_backtracks: int = _f(10, "natural gradient: halvings tried by the line search", low=0,
                             high=limits.MAX_BACKTRACKS)
    kl_lambda_init: float = _f(10.0, "kl_penalty: the multiplier lambda of the first update (surrogate units per "
                                     "nat)", low=0.0, high=1e12)
    kl_dual_step: float = _f(100.0, "kl_penalty: dual step alpha of lambda <- max(0, lambda + alpha (KL - "
                                     "kl_delta)) after each update (lambda per nat)", low=0.0, high=1e12)
    kl_inner_steps: int = _f(30, "kl_penalty: proximal Newton steps on the penalized surrogate per update", low=1,
                             high=limits.MAX_INNER_STEPS)
    kl_inner_lr: float = _f(0.1, "kl_penalty: proximal step size eta of each inner step (theta per unit of "
                                 "gradient; the step with lambda = 0)", low=0.0, high=1e6, low_open=True)
    reuse_batches: int = _f(0, "off-policy reuse: also use the last k batches with importance weights", low=0,
                            high=limits.MAX_REUSE_BATCHES)
    reuse_weights: str = _f("per_trajectory", "off-policy reuse: importance weights per_decision (prod of ratios up "
                                            "to t) or per_trajectory", choices=REUSE_WEIGHTS)
    reuse_clip: float = _f(0.0, "off-policy reuse: clip importance weights at this value (0 = no clipping)", low=0.0,
                           high=1e12)
    min_ess_fraction: float = _f(0.7, "off-policy reuse: drop a batch whose effective sample size falls "
                                      "below this fraction of its episodes", low=0.0, high=1.0)
    max_episodes: int = _f(2000, "budget: training episodes (0 = unlimited)", low=0, high=limits.MAX_BUDGET)
    max_steps: int = _f(0, "budget: training env steps (0 = unlimited)", low=0, high=limits.MAX_BUDGET)
    max_seconds: float = _f(0.0, "budget: wall-clock seconds of the training loop, excluding loading kernels and the "
                                 "final evaluation (0 = unlimited)", low=0.0, high=limits.MAX_SECONDS)
    stop_at_solve: bool = _f(True, "stop at the first update whose evaluation solves the env")
    eval_episodes: int = _f(100, "episodes per solve check (stochastic policy)", low=1, high=limits.MAX_EPISODES)
    solve_threshold: float = _f(475.0, "mean evaluation return that counts as solved", low=-1e9, high=1e9)
    solve_margin_se: float = _f(4.0, "the solve check passes when its mean return minus this many standard errors "
                                     "(sample std / sqrt(eval_episodes)) is >= solve_threshold", low=0.0, high=100.0)
    confirm_lattice: int = _f(3, "the confirmation: a passed solve check counts only if the greedy policy also "
                                 "holds the pole from every start of the lattice with this many values per "
                                 "coordinate, from -0.05 to 0.05 (3: 81 starts, the corners, edges, faces and "
                                 "centre of the env's start box, where drifting policies fail first; 0 = no "
                                 "lattice starts)", low=0,
                              high=limits.MAX_LATTICE_LEVELS)
    confirm_jitter: float = _f(0.05, "each coordinate of each lattice start is scaled by its own random factor in "
                                     "(1 - this, 1], fresh at every update: the starts stay at the box's edge, and "
                                     "a policy that training no longer changes is not judged on the same starts "
                                     "forever (0 = the exact lattice)", low=0.0, high=1.0)
    confirm_episodes: int = _f(0, "the confirmation's further greedy episodes from fresh random starts", low=0,
                               high=limits.MAX_EPISODES)
    confirm_time_margin: float = _f(0.05, "the confirmation's episodes must last this fraction past the env's time "
                                          "limit, rounded to whole steps (0.05: 525 steps in CartPole-v1), so a "
                                          "policy whose cart only just stays in does not pass", low=0.0, high=10.0)
    confirm_x_limit: float = _f(2.4, "cart-position limit (m) of the confirmation: its greedy episodes fail once "
                                     "|x| > this; below the env's own 2.4, a policy that lets the cart drift "
                                     "toward the edge does not pass", low=0.0, high=100.0, low_open=True)
    final_episodes: int = _f(100, "episodes of the final evaluation in Gymnasium's own CartPole, stochastic and "
                                  "greedy (0 = skip)", low=0, high=limits.MAX_EPISODES)
    threads: int = _f(1, "Numba threads for rollouts (results are identical for any value)", low=1,
                      high=limits.MAX_THREADS)
    checkpoint_every: int = _f(10, "updates between checkpoints (0 = only at the end)", low=0,
                               high=limits.MAX_CHECKPOINT_EVERY)
    metrics_format: str = _f("jsonl", "per-update metrics file format", choices=("jsonl", "csv"))

    def __post_init__(self) -> None:
        if isinstance(self.normalize, bool):  # the true/false of configs written before "episode" existed
            object.__setattr__(self, "normalize", normalize_name(self.normalize))
        if isinstance(self.baseline, str) and self.baseline in RENAMED_BASELINES:
            baseline_code(self.baseline)  # raises, naming the new name
        for f in fields(self):
            _check_field(f, getattr(self, f.name))
        spec = env_spec(self.env)
        if self.solve_threshold > spec.max_episode_steps:
            raise ValueError(f"solve_threshold {self.solve_threshold} can never be reached: {self.env} episodes end "
                             f"after {spec.max_episode_steps} steps (Gymnasium's threshold for it is "
                             f"{spec.reward_threshold:g})")
        if self.confirm_starts > limits.MAX_EPISODES:
            raise ValueError(f"the confirmation would play {self.confirm_starts} episodes (confirm_lattice ** 4 + "
                             f"confirm_episodes); the limit is {limits.MAX_EPISODES}")
        if self.optimizer == "kl_penalty" and self.reuse_batches:
            raise ValueError("optimizer 'kl_penalty' maximizes the surrogate of the current batch only; set "
                             "reuse_batches = 0")
        if self.lr_schedule != "constant" and self.max_episodes == 0:
            raise ValueError(f"lr_schedule {self.lr_schedule!r} runs over max_episodes, which is 0 (unlimited); "
                             "set max_episodes or use a constant learning rate")

    def replace(self, **changes: Any) -> "TrainConfig":
        """A copy with ``changes`` applied (validated like the constructor)."""
        check_keys(changes)
        return dataclasses.replace(self, **changes)

    @property
    def confirm_starts(self) -> int:
        """The episodes a confirmation plays at most: confirm_lattice ** 4 lattice starts + confirm_episodes."""
        return self.confirm_lattice ** 4 + self.confirm_episodes

    @property
    def params(self):
        """The ``CartPoleParams`` of this config's env and integrator."""
        return make_params(env_spec(self.env).version, kinematics_integrator=self.kinematics_integrator)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def to_toml(self) -> str:
        """The config as TOML text that :func:`load_config` reads back to an equal config."""
        return "".join(f"{k} = {_toml_value(v)}\n" for k, v in self.to_dict().items())


FIELDS = {f.name: f for f in fields(TrainConfig)}


def config_hash(config: TrainConfig) -> str:
    """SHA-256 of the config's TOML text: binds a checkpoint to the config it was written with."""
    return hashlib.sha256(config.to_toml().encode()).hexdigest()


def check_keys(values: dict[str, Any]) -> None:
    """Raise ``ValueError`` naming any unknown key, with the closest known key as a suggestion."""
    for key in values:
        if key not in FIELDS:
            close = difflib.get_close_matches(key, FIELDS, n=1)
            hint = f"; did you mean {close[0]!r}?" if close else f"; known keys: {', '.join(FIELDS)}"
            raise ValueError(f"unknown config key {key!r}{hint}")


def _check_field(f: dataclasses.Field, value: Any) -> None:
    kind, meta = type(f.default), f.metadata
    if kind is bool:
        if not isinstance(value, bool):
            raise TypeError(f"{f.name} must be true or false, got {value!r}")
        return
    if kind is int and (isinstance(value, bool) or not isinstance(value, int)):
        raise TypeError(f"{f.name} must be an integer, got {value!r}")
    if kind is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise TypeError(f"{f.name} must be a number, got {value!r}")
        value = _as_float(f.name, value)
        if not math.isfinite(value):
            raise ValueError(f"{f.name} must be finite, got {value!r}")
    if kind is str and not isinstance(value, str):
        raise TypeError(f"{f.name} must be a string, got {value!r}")
    if meta["choices"] is not None and value not in meta["choices"]:
        raise ValueError(f"{f.name} must be one of {', '.join(map(repr, meta['choices']))}; got {value!r}")
    if not in_range(meta, value):
        raise ValueError(f"{f.name} must be in {range_text(meta)}, got {value!r}")


def in_range(meta, value) -> bool:
    low, high = meta["low"], meta["high"]
    return not (low is not None and (value < low or (meta["low_open"] and value == low))
                or high is not None and (value > high or (meta["high_open"] and value == high)))


def range_text(meta) -> str:
    """A field's valid range as an interval, e.g. "(0.0, 1.0]"."""
    return f"{'(' if meta['low_open'] else '['}{meta['low']}, {meta['high']}{')' if meta['high_open'] else ']'}"


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, int):
        return str(value)
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def coerce_value(name: str, value: Any) -> Any:
    """TOML integers are accepted where a float is expected."""
    if type(FIELDS[name].default) is float and isinstance(value, int) and not isinstance(value, bool):
        return _as_float(name, value)
    return value


def _as_float(name: str, value: int | float) -> float:
    """``float(value)``; ``ValueError`` naming the field for an integer too large for a float."""
    try:
        return float(value)
    except OverflowError:
        raise ValueError(f"{name} is too large for a float64: {str(value)[:20]}... ({len(str(value))} digits)") from None


def config_from_dict(values: dict[str, Any], base: TrainConfig | None = None) -> TrainConfig:
    """``base`` (default: the defaults) with ``values`` applied, validated."""
    check_keys(values)
    return dataclasses.replace(base or TrainConfig(), **{k: coerce_value(k, v) for k, v in values.items()})


LATTICE_FIELDS = ("confirm_lattice", "confirm_jitter", "confirm_time_margin")
BEFORE_THE_LATTICE = {"confirm_lattice": 0, "confirm_jitter": 0.0, "confirm_time_margin": 0.0}


def load_config(path: str | Path, overrides: dict[str, Any] | None = None) -> TrainConfig:
    """Read a TOML config file, then apply ``overrides`` (e.g. CLI flags).

    A run's ``config.toml`` written before the lattice confirmation (every field but the three of
    ``LATTICE_FIELDS``) keeps its meaning: its confirmation was ``confirm_episodes`` random starts
    of the env's own length, i.e. ``BEFORE_THE_LATTICE``.
    """
    values = read_toml(path, "config file")
    if not any(k in values for k in LATTICE_FIELDS) and set(FIELDS) - set(LATTICE_FIELDS) <= set(values):
        values = {**values, **BEFORE_THE_LATTICE}
    return config_from_dict(overrides or {}, config_from_dict(values))


def read_toml(path: str | Path, what: str) -> dict[str, Any]:
    """The TOML document at ``path``; ``ValueError`` naming ``what`` if it is unreadable or not TOML."""
    path = Path(path)
    try:
        return tomllib.loads(read_capped(path, limits.MAX_CONFIG_BYTES, what).decode("utf-8"))
    except OSError as exc:
        raise ValueError(f"cannot read {what} {path}: {exc.strerror or exc}") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ValueError(f"{what} {path} is not valid TOML: {exc}") from None
