"""Sweeps: identical results on 1 or 2 loky workers, a Dask LocalCluster and Ray; streaming and resume;
bad input reported before any run; unreachable schedulers; workers that die mid-sweep; the CLI."""

from __future__ import annotations

import argparse
import functools
import importlib
import json
import os
import time
from pathlib import Path

import numpy as np
import pytest

from fastpg.training.config import TrainConfig
from fastpg.sweeps.run import TIMING_FIELDS, SweepSpec, run_sweep, summary_path, sweep
from fastpg.cli.sweep import add_sweep_parser, run_sweep_command
from fastpg.sweeps.results import read_results
from fastpg.sweeps.spec import SWEEP_BASE, load_sweep
from fastpg.training.loop import train

BASE = TrainConfig(max_episodes=400, final_episodes=0)
GRID = {"lr": [0.5, 1.0], "baseline": ["none", "per_timestep"]}
SEEDS = "0-3"


def same_everywhere(records):
    """The fields that must not depend on the backend, the worker count or the machine's speed."""
    return [{k: v for k, v in r.items() if k not in TIMING_FIELDS} for r in records]


@pytest.fixture(scope="module")
def reference():
    """The sweep on one loky worker, against which every other way of running it is compared."""
    return sweep(BASE, GRID, SEEDS, workers=1)


def test_one_worker_runs_train_with_each_seed(reference):
    assert [(r["point"], r["seed"]) for r in reference.records] == [
        ({"lr": lr, "baseline": b}, s) for lr in GRID["lr"] for b in GRID["baseline"] for s in range(4)]
    assert reference.counts() == {"ok": 16, "failed": 0, "lost": 0}
    for record in reference.records[::5]:
        result = train(BASE.replace(seed=record["seed"], **record["point"]), progress=False)
        assert record["theta"] == result.theta.tolist()
        assert record["episodes"] == result.episodes and record["stop_reason"] == result.stop_reason
        assert record["episodes_to_solve"] == (result.solved_at or {}).get("episodes")
    assert len({r["worker"] for r in reference.records}) == 1


def wait_for_workers(folder: str, workers: int, point: dict, seed: int) -> None:
    """A worker hook: wait (up to 30 s) until ``workers`` processes have started a run, so that each gets some."""
    Path(folder, str(os.getpid())).touch()
    deadline = time.monotonic() + 30
    while len(os.listdir(folder)) < workers and time.monotonic() < deadline:
        time.sleep(0.01)


def test_two_workers_give_identical_results(tmp_path, reference):
    hook = functools.partial(wait_for_workers, str(tmp_path), 2)
    two = sweep(BASE, GRID, SEEDS, workers=2, chunk_size=1, worker_hook=hook)
    assert same_everywhere(two.records) == same_everywhere(reference.records)
    assert len({r["worker"] for r in two.records}) == 2
    for a, b in zip(two.summary, reference.summary, strict=True):
        assert {**a, "wall_median_s": None} == {**b, "wall_median_s": None}


def test_dask_local_cluster_gives_identical_results(reference):
    pytest.importorskip("dask.distributed")
    result = sweep(BASE, GRID, SEEDS, backend="dask", workers=2)
    assert same_everywhere(result.records) == same_everywhere(reference.records)


def test_dask_existing_scheduler_address(reference):
    distributed = pytest.importorskip("dask.distributed")
    with distributed.LocalCluster(n_workers=1, threads_per_worker=1, dashboard_address=":0") as cluster:
        result = sweep(BASE, {"lr": [0.5], "baseline": ["none"]}, SEEDS, backend="dask",
                       address=cluster.scheduler_address)
    assert same_everywhere(result.records) == same_everywhere(reference.records[:4])


def test_ray_gives_identical_results(reference):
    pytest.importorskip("ray")
    result = sweep(BASE, GRID, SEEDS, backend="ray", workers=2)
    assert same_everywhere(result.records) == same_everywhere(reference.records)


def test_summary_per_grid_point(reference):
    assert len(reference.summary) == 4
    for row in reference.summary:
        mine = [r for r in reference.records if r["point"] == {"lr": row["lr"], "baseline": row["baseline"]}]
        solved = [r["episodes_to_solve"] for r in mine if r["solved"]]
        assert row["runs"] == 4 and row["failed"] == row["lost"] == 0
        assert row["solve_rate"] == len(solved) / 4
        assert row["episodes_median"] == (float(np.median(solved)) if solved else None)
        assert row["episodes_p90"] == (float(np.percentile(solved, 90)) if solved else None)
        assert row["final_stochastic_return"] is None  # final_episodes = 0
    assert "solved" in reference.table() and "per_timestep" in reference.table()


