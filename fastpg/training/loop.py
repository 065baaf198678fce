"""Scripted training: ``train(config) -> TrainResult``, with checkpoints, metrics and a solve check.

Randomness: update k rolls out its batch with seed ``derive_seed(config.seed, TRAIN, k)``,
checks "solved?" with ``derive_seed(config.seed, EVAL, k)``, moves the confirmation's lattice
starts with ``derive_seed(config.seed, JITTER, k)`` and draws its random starts (if any) with
``derive_seed(config.seed, CONFIRM, k)``; the final evaluation uses
``derive_seed(config.seed, FINAL, 0)``. The generator state is therefore the update counter,
which the checkpoint stores: a resumed run ends with a θ bit-identical to an uninterrupted one
(unless a ``max_seconds`` budget stops them at different points).
"""

from __future__ import annotations

import functools
import time
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .. import limits
from ..cartpole.spec import start_lattice
from ..errors import RunFolderError, TrainingError
from ..export.policy_io import save_policy
from ..files import write_json
from ..pg import engine
from ..pg._seeding import seed_sequence_word
from ..pg.evaluation import best_return, evaluate, evaluate_from, evaluate_in_gymnasium_modes
from ..pg.kl_penalty import DualState, kl_penalty_step
from ..pg.natural import natural_step
from ..pg.offpolicy import importance_weights, offpolicy_gradient, reweighted_gradient
from ..pg.optim import SGD, Adam, learning_rate
from ..pg.options import streamable
from .config import TrainConfig, config_hash
from .metrics import MetricsWriter
from .progress import ProgressBar
from .runs import (CHECKPOINT_FILE, CHECKPOINT_FORMAT, POLICY_FILE, RESULT_FILE, metrics_path, policy_metadata,
                   release_run, resume_run, start_run)

TRAIN, EVAL, FINAL, CONFIRM, JITTER = 0, 1, 2, 3, 4
SOLVED_AT_KEYS = ("update", "episodes", "steps", "seconds", "eval_episodes")


def derive_seed(seed: int, stream: int, index: int) -> int:
    """An independent 63-bit seed for ``index`` in ``stream`` of a run seeded ``seed`` (ints in [0, 2**63)):
    ``SeedSequence([seed, stream, index]).generate_state(1, np.uint64)[0] >> 1``, computed in a kernel."""
    return int(seed_sequence_word(seed, stream, index)) >> 1


@dataclass
class TrainResult:
    """What a run produced.

    theta float64[4] or [5]; history: one metrics row (dict) per update; solved_at: the first
    solving update as {"update", "episodes", "steps", "seconds", "eval_episodes"} or None (episodes
    and steps count training episodes only; eval_episodes: the episodes the solve checks and
    confirmations played up to then); eval_episodes: all of them in the run; evaluation: the final
    Gymnasium evaluations {"stochastic": {...}, "greedy": {...}} (empty if skipped); timings in
    seconds (``load_seconds``: loading or compiling the kernels, before the training clock starts);
    stop_reason one of "solved", "max_episodes", "max_steps", "max_seconds".
    """

    theta: np.ndarray
    config: TrainConfig
    history: list[dict[str, Any]]
    solved_at: dict[str, Any] | None
    evaluation: dict[str, Any]
    timings: dict[str, float]
    updates: int
    episodes: int
    steps: int
    stop_reason: str
    eval_episodes: int = 0
    run_dir: Path | None = None

    def to_dict(self) -> dict[str, Any]:
        """The JSON-ready summary written to ``result.json`` (history excluded; it is in the metrics file)."""
        return {"theta": self.theta.tolist(), "bias": self.config.bias, "solved": self.solved_at is not None,
                "solved_at": self.solved_at, "stop_reason": self.stop_reason, "updates": self.updates,
                "episodes": self.episodes, "steps": self.steps, "eval_episodes": self.eval_episodes,
                "evaluation": self.evaluation,
                "timings": self.timings}


@dataclass
class _State:
    """Everything a checkpoint holds."""

    theta: np.ndarray
    optimizer: Any
    update: int = 0
    episodes: int = 0
    steps: int = 0
    seconds: float = 0.0
    eval_episodes: int = 0
    solved_at: dict[str, Any] | None = None
    recent: deque = field(default_factory=deque)  # (update, theta, GradientEstimate) of reusable batches

    def to_checkpoint(self) -> dict[str, Any]:
        return {"format": CHECKPOINT_FORMAT, "update": self.update, "episodes": self.episodes, "steps": self.steps,
                "eval_episodes": self.eval_episodes, "seconds": self.seconds, "theta": self.theta.tolist(), "optimizer": self.optimizer.state_dict(),
                "solved_at": self.solved_at, "rng": {"next_update": self.update},
                "recent": [[u, t.tolist()] for u, t, _ in self.recent]}


