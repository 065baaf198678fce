"""What a sweep worker runs: a batch of training runs, one result record per run.

A record is a flat dict (``RECORD_FIELDS``) plus ``point``, the run's grid values. A run that
raises (e.g. ``TrainingError``) gives a record with status "failed" and the error; the batch
goes on. Only the fields in ``TIMING_FIELDS`` depend on the machine, the backend or the worker
count; every other field is the same however the sweep ran.
"""

from __future__ import annotations

import ctypes
import os
import signal
import socket
import sys
import threading
import time
from typing import Any, Callable, Sequence

from ..training.loop import train
from .spec import Run

RECORD_FIELDS = (
    "run_id", "seed", "status", "solved", "episodes_to_solve", "steps_to_solve", "updates_to_solve",
    "seconds_to_solve", "updates", "episodes", "steps", "stop_reason", "final_stochastic_return",
    "final_greedy_return", "theta", "train_seconds", "wall_seconds", "attempts", "worker", "error",
)
TIMING_FIELDS = ("seconds_to_solve", "train_seconds", "wall_seconds", "attempts", "worker")
OK, FAILED, LOST = "ok", "failed", "lost"  # lost: its worker died (re-run when the sweep is re-run)


PARENT_POLL_SECONDS = 0.2  # how often a local worker checks that the sweep that started it is alive


def exit_with_parent(parent: int) -> None:
    """Worker initializer: end this worker process as soon as its parent, the sweep of pid ``parent``, is gone.

    After a SIGKILL of ``fastpg sweep`` its idle workers would otherwise live until their pool's
    idle timeout, holding the caller's stdout and stderr open. A daemon thread polls the parent pid;
    on Linux ``PR_SET_PDEATHSIG`` also delivers SIGKILL at once.
    """
    if os.getppid() != parent:  # it died while this worker started
        os._exit(1)
    if sys.platform.startswith("linux"):
        try:
            ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG = 1
        except (OSError, AttributeError):
            pass
        if os.getppid() != parent:  # the parent died before prctl took effect
            os._exit(1)

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(PARENT_POLL_SECONDS)
        os._exit(1)

    threading.Thread(target=watch, name="fastpg-exit-with-parent", daemon=True).start()


def run_batch(runs: Sequence[Run], threads: int, hook: Callable[[dict, int], None] | None = None) -> list[dict]:
    """Train each run with at most ``threads`` Numba threads; ``hook(point, seed)`` is called before each."""
    return [_run_one(run, threads, hook) for run in runs]


def _run_one(run: Run, threads: int, hook) -> dict[str, Any]:
    start = time.perf_counter()
    config = run.config
    if config.threads > threads:  # results do not depend on the thread count
        config = config.replace(threads=threads)
    try:
        if hook is not None:
            hook(run.point, run.seed)
        result = train(config, progress=False)
    except Exception as exc:  # noqa: BLE001 - any error of one run is that run's result
        return empty_record(run, FAILED, f"{type(exc).__name__}: {exc}", time.perf_counter() - start)
    solved, evaluation = result.solved_at or {}, result.evaluation
    return {**empty_record(run, OK, None, time.perf_counter() - start),
            "solved": result.solved_at is not None, "episodes_to_solve": solved.get("episodes"),
            "steps_to_solve": solved.get("steps"), "updates_to_solve": solved.get("update"),
            "seconds_to_solve": solved.get("seconds"), "updates": result.updates, "episodes": result.episodes,
            "steps": result.steps, "stop_reason": result.stop_reason,
            "final_stochastic_return": evaluation["stochastic"]["mean_return"] if evaluation else None,
            "final_greedy_return": evaluation["greedy"]["mean_return"] if evaluation else None,
            "theta": result.theta.tolist(), "train_seconds": result.timings["train_seconds"]}


def empty_record(run: Run, status: str, error: str | None, wall_seconds: float | None = None,
                 attempts: int = 1) -> dict[str, Any]:
    """A record with no training outcome (yet): the run's identity, its status and ``error``."""
    record = dict.fromkeys(RECORD_FIELDS)
    record.update(run_id=run.run_id, seed=run.seed, status=status, solved=False, wall_seconds=wall_seconds,
                  attempts=attempts, worker=f"{socket.gethostname()}:{os.getpid()}", error=error)
    return {"point": dict(run.point), **record}
