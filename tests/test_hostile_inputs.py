"""Regression tests for what a hostile caller or file could do: every case is refused with a clear error."""

from __future__ import annotations

import dataclasses
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from fastpg import DEFAULT_PARAMS
from fastpg.cli import main
from fastpg.files import atomic_write_text, check_writable_target
from fastpg.pg import engine
from fastpg.pg.evaluation import evaluate
from fastpg.pg.offpolicy import ImportanceWeights, importance_weights, reweighted_gradient

THETA = np.array([0.05, 0.4, 3.0, 0.9])


@pytest.mark.parametrize("lengths", [np.array([10**6, 10**6]), np.array([501, 501]), np.array([3, -1]),
                                     np.array([3]), np.array([3, 3], dtype=np.int32), np.array([[3, 3]])])
def test_a_tampered_batch_never_reaches_a_kernel(lengths):
    batch = engine.rollout(THETA, 2, 0)
    with pytest.raises(ValueError, match="Batch"):
        dataclasses.replace(batch, lengths=lengths)
    object.__setattr__(batch, "lengths", lengths)  # past the constructor: every entry point checks again
    with pytest.raises(ValueError, match="Batch"):
        engine.gradient(batch)
    with pytest.raises(ValueError, match="Batch"):
        importance_weights(batch, THETA)
    weights = ImportanceWeights(np.ones((2, 500)), np.ones(2), 2.0)
    with pytest.raises(ValueError, match="Batch"):
        reweighted_gradient(batch, np.zeros((2, 500, 4)), THETA, weights)


def test_a_batch_with_other_shapes_or_dtypes_is_refused():
    batch = engine.rollout(THETA, 2, 0)
    for field, value in (("features", batch.features[:, :, :3].copy()), ("left", batch.left.astype(np.int8)),
                         ("logits", batch.logits[:, ::2]), ("rewards", np.zeros(batch.rewards.shape, np.float32)),
                         ("theta", np.zeros(5))):
        with pytest.raises(ValueError):
            dataclasses.replace(batch, **{field: value})


def test_params_validation_does_not_depend_on_the_cache():
    engine.estimate_gradient(THETA, 1, 0)  # caches DEFAULT_PARAMS' array
    with pytest.raises(TypeError, match="CartPoleParams"):
        engine.estimate_gradient(THETA, 1, 0, params=tuple(DEFAULT_PARAMS))
    with pytest.raises(TypeError, match="CartPoleParams"):
        evaluate(THETA, 2, 0, params=tuple(DEFAULT_PARAMS), stop_below=100.0)
    with pytest.raises(ValueError, match="stop_below"):
        evaluate(THETA, 2, 0, stop_below=float("nan"))


def test_atomic_writes_refuse_what_is_not_a_regular_file(tmp_path):
    fifo, link, target = tmp_path / "fifo", tmp_path / "link", tmp_path / "target"
    os.mkfifo(fifo)
    target.write_text("keep")
    link.symlink_to(target)
    for path, kind in ((fifo, "FIFO"), (link, "symbolic link"), (tmp_path, "folder")):
        with pytest.raises(ValueError, match=kind):
            atomic_write_text(path, "x")
    assert fifo.is_fifo() and link.is_symlink() and target.read_text() == "keep"
    for device in ("/dev/null", "/dev/full"):  # checked only: never written, whatever happens
        with pytest.raises(ValueError, match="device"):
            check_writable_target(device)


def test_cli_refuses_devices_and_links_as_outputs(tmp_path, capsys):
    policy = tmp_path / "p.json"
    assert main(["export", str(tmp_path / "missing"), "--out", str(policy)]) == 2  # sanity: bad source
    from fastpg import save_policy

    save_policy(THETA, policy)
    os.mkfifo(tmp_path / "fifo.json")
    assert main(["export", str(policy), "--out", str(tmp_path / "fifo.json")]) == 2
    assert "FIFO" in capsys.readouterr().err and (tmp_path / "fifo.json").is_fifo()


@pytest.mark.parametrize("argv", [["train", "--lr", "1_0"], ["train", "--out", ""], ["bench", "--min-time", "nan"],
                                  ["bench", "--min-time", "inf"], ["eval", "--episodes", "1_0", "--theta=0,0,0,0"]])
def test_loose_numbers_and_empty_paths_are_refused(argv, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    assert exit_info.value.code == 2 and "invalid" in capsys.readouterr().err


def test_an_internal_error_is_one_line_with_its_own_exit_code(monkeypatch, capsys):
    from fastpg.cli import app

    def broken(args):
        raise KeyError("bug")

    monkeypatch.setattr(app, "_demo", broken)
    assert main(["demo"]) == 4
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "internal error" in err and "FASTPG_DEBUG" in err
    monkeypatch.setenv("FASTPG_DEBUG", "1")
    with pytest.raises(KeyError):
        main(["demo"])


def test_a_missing_optional_package_has_its_own_exit_code(tmp_path, monkeypatch, capsys):
    from fastpg.training.loop import train
    from fastpg.training.config import TrainConfig

    train(TrainConfig(seed=1, final_episodes=0, max_episodes=8, stop_at_solve=False), tmp_path / "run")
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # import matplotlib now fails
    assert main(["plot", str(tmp_path / "run")]) == 3
    assert "pip install 'fastpg[plot]'" in capsys.readouterr().err


def test_kernels_compile_without_a_writable_cache_folder():
    code = textwrap.dedent("""
        import warnings
        import numba.core.caching as caching
        caching.CacheImpl._locator_classes = []  # as with no writable package folder and HOME=/nonexistent
        import gymnasium as gym
        import fastpg
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            env = gym.make("fastpg/CartPole-v1")
            env.reset(seed=0)
            print(env.step(0)[1], any("no writable cache folder" in str(w.message) for w in caught))
    """)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["1.0", "True"]


@pytest.mark.parametrize("edit", ["lr = 2.0", "seed = 9", "batch_size = 8", "gamma = 0.99", "reuse_batches = 1",
                                  "other run's checkpoint"])
def test_resume_refuses_a_checkpoint_that_does_not_belong_to_the_config(tmp_path, edit, capsys):
    options = ["--seed", "3", "--no-stop-at-solve", "--max-episodes", "40", "--checkpoint-every", "2",
               "--final-episodes", "0", "--quiet"]
    run, other = tmp_path / "run", tmp_path / "other"
    for folder, extra in ((run, []), (other, ["--lr", "0.5"])):
        assert main(["train", "--out", str(folder), *options, *extra]) == 0
        (folder / "result.json").unlink()  # as if killed after its last checkpoint
        (folder / "policy.json").unlink()
    if edit == "other run's checkpoint":
        (run / "checkpoint.json").write_bytes((other / "checkpoint.json").read_bytes())
    else:
        key = edit.split(" = ")[0]
        lines = [edit if line.startswith(key + " ") else line for line in (run / "config.toml").read_text().splitlines()]
        (run / "config.toml").write_text("\n".join(lines) + "\n")
    capsys.readouterr()
    assert main(["train", "--resume", str(run), "--quiet"]) == 2
    assert "resume refused" in capsys.readouterr().err and not (run / "result.json").exists()