def _optimizer(config: TrainConfig, dim: int):
    if config.optimizer == "adam":
        return Adam(dim, config.adam_beta1, config.adam_beta2, config.adam_eps)
    if config.optimizer == "kl_penalty":
        return DualState(config.kl_lambda_init)
    return SGD(dim)


def _needs_batch(config: TrainConfig) -> bool:
    """True if the update itself needs the stored batch (natural gradient, KL penalty, off-policy reuse)."""
    return config.optimizer in ("natural", "kl_penalty") or config.reuse_batches > 0


def _preflight(config: TrainConfig) -> None:
    """Checks that need more than one field, before a run folder is touched."""
    engine.check_estimator(config.baseline, config.normalize, config.batch_size)
    d = 5 if config.bias else 4
    if _needs_batch(config) or not streamable(config.baseline, config.normalize):
        engine.check_stored_batch(config.batch_size, config.params.max_episode_steps, d, config.baseline)
    else:
        engine.check_streamed_batch(config.batch_size, d)


def _estimate(config: TrainConfig, theta: np.ndarray, update: int, params) -> engine.GradientEstimate:
    return engine.estimate_gradient(
        theta, config.batch_size, derive_seed(config.seed, TRAIN, update), psi=config.psi, gamma=config.gamma,
        discount=config.discount, baseline=config.baseline, normalize=config.normalize, params=params,
        threads=config.threads, streaming=False if _needs_batch(config) else None)


def _restore(config: TrainConfig, checkpoint: dict[str, Any], params) -> _State:
    """The state a checkpoint describes; reused batches are re-simulated (same seeds, same θ: same bits)."""
    if checkpoint.get("config_sha256") != config_hash(config):
        raise RunFolderError("the checkpoint was not written with this run's config.toml (it was edited, the "
                             "checkpoint comes from another run, or an earlier fastpg with other config fields "
                             "started the run); resume refused: start a new run instead")
    try:
        theta = np.array(checkpoint["theta"], dtype=np.float64)
        if theta.shape != (5 if config.bias else 4,) or not np.isfinite(theta).all():
            raise ValueError("theta does not match the config")
        optimizer = _optimizer(config, theta.shape[0])
        optimizer.load_state_dict(checkpoint["optimizer"])
        counters = [checkpoint[k] for k in ("update", "episodes", "steps", "eval_episodes")]
        if any(isinstance(v, bool) or not isinstance(v, int) or v < 0 for v in counters):
            raise ValueError("update, episodes, steps and eval_episodes must be non-negative integers")
        _check_counters(config, *counters)
        seconds, solved_at = checkpoint["seconds"], checkpoint["solved_at"]
        if isinstance(seconds, bool) or not isinstance(seconds, (int, float)) or not seconds >= 0:
            raise ValueError("seconds must be a non-negative number")
        if solved_at is not None and (not isinstance(solved_at, dict)
                                      or set(solved_at) != set(SOLVED_AT_KEYS)):
            raise ValueError(f"solved_at must be null or {{{', '.join(SOLVED_AT_KEYS)}}}")
        state = _State(theta, optimizer, *counters[:3], float(seconds), counters[3], solved_at)
        for update, old_theta in checkpoint["recent"]:
            old_theta = np.array(old_theta, dtype=np.float64)
            state.recent.append((update, old_theta, _estimate(config, old_theta, update, params)))
    except (KeyError, TypeError, ValueError) as exc:
        raise ValueError(f"checkpoint does not fit this run's config or is damaged: {exc}") from None
    return state


def _check_counters(config: TrainConfig, update: int, episodes: int, steps: int, eval_episodes: int) -> None:
    """``ValueError`` unless a checkpoint's counters are ones this config's run can reach."""
    m, horizon = config.batch_size, config.params.max_episode_steps
    if episodes != update * m or not episodes <= steps <= episodes * horizon:
        raise ValueError(f"update {update}, episodes {episodes} and steps {steps} are not counters of a run with "
                         f"batches of {m} episodes of at most {horizon} steps")
    if eval_episodes > update * (config.eval_episodes + config.confirm_starts):
        raise ValueError(f"eval_episodes {eval_episodes} is more than {update} updates' solve checks can play")
    budgets = [("max_episodes", config.max_episodes, episodes), ("max_steps", config.max_steps, steps)]
    for name, budget, done in budgets:
        if budget and done >= budget + m * horizon:
            raise ValueError(f"{name} is {budget} but the checkpoint has done {done}")
    if update > limits.MAX_BUDGET:
        raise ValueError(f"update {update} is over the limit of {limits.MAX_BUDGET}")