@pytest.mark.parametrize("suffix", [".jsonl", ".csv"])
def test_results_stream_to_a_file_and_a_rerun_skips_finished_runs(tmp_path, reference, suffix):
    out = tmp_path / f"sweep{suffix}"
    first = sweep(BASE, GRID, SEEDS, workers=2, out=out)
    assert sorted(map(json.dumps, same_everywhere(read_results(out)))) == sorted(
        map(json.dumps, same_everywhere(reference.records)))
    assert summary_path(out).read_text().startswith("lr,baseline,runs,failed,lost,solve_rate")
    again = sweep(BASE, GRID, SEEDS, workers=2, out=out)
    assert again.reused == 16 and again.records == first.records
    lines = out.read_text().splitlines(keepends=True)
    keep = 6 if suffix == ".csv" else 5  # 5 records (+ the CSV header)
    out.write_text("".join(lines[:keep]) + lines[keep][:20])  # a crash mid-write leaves a torn line
    resumed = sweep(BASE, GRID, SEEDS, workers=2, out=out)
    assert resumed.reused == 5 and len(read_results(out)) == 16
    assert same_everywhere(resumed.records) == same_everywhere(reference.records)
    bigger = sweep(BASE, {**GRID, "lr": [0.5, 1.0, 2.0]}, SEEDS, workers=2, out=out)
    assert bigger.reused == 16 and len(bigger.records) == 24


def test_a_run_is_found_by_its_config_whatever_grid_it_came_from(tmp_path):
    out = tmp_path / "s.jsonl"
    sweep(BASE, {"lr": [0.5, 1.0]}, "0-1", workers=1, out=out)
    again = sweep(BASE.replace(lr=0.5), {"batch_size": [4, 8]}, "0-1", workers=1, out=out)
    assert again.reused == 2 and again.other == 2  # lr=0.5 with batch 4 (the default) was run already
    assert [r["point"] for r in again.records] == [{"batch_size": 4}] * 2 + [{"batch_size": 8}] * 2
    assert [row["runs"] for row in again.summary] == [2, 2]


def test_runs_lost_to_a_dead_worker_are_rerun_when_the_sweep_is(tmp_path):
    out = tmp_path / "s.jsonl"
    hook = functools.partial(die_on_seed, 2, None)
    first = sweep(BASE, {"lr": [1.0]}, "0-3", workers=2, out=out, retries=0, worker_hook=hook)
    assert first.counts()["lost"] >= 1 and first.records[2]["status"] == "lost"
    again = sweep(BASE, {"lr": [1.0]}, "0-3", workers=2, out=out)
    assert again.counts() == {"ok": 4, "failed": 0, "lost": 0} and again.reused == 4 - first.counts()["lost"]


def die_on_seed(seed: int, once: str | None, point: dict, run_seed: int) -> None:
    """A worker hook: kill the worker process at ``seed`` (only the first time, if ``once`` names a marker file)."""
    if run_seed == seed and not (once and os.path.exists(once)):
        if once:
            Path(once).touch()
        os._exit(3)


@pytest.mark.parametrize("backend", ["joblib", "dask", "ray"])
def test_a_worker_that_dies_mid_sweep(tmp_path, backend):
    if backend != "joblib":
        pytest.importorskip({"dask": "dask.distributed", "ray": "ray"}[backend])
    hook = functools.partial(die_on_seed, 5, None)
    result = sweep(BASE, {"lr": [1.0]}, "0-9", backend=backend, workers=2, worker_hook=hook)
    lost = result.records[5]
    assert lost["status"] == "lost" and lost["attempts"] == 2 and "no result from its worker (2 tries): " in lost["error"]
    assert result.counts() == {"ok": 9, "failed": 0, "lost": 1}
    flaky = functools.partial(die_on_seed, 5, str(tmp_path / "died"))
    result = sweep(BASE, {"lr": [1.0]}, "0-9", backend=backend, workers=2, worker_hook=flaky)
    assert result.counts() == {"ok": 10, "failed": 0, "lost": 0} and result.records[5]["attempts"] == 2


