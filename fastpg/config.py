"""``TrainConfig``: the single, documented source of truth for a training run.

Loaded from a TOML file (stdlib ``tomllib``) and/or CLI flags (flags override the
file), validated field by field, and written next to every run as ``config.toml``
so the run can be reproduced from its folder alone.
"""

from __future__ import annotations

import dataclasses
import difflib
import math
import tomllib
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

PSI_CHOICES = ("total_return", "reward_to_go")
DISCOUNT_CHOICES = ("from_start", "from_step")
BASELINE_CHOICES = ("none", "batch_mean", "per_timestep", "per_timestep_running", "optimal", "optimal_per_timestep")
OPTIMIZER_CHOICES = ("adam", "sgd", "natural")
SCHEDULE_CHOICES = ("constant", "linear", "exponential")


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
    learning rate 1.0 with beta1 = 0.7, theta_0 = 0 and no bias (tools/solve_stats.py measures them).
    """

    env: str = _f("CartPole-v1", "environment: CartPole-v1 or CartPole-v0", choices=("CartPole-v1", "CartPole-v0"))
    kinematics_integrator: str = _f("euler", "physics integrator", choices=("euler", "semi-implicit euler"))
    seed: int = _f(0, "seed of the whole run (episodes, evaluations)", low=0, high=2**63 - 1)
    batch_size: int = _f(4, "episodes per gradient estimate", low=1, high=1_000_000)
    psi: str = _f("reward_to_go", "return weighting each score: total_return R(tau) or reward_to_go",
                  choices=PSI_CHOICES)
    gamma: float = _f(1.0, "discount factor in [0, 1]", low=0.0, high=1.0)
    discount: str = _f("from_start", "reward_to_go discounting: gamma^t' (from_start, seed 000) or gamma^(t'-t) "
                                     "(from_step, seed 001)", choices=DISCOUNT_CHOICES)
    baseline: str = _f("per_timestep", "baseline subtracted from psi (per_timestep: batch mean of psi_t, zero "
                                       "after an episode ends)", choices=BASELINE_CHOICES)
    normalize: bool = _f(True, "standardize advantages (psi - baseline) over the batch's steps")
    bias: bool = _f(False, "add a bias term: P(left) = sigmoid(theta . s + b)")
    theta_init: float = _f(0.0, "initial value of every weight", low=-1e6, high=1e6)
    optimizer: str = _f("adam", "update rule: adam, sgd (plain ascent) or natural (KL trust region)",
                        choices=OPTIMIZER_CHOICES)
    lr: float = _f(1.0, "learning rate (adam, sgd)", low=0.0, high=1e6, low_open=True)
    lr_schedule: str = _f("constant", "learning-rate schedule over the max_episodes budget (other budgets do not "
                                      "shorten it)", choices=SCHEDULE_CHOICES)
    lr_final: float = _f(0.1, "final learning rate as a fraction of lr (linear, exponential)", low=0.0, high=1.0,
                         low_open=True)
    adam_beta1: float = _f(0.7, "Adam first-moment decay", low=0.0, high=1.0, high_open=True)
    adam_beta2: float = _f(0.999, "Adam second-moment decay", low=0.0, high=1.0, high_open=True)
    adam_eps: float = _f(1e-8, "Adam epsilon", low=0.0, high=1.0, low_open=True)
    kl_delta: float = _f(0.01, "natural gradient: KL trust region per update (nats, mean over states)",
                         low=0.0, high=10.0, low_open=True)
    fisher_damping: float = _f(1e-4, "natural gradient: damping added to the Fisher diagonal", low=0.0, high=1e6)
    line_search: bool = _f(True, "natural gradient: backtrack until actual KL <= kl_delta and the surrogate improves")
    max_backtracks: int = _f(10, "natural gradient: halvings tried by the line search", low=0, high=60)
    reuse_batches: int = _f(0, "off-policy reuse: also use the last k batches with importance weights", low=0,
                            high=64)
    reuse_weights: str = _f("per_trajectory", "off-policy reuse: importance weights per_decision (prod of ratios up "
                                            "to t) or per_trajectory", choices=("per_decision", "per_trajectory"))
    reuse_clip: float = _f(0.0, "off-policy reuse: clip importance weights at this value (0 = no clipping)", low=0.0,
                           high=1e12)
    min_ess_fraction: float = _f(0.7, "off-policy reuse: drop a batch whose effective sample size falls "
                                      "below this fraction of its episodes", low=0.0, high=1.0)
    max_episodes: int = _f(2000, "budget: training episodes (0 = unlimited)", low=0, high=2**62)
    max_steps: int = _f(0, "budget: training env steps (0 = unlimited)", low=0, high=2**62)
    max_seconds: float = _f(0.0, "budget: wall-clock seconds of the training loop, excluding loading kernels and the "
                                 "final evaluation (0 = unlimited)", low=0.0, high=1e9)
    stop_at_solve: bool = _f(True, "stop at the first update whose evaluation solves the env")
    eval_episodes: int = _f(100, "episodes per solve check (stochastic policy)", low=1, high=1_000_000)
    solve_threshold: float = _f(475.0, "mean evaluation return that counts as solved", low=-1e9, high=1e9)
    final_episodes: int = _f(100, "episodes of the final evaluation in Gymnasium's own CartPole, stochastic and "
                                  "greedy (0 = skip)", low=0, high=1_000_000)
    threads: int = _f(1, "Numba threads for rollouts (results are identical for any value)", low=1, high=1024)
    checkpoint_every: int = _f(10, "updates between checkpoints (0 = only at the end)", low=0, high=2**31)
    metrics_format: str = _f("jsonl", "per-update metrics file format", choices=("jsonl", "csv"))

    def __post_init__(self) -> None:
        for f in fields(self):
            _check_field(f, getattr(self, f.name))
        limit = 200 if self.env == "CartPole-v0" else 500
        if self.solve_threshold > limit:
            raise ValueError(f"solve_threshold {self.solve_threshold} can never be reached: {self.env} episodes end "
                             f"after {limit} steps (Gymnasium's threshold for it is {0.95 * limit:g})")
        if self.lr_schedule != "constant" and self.max_episodes == 0:
            raise ValueError(f"lr_schedule {self.lr_schedule!r} runs over max_episodes, which is 0 (unlimited); "
                             "set max_episodes or use a constant learning rate")

    def replace(self, **changes: Any) -> "TrainConfig":
        """A copy with ``changes`` applied (validated like the constructor)."""
        check_keys(changes)
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def to_toml(self) -> str:
        """The config as TOML text that :func:`load_config` reads back to an equal config."""
        return "".join(f"{k} = {_toml_value(v)}\n" for k, v in self.to_dict().items())


FIELDS = {f.name: f for f in fields(TrainConfig)}


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
        return float(value)
    return value


def config_from_dict(values: dict[str, Any], base: TrainConfig | None = None) -> TrainConfig:
    """``base`` (default: the defaults) with ``values`` applied, validated."""
    check_keys(values)
    return dataclasses.replace(base or TrainConfig(), **{k: coerce_value(k, v) for k, v in values.items()})


def load_config(path: str | Path, overrides: dict[str, Any] | None = None) -> TrainConfig:
    """Read a TOML config file, then apply ``overrides`` (e.g. CLI flags)."""
    return config_from_dict(overrides or {}, config_from_dict(read_toml(path, "config file")))


def read_toml(path: str | Path, what: str) -> dict[str, Any]:
    """The TOML document at ``path``; ``ValueError`` naming ``what`` if it is unreadable or not TOML."""
    path = Path(path)
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ValueError(f"cannot read {what} {path}: {exc.strerror or exc}") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ValueError(f"{what} {path} is not valid TOML: {exc}") from None
