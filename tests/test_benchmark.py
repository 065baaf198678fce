"""``fastpg bench``: every suite runs and reports finite figures (speed itself is never asserted here)."""

from __future__ import annotations

import json
import math

import pytest

from fastpg._jit import max_threads
from fastpg.benchmark.harness import SUITES, run_bench
from fastpg.cli import main


def test_every_suite_runs_and_reports(tmp_path, capsys):
    assert main(["bench", "--quick", "--rounds", "2", "--min-time", "0", "--num-envs", "8",
                 "--json", str(tmp_path / "b.json"), "--png", str(tmp_path / "b.png")]) == 0
    table = capsys.readouterr().out
    report = json.loads((tmp_path / "b.json").read_text())
    groups = {r["group"] for r in report["results"]}
    assert {"env", "vector N=8", "batched N=8", "episode", "overhead", "batch"} <= groups
    for r in report["results"]:
        assert r["rounds"] == 2 and all(math.isfinite(r[k]) and r[k] > 0 for k in ("ns_median", "ns_p10", "ns_p90"))
        assert r["comparator"] or r["ratios"], r  # every fastpg row is compared with something
        assert r["name"] in table
    assert {x["name"] for x in report["latency"]} == {"gymnasium env.step", "fastpg env.step",
                                                       "fastpg cartpole_step kernel"}
    assert all(x["p50_ns"] <= x["p99_ns"] <= x["p999_ns"] <= x["max_ns"] for x in report["latency"])
    assert (tmp_path / "b.png").read_bytes()[:4] == b"\x89PNG"
    episode = {r["name"].split(" (")[0]: r for r in report["results"] if r["group"] == "episode"}
    targets = {t["name"]: t for t in report["targets"]}
    assert all(math.isfinite(t["value"]) and t["name"] in table for t in targets.values())
    assert "estimate_gradient fixed overhead per call, 4 short episodes" in targets
    if max_threads >= 2:
        assert any(name.startswith("256 episodes, 2 threads vs 1 (bit-identical)") for name in targets)
    if "C reference, total_return" in episode:  # built with the machine's compiler where there is one
        assert set(episode["fastpg kernel, reward_to_go"]["ratios"]) == {"Gymnasium+Python", "C reward_to_go"}
        assert set(episode["fastpg kernel, total_return + Fisher"]["ratios"]) == {"C total_return + Fisher"}
        assert len([t for t in targets if t.startswith("kernel / C time per step")]) == 4


@pytest.mark.parametrize(("kwargs", "match"), [
    ({"suites": ("env", "warp")}, "unknown suite"), ({"rounds": 0}, "must be positive"),
    ({"num_envs": (0,)}, "num_envs must be positive"), ({"num_envs": ()}, "num_envs must be positive"),
])
def test_bad_options(kwargs, match):
    with pytest.raises(ValueError, match=match):
        run_bench(**kwargs)


def test_cli_rejects_unknown_suite(capsys):
    assert main(["bench", "--suite", "nope"]) == 2
    assert "unknown suite" in capsys.readouterr().err


def test_suites_are_documented():
    import fastpg.benchmark.harness as b

    assert all(f"``{s}``" in b.__doc__ for s in SUITES)
