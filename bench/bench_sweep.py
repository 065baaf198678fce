"""Sweep throughput: a 1,000-run sweep (default config, its 2,000-episode budget, no final evaluation)
on joblib, Dask and Ray with 1 and 2 workers, against the same runs trained in this process.

Reports runs/s per backend, the 1 -> 2 worker speed-up (target >= 1.7x on 2 cores) and the overhead
per run: worker time not spent inside a run, (wall time x workers - sum of the runs' times) / runs
(scheduling, transfers, idle workers at the end). Pools and clusters are started and warmed up
before timing; their start-up time is reported apart. As a control, two plain processes (no pool)
train half the runs each at the same time: their speed-up over one process is the most any backend
can reach on the machine at hand (other load on a shared machine shows there first).

Run: ``.venv/bin/python -m pytest bench/bench_sweep.py`` (pytest-benchmark, with a summary table)
or ``.venv/bin/python bench/bench_sweep.py`` (the table only). ``FASTPG_BENCH_RUNS`` changes the size;
with ``--benchmark-disable`` (the smoke run of ``make test``) it is 40 runs, without warm-up or control.
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import subprocess
import sys
import time

import pytest

from fastpg.sweeps.run import sweep
from fastpg.sweeps.spec import SweepSpec
from fastpg.training.loop import train

BACKENDS = [b for b in ("joblib", "dask", "ray")
            if importlib.util.find_spec({"joblib": "joblib", "dask": "distributed", "ray": "ray"}[b])]


def seeds(runs: int) -> str:
    return f"0-{runs - 1}"


def in_process(runs: int) -> float:
    """Seconds to train every run of the sweep here, one after another (the work itself)."""
    plan = SweepSpec(seeds=seeds(runs)).plan()
    train(plan[0].config, progress=False)  # load the kernels
    start = time.perf_counter()
    for run in plan:
        train(run.config, progress=False)
    return time.perf_counter() - start


CHILD = """import sys, time
from fastpg.sweeps.spec import SweepSpec
from fastpg.training.loop import train
plan = SweepSpec(seeds=sys.argv[1]).plan()[int(sys.argv[2])::int(sys.argv[3])]
train(plan[0].config, progress=False)
time.sleep(max(0.0, float(sys.argv[4]) - time.time()))
start = time.perf_counter()
for run in plan:
    train(run.config, progress=False)