def raise_on_seed(point: dict, seed: int) -> None:
    if seed == 1:
        raise FloatingPointError("boom")


def test_a_run_that_raises_is_reported_failed_and_the_sweep_goes_on():
    result = sweep(BASE, {"lr": [1.0]}, "0-2", workers=1, worker_hook=raise_on_seed)
    assert [r["status"] for r in result.records] == ["ok", "failed", "ok"]
    assert result.records[1]["error"] == "FloatingPointError: boom"


@pytest.mark.parametrize("grid, seeds, message", [
    ({"lrr": [1.0]}, "0", "grid: unknown config key 'lrr'; did you mean 'lr'?"),
    ({"lr": []}, "0", "grid.lr is empty"),
    ({"lr": 1.0}, "0", "grid.lr must be a list of values"),
    ({"lr": [1.0, 1]}, "0", "grid.lr lists 1 more than once"),
    ({"lr": [1.0, -1.0]}, "0", "grid point {lr=-1.0}: lr must be in (0.0"),
    ({"baseline": ["none", "mean"]}, "0", "grid point {baseline='mean'}: baseline must be one of"),
    ({"seed": [1, 2]}, "0", "seed is set by seeds"),
    ({"threads": [1, 2]}, "0", "grid points {threads=1} and {threads=2} are the same runs"),
    ({}, [], "seeds is empty"),
    ({}, "3-x", "'3-x' is not a seed or a range"),
    ({}, [0, -1], "seeds must be integers in [0, 9223372036854775807], got -1"),
    ({}, "5-3", "the range '5-3' is empty"),
    ({}, 5, "seeds must be a list"),
    ({}, "0,0", "seeds lists 0 more than once"),
])
def test_bad_input_is_reported_before_any_run(tmp_path, grid, seeds, message):
    out = tmp_path / "s.jsonl"
    with pytest.raises(ValueError) as info:
        sweep(BASE, grid, seeds, out=out, worker_hook=functools.partial(die_on_seed, 0, None))
    assert message in str(info.value)
    assert not out.exists()


def test_bad_settings():
    for kwargs, message in [({"backend": "spark"}, "backend must be one of"), ({"workers": 0}, "workers must be"),
                            ({"out": "x.txt"}, "must end in .jsonl or .csv"), ({"retries": -1}, "retries must be")]:
        with pytest.raises(ValueError, match=message):
            SweepSpec(**kwargs)
    with pytest.raises(ValueError, match="an address needs backend dask or ray"):
        sweep(BASE, {}, "0", address="tcp://127.0.0.1:8786")


@pytest.mark.parametrize("backend", ["dask", "ray"])
def test_unreachable_scheduler_fails_fast(tmp_path, backend):
    pytest.importorskip("dask.distributed" if backend == "dask" else "ray")
    start = time.perf_counter()
    with pytest.raises(ConnectionError, match=f"cannot reach the {'Dask scheduler' if backend == 'dask' else 'Ray'}"):
        sweep(BASE, {}, "0", backend=backend, address="127.0.0.1:9", out=tmp_path / "s.jsonl")
    assert time.perf_counter() - start < 6 and not (tmp_path / "s.jsonl").exists()


def test_results_file_of_another_grid_is_refused(tmp_path):
    out = tmp_path / "s.csv"
    sweep(BASE, {"lr": [1.0]}, "0", workers=1, out=out)
    with pytest.raises(ValueError, match="holds results with other columns"):
        sweep(BASE, {"batch_size": [4]}, "0", workers=1, out=out)


def cli(*argv: str) -> int:
    parser = argparse.ArgumentParser(prog="fastpg")
    add_sweep_parser(parser.add_subparsers(dest="command"))
    return run_sweep_command(parser.parse_args(["sweep", *argv]))


SWEEP_TOML = """seeds = "0-2"
workers = 2
[base]
max_episodes = 400
[grid]
lr = [0.5, 1.0]
"""


