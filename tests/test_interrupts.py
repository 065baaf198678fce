"""Ctrl-C, kills and concurrent processes: one line, exit 130, the right advice, and no stale files."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from fastpg import save_policy
from fastpg.cli import main
from fastpg.errors import RunFolderError
from fastpg.training.config import TrainConfig
from fastpg.training.loop import train

QUICK = ["--seed", "1", "--max-episodes", "8", "--no-stop-at-solve", "--final-episodes", "0", "--quiet"]


def _interrupt(*args, **kwargs):
    raise KeyboardInterrupt


def interrupted_one_line(argv, capsys) -> str:
    capsys.readouterr()
    assert main([str(a) for a in argv]) == 130
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err and "interrupted" in err, err
    return err


@pytest.mark.parametrize("where", ["fastpg.pg.evaluation.evaluate_in_gymnasium", "fastpg.pg.evaluation.evaluate"])
def test_ctrl_c_in_eval_is_one_line_and_130(monkeypatch, capsys, where):
    monkeypatch.setattr(where, _interrupt)
    simulator = "fastpg" if where.endswith(".evaluate") else "gymnasium"
    interrupted_one_line(["eval", "--theta=0,0,1,1", "--simulator", simulator], capsys)


def test_ctrl_c_in_export_and_before_a_command_is_one_line_and_130(tmp_path, monkeypatch, capsys):
    save_policy(np.ones(4), tmp_path / "p.json")
    monkeypatch.setattr("fastpg.export.policy_io.save_policy", _interrupt)
    interrupted_one_line(["export", tmp_path / "p.json", "--out", tmp_path / "q.npy"], capsys)
    assert not (tmp_path / "q.npy").exists()
    monkeypatch.setattr("fastpg.cli.app.build_parser", _interrupt)
    interrupted_one_line(["eval"], capsys)


def test_ctrl_c_after_the_result_is_written_says_the_run_is_complete(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr("fastpg.cli.app._summary", _interrupt)
    err = interrupted_one_line(["train", "--out", tmp_path / "run", *QUICK], capsys)
    assert "had finished" in err and "--resume" not in err and (tmp_path / "run" / "result.json").exists()


def test_ctrl_c_during_training_advises_resume_which_then_works(tmp_path, monkeypatch, capsys):
    from fastpg.training import loop

    calls = []

    def evaluate_then_interrupt(*args, **kwargs):
        calls.append(1)
        if len(calls) == 3:  # the kernel warm-up, update 1, then update 2
            raise KeyboardInterrupt
        return real(*args, **kwargs)

    real = loop.evaluate
    monkeypatch.setattr(loop, "evaluate", evaluate_then_interrupt)
    err = interrupted_one_line(["train", "--out", tmp_path / "run", "--checkpoint-every", "1", *QUICK], capsys)
    assert f"--resume {tmp_path / 'run'}" in err
    monkeypatch.setattr(loop, "evaluate", real)
    assert main(["train", "--resume", str(tmp_path / "run"), "--quiet"]) == 0


def test_eval_on_fastpg_answers_sigint_promptly(tmp_path):
    process = subprocess.Popen([sys.executable, "-m", "fastpg", "eval", "--theta=-0.1,-0.5,-10,-2", "--simulator",
                                "fastpg", "--episodes", "1000000", "--greedy"], stderr=subprocess.PIPE, text=True)
    time.sleep(3.0)  # imports and kernel loading, then 10^6 balanced episodes: 5e8 steps, tens of seconds
    process.send_signal(signal.SIGINT)
    _, err = process.communicate(timeout=15)  # one chunk of episodes takes well under a second
    assert process.returncode == 130 and err.count("\n") == 1 and "interrupted" in err, err


def test_resume_and_force_remove_stale_temporary_files_only(tmp_path):
    config = TrainConfig(seed=2, max_episodes=8, stop_at_solve=False, final_episodes=0, checkpoint_every=1)
    run = tmp_path / "run"
    train(config, run)
    (run / "result.json").unlink()
    stale = [".checkpoint.json.k2j3h4.tmp", ".metrics.jsonl.tmp", ".result.json.abc.tmp", ".config.toml.new-99",
             "..config.toml.new-99.x1.tmp"]
    kept = ["notes.txt", ".checkpoint.json.bak", "checkpoint.json.tmp"]
    for name in stale + kept:
        (run / name).write_text("x")
    train(config, run, resume=True)
    assert sorted(p.name for p in run.iterdir()) == sorted(
        kept + ["checkpoint.json", "config.toml", "metrics.jsonl", "policy.json", "result.json"])
    for name in stale:
        (run / name).write_text("x")
    train(config, run, force=True)
    assert not any((run / name).exists() for name in stale) and all((run / name).exists() for name in kept)


def test_force_and_resume_refuse_a_run_another_live_process_trains(tmp_path):
    run = tmp_path / "run"
    process = subprocess.Popen([sys.executable, "-m", "fastpg", "train", "--out", str(run), "--max-episodes", "0",
                                "--max-seconds", "60", "--no-stop-at-solve", "--final-episodes", "0", "--quiet"],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 60
        while not (run / "metrics.jsonl").exists() and time.monotonic() < deadline:
            time.sleep(0.1)
        for kwargs in ({"force": True}, {"resume": True}):
            with pytest.raises(RunFolderError, match="another fastpg process"):
                train(None if kwargs.get("resume") else TrainConfig(max_episodes=4), run, **kwargs)
        assert process.poll() is None
    finally:
        process.kill()
        process.wait()
    (run / "result.json").unlink(missing_ok=True)
    train(TrainConfig(max_episodes=4, final_episodes=0), run, force=True)  # the lock died with the process
    assert Path(run / "result.json").exists()
