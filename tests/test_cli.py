"""The ``fastpg`` command line: exit codes, messages, help, and resume after SIGKILL."""

from __future__ import annotations

import contextlib
import io
import json
import random
import signal
import subprocess
import sys
import time
import types

import numpy as np
import pytest

from fastpg.cli import main
from fastpg.training.config import FIELDS, TrainConfig, load_config
from fastpg.training.loop import train

QUICK = ["--seed", "3", "--final-episodes", "3", "--quiet"]


def fastpg(*args):
    """Run the CLI in this process: its exit code and what it printed (argparse's exits included)."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = main([str(a) for a in args])
        except SystemExit as exc:
            code = exc.code
    return types.SimpleNamespace(returncode=code, stdout=out.getvalue(), stderr=err.getvalue())


def test_train_eval_plot_round_trip(tmp_path, capsys):
    run = tmp_path / "run"
    assert main(["train", "--out", str(run), "--seed", "3", "--final-episodes", "5"]) == 0
    out = capsys.readouterr().out
    assert "solved after" in out and "in Gymnasium, 5 episodes" in out and str(run) in out
    result = json.loads((run / "result.json").read_text())
    assert f"{result['episodes']} episodes" in out and f"plus {result['eval_episodes']:,} solve-check episodes" in out
    assert load_config(run / "config.toml") == TrainConfig(seed=3, final_episodes=5)
    assert main(["eval", str(run), "--episodes", "7", "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["episodes"] == 7 and summary["simulator"] == "gymnasium"
    assert main(["eval", str(run / "policy.json"), "--episodes", "7", "--json", "--simulator", "fastpg"]) == 0
    assert json.loads(capsys.readouterr().out)["mean_return"] == summary["mean_return"]
    theta = ",".join(repr(v) for v in result["theta"])
    assert main(["eval", f"--theta={theta}", "--episodes", "7", "--greedy"]) == 0
    assert "7 episodes of CartPole-v1 (greedy, gymnasium)" in capsys.readouterr().out
    assert main(["plot", str(run)]) == 0
    assert (run / "learning_curve.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_eval_plays_the_env_the_policy_was_trained_on(tmp_path, capsys):
    run = tmp_path / "v0"
    assert main(["train", "--out", str(run), "--env", "CartPole-v0", "--solve-threshold", "195", *QUICK]) == 0
    capsys.readouterr()
    assert main(["eval", str(run), "--episodes", "5", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["max_return"] <= 200
    (run / "result.json").write_text('{"theta": null}')
    assert main(["eval", str(run)]) == 2
    assert "result.json" in capsys.readouterr().err


def test_flags_override_the_config_file(tmp_path, capsys):
    (tmp_path / "c.toml").write_text("batch_size = 8\nlr = 2\nseed = 5\n")
    assert main(["train", "--config", str(tmp_path / "c.toml"), "--lr", "0.5", "--out", str(tmp_path / "r"),
                 "--max-episodes", "16", "--no-stop-at-solve", *QUICK]) == 0
    assert capsys.readouterr().out.count("\n") == 1  # --quiet: one line
    assert load_config(tmp_path / "r" / "config.toml") == TrainConfig(batch_size=8, lr=0.5, seed=3, max_episodes=16,
                                                                      stop_at_solve=False, final_episodes=3)


def test_help_documents_every_option():
    out = fastpg("train", "--help").stdout
    for name, f in FIELDS.items():
        assert "--" + name.replace("_", "-") in out and f"[{f.default}]" in " ".join(out.split())


@pytest.mark.parametrize(("args", "message"), [
    (["train", "--batch-sise", "3"], "did you mean --batch-size?"),
    (["train", "--batch-size", "0"], "batch_size must be in [1, 1000000], got 0"),
    (["train", "--gamma", "1.5"], "gamma must be in [0.0, 1.0], got 1.5"),
    (["train", "--baseline", "mean"], "baseline must be one of"),
    (["train", "--lr", "abc"], "invalid float value"),
    (["train", "--resume", "nowhere"], "no such folder"),
    (["eval"], "give either a run folder"),
    (["eval", "--theta", "1,2,x,4"], "comma-separated numbers"),
    (["eval", "--theta", "1,2,3"], "theta must have shape (4,) or (5,)"),
    (["eval", "--theta", "1,2,3,4", "--episodes", "0"], "episodes must be in"),
    (["plot", "."], "not a fastpg run folder"),
    (["bogus"], "invalid choice"),
])
def test_bad_input_exits_2_with_one_line(args, message, tmp_path):
    out = fastpg(*args)
    assert out.returncode == 2, out
    assert message in out.stderr and "Traceback" not in out.stderr
    assert len(out.stderr.strip().splitlines()) <= 3  # argparse adds its usage line(s)


def test_config_file_errors(tmp_path):
    bad = tmp_path / "bad.toml"
    for text, message in (("batch_sise = 3", "did you mean 'batch_size'?"), ("lr = ", "not valid TOML"),
                          ("lr = 'fast'", "lr must be a number"), ("seed = -1", "seed must be in")):
        bad.write_text(text)
        out = fastpg("train", "--config", bad, "--out", tmp_path / "r")
        assert out.returncode == 2 and message in out.stderr, out.stderr
    assert not (tmp_path / "r").exists()
    out = fastpg("train", "--config", tmp_path / "missing.toml")
    assert out.returncode == 2 and "cannot read config file" in out.stderr


def test_existing_run_needs_force_and_resume_takes_no_options(tmp_path):
    run = tmp_path / "run"
    assert fastpg("train", "--out", run, *QUICK).returncode == 0
    out = fastpg("train", "--out", run, *QUICK)
    assert out.returncode == 2 and "--force" in out.stderr
    out = fastpg("train", "--resume", run, "--lr", "2")
    assert out.returncode == 2 and "takes no other options" in out.stderr
    assert fastpg("train", "--out", run, "--force", *QUICK).returncode == 0


def test_training_failure_exits_1(tmp_path, monkeypatch, capsys):
    from fastpg.training import loop as training

    real = training._estimate

    def poisoned(config, theta, update, params):
        estimate = real(config, theta, update, params)
        estimate.grad[0] = np.inf
        return estimate

    monkeypatch.setattr(training, "_estimate", poisoned)
    assert main(["train", "--out", str(tmp_path / "r"), *QUICK]) == 1
    assert "training failed: update 0: the gradient is not finite" in capsys.readouterr().err
    assert (tmp_path / "r" / "checkpoint.json").exists() and not (tmp_path / "r" / "result.json").exists()


@pytest.mark.slow
def test_sigkill_at_random_points_then_resume_matches_an_uninterrupted_run(tmp_path):
    options = ["--seed", "11", "--no-stop-at-solve", "--max-episodes", "1200", "--checkpoint-every", "7",
               "--final-episodes", "0", "--quiet"]
    config = TrainConfig(seed=11, stop_at_solve=False, max_episodes=1200, checkpoint_every=7, final_episodes=0)
    expected = train(config).theta
    run, rng, kills = tmp_path / "run", random.Random(0), 0
    command = [sys.executable, "-m", "fastpg", "train"]

    def start(*args):
        return subprocess.Popen([*command, *map(str, args)], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                text=True)

    began = time.perf_counter()  # time one whole run, so that kills land inside runs on any machine
    subprocess.run([*command, "--out", str(tmp_path / "timed"), *options], check=True, capture_output=True)
    duration = time.perf_counter() - began
    process = start("--out", run, *options)
    while kills < 4:
        time.sleep(rng.uniform(0.3, 0.9) * duration)
        if process.poll() is not None:
            break
        process.send_signal(signal.SIGKILL)
        process.communicate()
        kills += 1
        if (run / "result.json").exists():  # killed after it had finished
            break
        if (run / "config.toml").exists():
            process = start("--resume", run, "--quiet")
        else:  # killed before the run folder existed: start again
            process = start("--out", run, "--force", *options)
    _, err = process.communicate(timeout=300)
    assert process.returncode in (0, -signal.SIGKILL), err
    assert kills >= 1, "the run finished before it could be killed; make it longer"
    result = json.loads((run / "result.json").read_text())
    assert np.array(result["theta"]).tobytes() == expected.tobytes()
    assert result["episodes"] == 1200
    rows = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    assert [r["update"] for r in rows] == list(range(1, 301))