def _budget_reason(config: TrainConfig, state: _State, elapsed: float) -> str | None:
    if config.stop_at_solve and state.solved_at is not None:
        return "solved"
    if config.max_episodes and state.episodes >= config.max_episodes:
        return "max_episodes"
    if config.max_steps and state.steps >= config.max_steps:
        return "max_steps"
    if config.max_seconds and elapsed >= config.max_seconds:
        return "max_seconds"
    return None


def _reuse(config: TrainConfig, state: _State, estimate: engine.GradientEstimate) -> tuple[np.ndarray, float | None]:
    """The gradient with the last k batches reused under importance weights, and their mean ESS fraction."""
    m = config.batch_size
    total, count, ess = estimate.grad * m, m, []
    for _, _, old in state.recent:
        weights = importance_weights(old.batch, state.theta, per_decision=config.reuse_weights == "per_decision",
                                     self_normalize=True)
        ess.append(weights.ess / m)
        if weights.ess < config.min_ess_fraction * m:
            continue  # degenerate weights: drop this batch
        if config.reuse_clip:
            np.minimum(weights.per_step, config.reuse_clip, out=weights.per_step)
        if weights.per_decision:  # each reward weighted by the ratios up to its own step: recompute from rewards
            grad = offpolicy_gradient(old.batch, state.theta, weights, psi=config.psi, gamma=config.gamma,
                                      discount=config.discount, baseline=config.baseline, normalize=config.normalize)
        else:
            grad = reweighted_gradient(old.batch, old.advantages, state.theta, weights)
        total = total + m * grad
        count += m
    return total / count, (float(np.mean(ess)) if ess else None)


def _step(config: TrainConfig, state: _State, estimate: engine.GradientEstimate, grad: np.ndarray,
          lr: float) -> tuple[np.ndarray, float | None]:
    """θ's change for this update and, for the natural gradient and the KL penalty, the exact KL it causes."""
    if config.optimizer == "kl_penalty":
        return _penalty_step(config, state, estimate)
    if config.optimizer != "natural":
        return state.optimizer.step(grad, lr), None
    batch = estimate.batch
    mask = np.arange(batch.left.shape[1]) < batch.lengths[:, None]
    step = natural_step(grad, estimate.fisher, config.kl_delta, config.fisher_damping, batch.features[mask],
                        batch.left[mask], estimate.advantages[mask], state.theta, config.batch_size,
                        config.line_search, config.max_backtracks)
    return step.delta_theta, step.kl


def _penalty_step(config: TrainConfig, state: _State, estimate: engine.GradientEstimate):
    """Seed 002's penalized surrogate on this batch; λ (the optimizer state) takes its dual step."""
    step = kl_penalty_step(estimate.batch, estimate.advantages, state.optimizer.lam, target=config.kl_delta,
                           dual_step=config.kl_dual_step, steps=config.kl_inner_steps, lr=config.kl_inner_lr)
    state.optimizer.lam = step.lam
    return step.theta - state.theta, step.kl


@functools.lru_cache(maxsize=2)
def _lattice(levels: int) -> np.ndarray:
    """``start_lattice(levels)`` (float64[0, 4] for 0), built once per process and read-only."""
    starts = start_lattice(levels) if levels else np.empty((0, 4))
    starts.setflags(write=False)
    return starts


def confirmation_params(config: TrainConfig, params):
    """The env of the confirmation's episodes: ``params`` with the time limit ``confirm_time_margin`` longer
    (rounded to a step) and the cart-position limit at most ``confirm_x_limit``."""
    extra = round(config.confirm_time_margin * params.max_episode_steps)
    return params._replace(x_threshold=min(params.x_threshold, config.confirm_x_limit),
                           max_episode_steps=params.max_episode_steps + extra)