print(time.perf_counter() - start)
"""


def independent(runs: int, processes: int) -> float:
    """Seconds for ``processes`` plain Python processes, started together, to train a share of the runs each."""
    start_at = str(time.time() + 5)  # after every process has imported fastpg and loaded its kernels
    children = [subprocess.Popen([sys.executable, "-c", CHILD, seeds(runs), str(i), str(processes), start_at],
                                 stdout=subprocess.PIPE, text=True) for i in range(processes)]
    return max(float(child.communicate()[0]) for child in children)


def pause(point: dict, seed: int) -> None:
    """A worker hook for the warm-up: slow runs, so that every worker gets some while the others start."""
    time.sleep(0.25)


@contextlib.contextmanager
def started(backend: str, workers: int, warm: bool = True):
    """The backend started (and warmed up: every worker has loaded fastpg's kernels): yields sweep() options
    and the seconds it took to start, without the warm-up."""
    start = time.perf_counter()
    with contextlib.ExitStack() as stack:
        if backend == "dask":
            from distributed import LocalCluster

            cluster = stack.enter_context(LocalCluster(n_workers=workers, threads_per_worker=1,
                                                       dashboard_address=":0"))
            options = {"backend": "dask", "address": cluster.scheduler_address}
        elif backend == "ray":
            import ray

            ray.init(num_cpus=workers, include_dashboard=False, log_to_driver=False)
            stack.callback(ray.shutdown)
            options = {"backend": "ray", "address": "auto", "workers": workers}
        else:
            from joblib.externals.loky import get_reusable_executor

            get_reusable_executor().shutdown(wait=True)  # a new pool of this size
            get_reusable_executor(max_workers=workers, timeout=300).submit(int).result()
            options = {"backend": "joblib", "workers": workers}
        startup = time.perf_counter() - start
        if warm:
            sweep(seeds=range(8 * workers), chunk_size=1, worker_hook=pause, **options)
        yield options, startup


def timed_sweep(runs: int, options: dict) -> tuple[float, float, int]:
    """Seconds for the whole sweep, seconds the workers spent inside runs, and the env steps trained."""
    start = time.perf_counter()
    result = sweep(seeds=seeds(runs), **options)
    wall = time.perf_counter() - start
    assert result.counts()["ok"] == runs
    return wall, sum(r["wall_seconds"] for r in result.records), sum(r["steps"] for r in result.records)


def table(runs: int, rows: dict) -> list[str]:
    serial, pair = rows["in-process"], rows.get("independent")
    lines = [f"sweep of {runs} runs ({serial / runs * 1e3:.1f} ms of training per run, {os.cpu_count()} cores)",
             f"{'backend':<12}{'workers':>8}{'runs/s':>10}{'start-up':>10}{'1->2 workers':>14}{'overhead/run':>14}",
             f"{'in-process':<12}{1:>8}{runs / serial:>10.1f}"]
    if pair:
        lines.append(f"{'2 processes':<12}{2:>8}{runs / pair:>10.1f}{'':>10}{serial / pair:>13.2f}x"
                     "  (no pool: this machine's ceiling)")
    for backend in BACKENDS:
        for workers in (1, 2):
            if (backend, workers) not in rows:
                continue
            wall, busy, startup = rows[backend, workers]
            scaling = f"{rows[backend, 1][0] / wall:.2f}x" if workers == 2 and (backend, 1) in rows else ""
            overhead = f"{(wall * workers - busy) / runs * 1e3:.2f} ms"
            lines.append(f"{backend:<12}{workers:>8}{runs / wall:>10.1f}{startup:>9.1f}s{scaling:>14}{overhead:>14}")
    return lines


@pytest.fixture(scope="module")
def smoke(request) -> bool:
    return bool(request.config.getoption("benchmark_disable", False))


@pytest.fixture(scope="module")
def runs(smoke) -> int:
    return int(os.environ.get("FASTPG_BENCH_RUNS", "40" if smoke else "1000"))


@pytest.fixture(scope="module")
def report(request, smoke, runs):
    """Collects each measurement; prints the runs/s, scaling and overhead table at the end."""
    rows = {"in-process": in_process(runs)}
    if not smoke:
        rows["independent"] = independent(runs, 2)
    yield rows
    terminal = request.config.pluginmanager.get_plugin("terminalreporter")
    capture = request.config.pluginmanager.get_plugin("capturemanager")
    with capture.global_and_fixture_disabled():
        note = ["smoke run (--benchmark-disable): cold workers, no warm-up; these are not measurements"] if smoke else []
        for line in ["", *note, *table(runs, rows)]:
            terminal.write_line(line)


@pytest.mark.parametrize("workers", [1, 2])
@pytest.mark.parametrize("backend", BACKENDS)
def test_sweep_throughput(benchmark, report, smoke, runs, backend, workers):
    with started(backend, workers, warm=not smoke) as (options, startup):
        wall, busy, steps = benchmark.pedantic(timed_sweep, args=(runs, options), rounds=1, iterations=1)
    report[backend, workers] = (wall, busy, startup)
    benchmark.group = f"sweep of {runs} runs"
    benchmark.extra_info.update(impl=f"sweep on {backend}, {workers} workers", runs=runs, runs_per_s=runs / wall,
                                startup_s=startup, steps=steps)


if __name__ == "__main__":
    size = int(os.environ.get("FASTPG_BENCH_RUNS", "1000"))
    measured = {"in-process": in_process(size), "independent": independent(size, 2)}
    for name in BACKENDS:
        for n in (1, 2):
            with started(name, n) as (opts, startup_s):
                measured[name, n] = (*timed_sweep(size, opts)[:2], startup_s)
    print("\n".join(table(size, measured)))