def test_cli_reads_the_toml_applies_overrides_and_prints_the_summary(tmp_path, capsys):
    (tmp_path / "lr.toml").write_text(SWEEP_TOML)
    assert cli(str(tmp_path / "lr.toml"), "--set", "grid.baseline=['none']", "--seeds", "0-1") == 0
    out = capsys.readouterr().out
    assert "4 runs (4 run now on joblib, 0 already in" in out and "baseline" in out.splitlines()[1]
    records = read_results(tmp_path / "lr.jsonl")
    assert {(r["seed"], r["point"]["baseline"]) for r in records} == {(0, "none"), (1, "none")}
    assert cli(str(tmp_path / "lr.toml"), "--out", str(tmp_path / "lr.csv"), "--quiet") == 0
    assert capsys.readouterr().out.count("\n") == 1
    spec = load_sweep(tmp_path / "lr.toml", {"base.final_episodes": 2})
    assert spec.base == SWEEP_BASE.replace(max_episodes=400, final_episodes=2) and spec.seeds == (0, 1, 2)
    for bad, message in [("--set", "lr=1"), ("--set", "worker=3")]:
        with pytest.raises(ValueError, match="did you mean"):
            cli(str(tmp_path / "lr.toml"), bad, message)
    (tmp_path / "bad.toml").write_text("seeds = [0]\n[grid]\nbatch_size = [0]\n")
    with pytest.raises(ValueError, match=r"grid point \{batch_size=0\}: batch_size must be in \[1"):
        cli(str(tmp_path / "bad.toml"))


def test_cli_exit_code_and_message_when_runs_fail_or_are_lost(tmp_path, capsys, monkeypatch):
    module = importlib.import_module("fastpg.sweeps.run")

    (tmp_path / "lr.toml").write_text(SWEEP_TOML)
    monkeypatch.setattr(module, "run_sweep", functools.partial(run_sweep, worker_hook=raise_on_seed))
    assert cli(str(tmp_path / "lr.toml"), "--quiet") == 1
    captured = capsys.readouterr()
    assert ": 4 ok, 2 failed, 0 lost" in captured.out
    assert "failed: {lr=0.5} seed 1: FloatingPointError: boom" in captured.err
    hook = functools.partial(die_on_seed, 0, None)
    monkeypatch.setattr(module, "run_sweep", functools.partial(run_sweep, worker_hook=hook))
    assert cli(str(tmp_path / "lr.toml"), "--quiet", "--out", str(tmp_path / "b.jsonl")) == 1
    assert "lost: {lr=0.5} seed 0: no result from its worker (2 tries)" in capsys.readouterr().err
    monkeypatch.undo()
    assert cli(str(tmp_path / "lr.toml"), "--quiet", "--out", str(tmp_path / "b.jsonl")) == 0  # re-runs the lost
    assert "(2 run now on joblib, 4 already in" in capsys.readouterr().out


def test_ctrl_c_keeps_the_finished_runs(tmp_path, capsys, monkeypatch):
    from fastpg.sweeps import results as sweep_results

    (tmp_path / "lr.toml").write_text(SWEEP_TOML)
    append = sweep_results.ResultsFile.append

    def append_then_interrupt(self, records):
        append(self, records)
        raise KeyboardInterrupt

    monkeypatch.setattr(sweep_results.ResultsFile, "append", append_then_interrupt)
    assert cli(str(tmp_path / "lr.toml"), "--chunk-size", "1") == 130
    assert "interrupted; the finished runs are in" in capsys.readouterr().err
    assert len(read_results(tmp_path / "lr.jsonl")) == 1
    monkeypatch.undo()
    assert cli(str(tmp_path / "lr.toml"), "--quiet") == 0
    assert "1 already in" in capsys.readouterr().out


def test_plot_sweep(tmp_path):
    pytest.importorskip("matplotlib")
    from fastpg.sweeps.plot import is_sweep_results, plot_sweep

    out = tmp_path / "s.jsonl"
    sweep(BASE, {"baseline": ["none", "per_timestep"]}, "0-2", workers=1, out=out)
    assert is_sweep_results(out) and not is_sweep_results(tmp_path)
    assert plot_sweep(out).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert (tmp_path / "s.png").exists()


def test_workers_cap_numba_threads(monkeypatch):
    from fastpg._jit import get_num_threads
    from fastpg.sweeps import worker
    from fastpg.sweeps.spec import Run, run_id

    used, before = [], get_num_threads()
    monkeypatch.setattr(worker, "train", lambda config, **kw: used.append(config.threads) or train(config, **kw))
    config = BASE.replace(threads=2)
    [record] = worker.run_batch([Run(run_id(config), {}, 0, config)], threads=1)
    assert used == [1] and record["status"] == "ok"
    assert get_num_threads() == before  # train() leaves Numba's thread count as it found it
    assert run_id(config) == run_id(BASE)  # the thread count cannot change the results