def confirmation_starts(config: TrainConfig, update: int) -> np.ndarray:
    """float64[L + confirm_episodes, 4]: the confirmation's starts after update ``update`` (a new array).

    First the L = confirm_lattice ** 4 starts of ``start_lattice(confirm_lattice)``, each coordinate scaled
    by its own factor 1 - ``confirm_jitter`` * u, u uniform in [0, 1) from ``derive_seed(seed,
    JITTER, update)``; then ``confirm_episodes`` random starts from ``derive_seed(seed, CONFIRM,
    update)``, as ``evaluate`` draws them. The jitter keeps the starts at the box's edge but new at
    every update, so a policy that training no longer changes is not judged on the same starts
    forever.
    """
    lattice = _lattice(config.confirm_lattice)
    starts = lattice.copy()
    if config.confirm_jitter and lattice.shape[0]:
        starts *= 1.0 - config.confirm_jitter * engine.seeded_uniforms(lattice.shape[0],
                                                                      derive_seed(config.seed, JITTER, update))
    if config.confirm_episodes:
        random = engine.initial_states(config.confirm_episodes, derive_seed(config.seed, CONFIRM, update))
        starts = np.concatenate((starts, random))
    return starts


def _solve_check(config: TrainConfig, state: _State, params) -> tuple[Any, Any, bool]:
    """Is θ after update ``state.update - 1`` solved? Returns (check, confirmation or None, solved).

    The check plays ``eval_episodes`` fresh stochastic episodes and passes if their mean return
    minus ``solve_margin_se`` standard errors is >= ``solve_threshold``. A passed check is confirmed
    by greedy episodes from each of ``confirmation_starts``: each must reach the maximum return in
    ``confirmation_params``' env. Both stop as soon as they can no longer pass;
    ``state.eval_episodes`` counts the episodes they play.
    """
    update, threshold = state.update - 1, config.solve_threshold
    check = evaluate(state.theta, config.eval_episodes, derive_seed(config.seed, EVAL, update), params=params,
                     threads=config.threads, stop_below=threshold, margin_se=config.solve_margin_se)
    solved, confirmation = check.solved(threshold, config.solve_margin_se), None
    if solved and config.confirm_starts:
        strict = confirmation_params(config, params)
        confirmation = evaluate_from(state.theta, confirmation_starts(config, update), greedy=True,
                                     params=strict, threads=config.threads, stop_below=best_return(strict))
        solved = confirmation.solved(best_return(strict))
    state.eval_episodes += len(check.returns) + (len(confirmation.returns) if confirmation else 0)
    return check, confirmation, solved


def _row(state: _State, estimate, grad, lr, kl, ess, evaluation, confirmation, wall) -> dict[str, Any]:
    returns = estimate.returns
    kl_lambda = state.optimizer.lam if isinstance(state.optimizer, DualState) else None  # after the dual step
    return {"update": state.update, "episodes": state.episodes, "steps": state.steps,
            "mean_return": float(returns.mean()), "min_return": float(returns.min()),
            "max_return": float(returns.max()), "grad_norm": float(np.linalg.norm(grad)),
            "estimator_variance": float(estimate.variance.sum()), "kl": kl, "kl_lambda": kl_lambda, "ess": ess,
            "lr": lr,
            "eval_mean_return": evaluation.mean_return if evaluation.complete else None,
            "confirm_mean_return": confirmation.mean_return if confirmation and confirmation.complete else None,
            "eval_episodes": state.eval_episodes,
            "theta": state.theta.tolist(), "wall_time": wall}


def train(config: TrainConfig | None = None, run_dir: str | Path | None = None, *, resume: bool = False,
          force: bool = False, progress: bool | None = None) -> TrainResult:
    """Train a logistic policy on CartPole with ``config`` (default: the tuned defaults).

    With ``run_dir`` the run writes its folder (see ``fastpg.runs``); ``resume=True`` continues
    the unfinished run in ``run_dir`` from its last checkpoint using the config saved there
    (``config`` must then be None or equal to it). Without ``run_dir`` nothing is written.
    ``progress``: show a progress bar (None: only when stderr is a terminal).
    Raises ``TrainingError`` if the gradient or θ becomes non-finite.
    """
    if resume:
        if run_dir is None:
            raise ValueError("resume needs the run folder")
        saved, checkpoint, lock = resume_run(run_dir)
        if config is not None and config != saved:
            release_run(lock)
            raise ValueError(f"{run_dir} was started with a different config; resume it without changing options")
        config = saved
    else:
        config = TrainConfig() if config is None else config
        if not isinstance(config, TrainConfig):
            raise TypeError(f"config must be a TrainConfig, got {type(config).__name__}")
        checkpoint, lock = None, None
        _preflight(config)
        if run_dir is not None:
            lock = start_run(run_dir, config, force)[1]
    try:
        return _train(config, None if run_dir is None else Path(run_dir), checkpoint, progress)
    finally:
        release_run(lock)


