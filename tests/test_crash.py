"""Crash tests: SIGKILL ``fastpg train`` and ``fastpg sweep`` at random moments, continue, and compare.

``fastpg train`` (checkpoint every update) is killed at ``KILLS_TRAIN`` random moments and resumed
each time: its θ must be bit-identical to an uninterrupted run and its folder hold only run files.
``fastpg sweep`` is killed at ``KILLS_SWEEP`` moments and re-run: no record lost or duplicated,
every θ as trained alone, and no worker outlives its killed sweep (nor holds the caller's pipes).
Set ``FASTPG_CRASH_KILLS=N`` for a longer trial (N train kills, N / 3 sweep kills).
"""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from fastpg.sweeps.spec import load_sweep
from fastpg.training.config import TrainConfig
from fastpg.training.loop import train

KILLS_TRAIN = int(os.environ.get("FASTPG_CRASH_KILLS", "30"))
KILLS_SWEEP = max(3, KILLS_TRAIN // 6)
RUN_FILES = {"config.toml", "checkpoint.json", "metrics.jsonl", "result.json", "policy.json"}


def start(*args, **kwargs) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "fastpg", *map(str, args)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, **kwargs)


def children(pid: int) -> list[int]:
    """Processes whose parent is ``pid`` (from /proc)."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == pid:
                found.append(int(entry.name))
    return found


def running(pid: int) -> bool:
    """True while ``pid`` exists and is not a zombie."""
    try:
        return (Path("/proc") / str(pid) / "stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def kill_and_collect(process: subprocess.Popen) -> list[int]:
    """SIGKILL ``process`` and return its children; ``communicate`` must not wait for them."""
    workers = children(process.pid)
    process.kill()
    began = time.monotonic()
    process.communicate(timeout=10)  # blocks while any descendant holds the pipes
    assert time.monotonic() - began < 5.0
    return workers


TRAIN_OPTIONS = ["--seed", "5", "--no-stop-at-solve", "--max-episodes", "1000", "--checkpoint-every", "1",
                 "--final-episodes", "0", "--quiet"]


def kill_and_resume(run: Path, kills: int, rng: random.Random) -> int:
    """Train into ``run``, SIGKILL it at up to ``kills`` random moments, resuming each time, until it
    finishes; returns the kills made (fewer if it finished first)."""
    made, process = 0, start("train", "--out", run, *TRAIN_OPTIONS)
    while made < kills:
        time.sleep(rng.uniform(0.05, 1.5))  # start-up (~0.6 s) included: a kill may land anywhere
        if process.poll() is not None:
            break
        kill_and_collect(process)
        made += 1
        if (run / "result.json").exists():
            (run / "result.json").unlink()  # as if killed just before it: resume finishes it again
            (run / "policy.json").unlink(missing_ok=True)
        resumable = (run / "config.toml").exists()
        process = start("train", *(["--resume", run, "--quiet"] if resumable else
                                   ["--out", run, "--force", *TRAIN_OPTIONS]))
    _, err = process.communicate(timeout=300)
    assert process.returncode == 0, err
    return made


@pytest.mark.slow
def test_train_killed_at_random_moments_resumes_bit_identically(tmp_path):
    expected = train(TrainConfig(seed=5, stop_at_solve=False, max_episodes=1000, checkpoint_every=1,
                                 final_episodes=0)).theta
    rng, kills, runs = random.Random(15), 0, 0
    while kills < KILLS_TRAIN:  # another run if one finishes before every kill has landed
        run = tmp_path / f"run{runs}"
        kills += kill_and_resume(run, KILLS_TRAIN - kills, rng)
        runs += 1
        result = json.loads((run / "result.json").read_text())
        assert np.array(result["theta"]).tobytes() == expected.tobytes() and result["episodes"] == 1000
        rows = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
        assert [r["update"] for r in rows] == list(range(1, 251))
        assert {p.name for p in run.iterdir()} == RUN_FILES  # no temporary file left behind


@pytest.mark.slow
def test_sweep_killed_at_random_moments_loses_and_duplicates_nothing(tmp_path):
    sweep = tmp_path / "s.toml"
    sweep.write_text('seeds = "0-29"\nworkers = 2\nchunk_size = 2\n[base]\nmax_episodes = 120\n'
                     'stop_at_solve = false\n')
    runs = load_sweep(sweep).plan()
    expected = {run.run_id: train(run.config).theta.tobytes() for run in runs}
    rng, kills, survivors, rounds = random.Random(8), 0, [], 0
    while kills < KILLS_SWEEP:  # another sweep if one finishes before every kill has landed
        out, rounds = tmp_path / f"s{rounds}.jsonl", rounds + 1
        while True:
            process = start("sweep", sweep, "--out", out, "--quiet")
            if kills < KILLS_SWEEP:
                time.sleep(rng.uniform(0.5, 3.0))
                if process.poll() is None:
                    workers = kill_and_collect(process)
                    kills += 1
                    deadline = time.monotonic() + 5
                    while any(map(running, workers)) and time.monotonic() < deadline:
                        time.sleep(0.05)
                    survivors += [pid for pid in workers if running(pid)]
                    continue
            _, err = process.communicate(timeout=300)
            assert process.returncode == 0, err
            break
        records = [json.loads(line) for line in out.read_text().splitlines() if line.endswith("}")]
        assert sorted(r["run_id"] for r in records) == sorted(expected)  # each run once
        assert all(r["status"] == "ok" and np.array(r["theta"]).tobytes() == expected[r["run_id"]] for r in records)
    assert not survivors
