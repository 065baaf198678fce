"""Sweeps: train once per (grid point, seed) on joblib, Dask or Ray; stream the results; summarize.

``sweep(base_config, grid, seeds, backend="joblib")`` validates every run's config, skips the runs
the results file already holds, runs the rest in batches of short runs (a task of ~16 runs keeps
the scheduling overhead small against the ~10-50 ms a run takes), appends each record as its task
finishes, and summarizes per grid point. Each run is ``train(config)`` with its own seed, so the
records are the same whichever backend or worker count ran them (except ``TIMING_FIELDS``).

A task lost with its worker (killed, out of memory, a crashed node) does not stop the sweep: its
runs are re-run alone, one at a time, up to ``retries`` times each; a run that still loses its
worker is recorded with status "lost" (and is run again when the sweep is re-run).
"""

from __future__ import annotations

import math
import sys
from collections import Counter, deque
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterable

from tqdm import tqdm

from ..files import atomic_write_text
from ..training.config import TrainConfig
from .backends import local_cpus, open_backend
from .results import ResultsFile, latest, read_results, summarize, summary_csv, summary_text
from .spec import SWEEP_BASE, Run, SweepSpec, load_sweep
from .worker import FAILED, LOST, OK, TIMING_FIELDS, empty_record, run_batch

__all__ = ["SweepResult", "SweepSpec", "TIMING_FIELDS", "load_sweep", "run_sweep", "summary_path", "sweep"]

MAX_CHUNK = 16  # runs per task: ~0.25 s of work, against ~1 ms of scheduling


@dataclass
class SweepResult:
    """A finished sweep: one record per run in plan order (grid point by grid point, seed by seed),
    one summary row per grid point, and how many runs came from the results file (``reused``) or
    are in it but not in this sweep (``other``)."""

    spec: SweepSpec
    records: list[dict[str, Any]]
    summary: list[dict[str, Any]]
    reused: int
    other: int

    def counts(self) -> dict[str, int]:
        """Runs per status: "ok", "failed" (training raised), "lost" (the worker died)."""
        found = Counter(r["status"] for r in self.records)
        return {status: found[status] for status in (OK, FAILED, LOST)}

    def table(self) -> str:
        return summary_text(self.summary, self.spec.grid)


def summary_path(out: Path) -> Path:
    """Where the summary of results file ``out`` goes: ``NAME.summary.csv`` beside it."""
    return Path(out).with_suffix(".summary.csv")


def sweep(base_config: TrainConfig | None = None, grid: dict[str, Iterable] | None = None,
          seeds: str | Iterable[int] = "0-9", *, backend: str = "joblib", workers: int | None = None,
          address: str | None = None, out: str | Path | None = None, chunk_size: int | None = None,
          retries: int = 1, progress: bool | None = None,
          worker_hook: Callable[[dict, int], None] | None = None) -> SweepResult:
    """Train ``base_config`` (default: the defaults with ``final_episodes=0``) at every point of ``grid``
    (config key -> list of values) with every seed in ``seeds`` (a list, or "0-19"); see ``SweepSpec``.

    ``worker_hook(point, seed)``, if given, runs in the worker before each run (it must be picklable;
    tests use it to kill a worker). ``progress``: a progress bar (None: only when stderr is a terminal).
    """
    spec = SweepSpec(SWEEP_BASE if base_config is None else base_config, grid or {}, seeds, backend, workers,
                     address, out, chunk_size, retries)
    return run_sweep(spec, progress=progress, worker_hook=worker_hook)


def run_sweep(spec: SweepSpec, *, progress: bool | None = None,
              worker_hook: Callable[[dict, int], None] | None = None) -> SweepResult:
    """Run the runs of ``spec`` that its results file does not hold yet; see :func:`sweep`."""
    plan = spec.plan()  # every config is checked before any run starts
    results = ResultsFile(spec.out, spec.grid) if spec.out else None
    try:
        previous = latest(read_results(spec.out)) if results and spec.out.exists() else {}
        records = {run.run_id: {**previous[run.run_id], "point": run.point} for run in plan
                   if run.run_id in previous and previous[run.run_id]["status"] != LOST}
        reused, other = len(records), len(previous.keys() - {run.run_id for run in plan})
        todo = [run for run in plan if run.run_id not in records]
        show = sys.stderr.isatty() if progress is None else progress
        with tqdm(total=len(plan), initial=reused, unit="run", desc="sweep", disable=not show,
                  dynamic_ncols=True, leave=False) as bar:
            if todo:
                backend = open_backend(spec.backend, spec.workers, spec.address)
                pending: dict[Any, list[Run]] = {}
                try:
                    for batch in _schedule(backend, pending, todo, spec, worker_hook):
                        if results:
                            results.append(batch)
                        records.update((r["run_id"], r) for r in batch)
                        bar.update(len(batch))
                finally:
                    backend.close(pending)
    finally:
        if results:
            results.close()
    ordered = [records[run.run_id] for run in plan]
    summary = summarize(spec.points(), ordered)
    if spec.out:
        atomic_write_text(summary_path(spec.out), summary_csv(summary))
    return SweepResult(spec, ordered, summary, reused, other)


def _schedule(backend, pending: dict, runs: list[Run], spec: SweepSpec, hook):
    """Yield lists of records as tasks finish; ``pending`` holds the tasks in flight (future -> runs)."""
    chunk = spec.chunk_size or max(1, min(MAX_CHUNK, math.ceil(len(runs) / (4 * backend.workers))))
    threads = max(1, local_cpus() // backend.workers) if backend.local else 1  # Numba threads per run
    queue = deque(runs[i:i + chunk] for i in range(0, len(runs), chunk))
    lost, suspects = Counter(), []
    while queue or pending:
        while queue and len(pending) < 2 * backend.workers:
            batch = queue.popleft()
            pending[backend.submit(run_batch, batch, threads, hook)] = batch
        for future in backend.wait(list(pending)):
            batch = pending.pop(future)
            try:
                records = backend.result(future)
            except Exception as exc:  # noqa: BLE001 - the task's worker died or the engine lost it
                lost.update(run.run_id for run in batch)
                suspects.extend((run, _describe(exc)) for run in batch)
                continue
            yield [{**r, "attempts": lost[r["run_id"]] + 1} for r in records]
    for run, error in suspects:  # alone and one at a time, so a run that kills its worker is identified
        record = None
        while record is None and lost[run.run_id] <= spec.retries:
            future = backend.submit(run_batch, [run], threads, hook)
            pending[future] = [run]
            try:
                record = {**backend.result(future)[0], "attempts": lost[run.run_id] + 1}
            except Exception as exc:  # noqa: BLE001
                lost[run.run_id] += 1
                error = _describe(exc)
            del pending[future]
        n = lost[run.run_id]
        yield [record or {**empty_record(run, LOST, f"no result from its worker ({n} tries): {error}",
                                         attempts=n), "worker": None}]


def _describe(exc: BaseException) -> str:
    """The error's type and first sentence."""
    first = (str(exc).strip().splitlines() or [""])[0].split(". ")[0]
    return f"{type(exc).__name__}: {first}"[:300]