def _train(config: TrainConfig, run_dir: Path | None, checkpoint: dict[str, Any] | None,
           progress: bool | None) -> TrainResult:
    params = config.params
    if checkpoint is None:
        dim = 5 if config.bias else 4
        state = _State(np.full(dim, config.theta_init), _optimizer(config, dim))
    else:
        state = _restore(config, checkpoint, params)
    metrics = MetricsWriter(metrics_path(run_dir, config.metrics_format), config.metrics_format,
                            keep_updates=state.update) if run_dir else None
    history: list[dict[str, Any]] = list(metrics.kept) if metrics else []

    def save() -> None:
        if run_dir is not None:
            metrics.sync()
            write_json(run_dir / CHECKPOINT_FILE, {**state.to_checkpoint(), "config_sha256": config_hash(config)})

    load_start = time.perf_counter()
    warm = config.replace(batch_size=min(2, config.batch_size))  # 2 episodes: a leave-one-out baseline needs them
    _estimate(warm, state.theta, 0, params)  # load (or compile) the kernels untimed
    evaluate(state.theta, 1, 0, params=params, threads=config.threads, stop_below=config.solve_threshold)
    load_seconds = time.perf_counter() - load_start
    start, base_seconds = time.perf_counter(), state.seconds
    bar = ProgressBar(config.max_episodes, state.episodes, progress)
    try:
        while (reason := _budget_reason(config, state, base_seconds + time.perf_counter() - start)) is None:
            estimate = _estimate(config, state.theta, state.update, params)
            grad, ess = _reuse(config, state, estimate) if config.reuse_batches else (estimate.grad, None)
            fraction = state.episodes / config.max_episodes if config.max_episodes else 0.0
            lr = learning_rate(config.lr, config.lr_schedule, config.lr_final, fraction)
            if not np.isfinite(grad).all():
                save()
                raise TrainingError(f"update {state.update}: the gradient is not finite ({grad.tolist()}); "
                                    "the last good checkpoint is kept")
            optimizer_before = state.optimizer.state_dict()
            delta, kl = _step(config, state, estimate, grad, lr)
            theta = state.theta + delta
            if not np.isfinite(theta).all():
                state.optimizer.load_state_dict(optimizer_before)
                save()
                raise TrainingError(f"update {state.update}: θ became non-finite ({theta.tolist()}); "
                                    "the last good checkpoint is kept")
            if config.reuse_batches:
                state.recent.append((state.update, state.theta, estimate))
                while len(state.recent) > config.reuse_batches:
                    state.recent.popleft()
            state.theta = theta
            state.update += 1
            state.episodes += config.batch_size
            state.steps += estimate.steps
            evaluation, confirmation, solved = _solve_check(config, state, params)
            state.seconds = base_seconds + time.perf_counter() - start
            if state.solved_at is None and solved:
                state.solved_at = {"update": state.update, "episodes": state.episodes, "steps": state.steps,
                                   "seconds": state.seconds, "eval_episodes": state.eval_episodes}
            row = _row(state, estimate, grad, lr, kl, ess, evaluation, confirmation, state.seconds)
            history.append(row)
            if metrics:
                metrics.write(row)
            if config.checkpoint_every and state.update % config.checkpoint_every == 0:
                save()
            bar.update(state.episodes, row["mean_return"], row["eval_mean_return"])
        state.seconds = base_seconds + time.perf_counter() - start
        save()
    finally:
        bar.close()
        if metrics:
            metrics.close()
    final_start = time.perf_counter()
    evaluation = {}
    if config.final_episodes:
        stochastic, greedy = evaluate_in_gymnasium_modes(state.theta, config.final_episodes,
                                                         derive_seed(config.seed, FINAL, 0), (False, True),
                                                         params=params)
        evaluation = {"stochastic": stochastic.summary(), "greedy": greedy.summary()}
    timings = {"load_seconds": load_seconds, "train_seconds": state.seconds,
               "final_eval_seconds": time.perf_counter() - final_start,
               "seconds_to_solve": state.solved_at["seconds"] if state.solved_at else None}
    result = TrainResult(state.theta, config, history, state.solved_at, evaluation, timings, state.update,
                         state.episodes, state.steps, reason, state.eval_episodes, run_dir)
    if run_dir is not None:
        save_policy(state.theta, run_dir / POLICY_FILE, "json", metadata=policy_metadata(result))
        write_json(run_dir / RESULT_FILE, result.to_dict())
    return result

