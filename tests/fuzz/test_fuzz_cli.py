"""Every ``fastpg`` command, run in-process with hostile arguments: a documented exit code, one line on error.

Allowed: 0 (ok), 1 (training failed), 2 (bad input; argparse's own errors exit 2 too), 3 (a missing
optional package). Never 4 (an internal error) and never an exception.
"""

from __future__ import annotations

import contextlib
import io

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from fastpg import save_policy
from fastpg.cli import main

from .harness import fuzz

WORDS = st.one_of(st.sampled_from(["0", "1", "-1", "1_0", "nan", "inf", "1e400", "1" + "0" * 40, "", " ", "0.5",
                                   "2", "abc", "--", "-", "x.json", "tcp://127.0.0.1:1"]),
                  st.text(st.characters(blacklist_categories=["Cs"]), max_size=6))
ALLOWED = {0, 1, 2, 3}


def run(argv: list[str]) -> tuple[int, str]:
    """``main(argv)``'s exit code (argparse's ``SystemExit`` included) and its stderr."""
    err = io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
        try:
            code = main(argv)
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else 2
    return code, err.getvalue()


def options(names):
    return st.lists(st.tuples(st.sampled_from(names), WORDS), max_size=4).map(
        lambda pairs: [token for pair in pairs for token in pair])


def check(argv):
    code, err = run(argv)
    assert code in ALLOWED, (argv, code, err)
    if code == 2 and err:
        assert "Traceback" not in err and "internal error" not in err, err


TRAIN = ["--seed", "--lr", "--gamma", "--psi", "--baseline", "--optimizer", "--theta-init", "--bias", "--no-bias",
         "--kl-delta", "--reuse-batches", "--lr-schedule", "--metrics-format", "--threads", "--env", "--resume",
         "--force", "--config", "--checkpoint-every", "--max-steps"]
SAFE = ["--max-episodes", "8", "--batch-size", "2", "--eval-episodes", "2", "--final-episodes", "0", "--quiet"]


@given(options(TRAIN))
@fuzz(300)
def test_train(tmp_path_factory, argv):
    out = tmp_path_factory.mktemp("t") / "run"
    check(["train", "--out", str(out), *argv, *SAFE])


@given(st.sampled_from(["eval", "export", "plot"]), options(["--theta", "--episodes", "--seed", "--greedy",
                                                             "--simulator", "--json", "--out", "--format", "--dtype",
                                                             "--prefix", "--test-vectors"]),
       st.sampled_from(["good.json", "good.npy", "missing", "", "good.csv"]))
@fuzz(500)
def test_eval_export_plot(tmp_path_factory, command, argv, source):
    folder = tmp_path_factory.mktemp("e")
    for name in ("good.json", "good.npy", "good.csv"):
        save_policy(np.array([0.1, -0.2, 1.5, 0.7]), folder / name)
    argv = [folder / token if token == "x.json" else token for token in argv]
    source_args = [str(folder / source)] if source else []
    if command == "eval" and "--episodes" not in argv:
        argv += ["--episodes", "3"]
    if command == "export":
        argv = [*argv, "--out", str(folder / "out.h"), "--episodes", "2"]
    check([command, *source_args, *map(str, argv)])


@given(options(["--backend", "--workers", "--seeds", "--chunk-size", "--retries", "--set", "--address", "--out"]),
       st.sampled_from(['seeds = "0-1"\n[base]\nmax_episodes = 4\n', 'seeds = "0-1000000000"\n', "[grid]\nlr = 1\n",
                        'backend = "ray"\n', "x"]))
@fuzz(300)
def test_sweep(tmp_path_factory, argv, text):
    folder = tmp_path_factory.mktemp("s")
    (folder / "s.toml").write_text(text)
    argv = [t if t != "tcp://127.0.0.1:1" else "127.0.0.1:1" for t in argv]
    if "--backend" in argv or "--address" in argv:  # only the options are fuzzed, not a cluster start
        argv += ["--seeds", "not-a-seed"]
    check(["sweep", str(folder / "s.toml"), "--workers", "1", *argv, "--quiet"])


@given(st.sampled_from(["bench", "demo"]), options(["--suite", "--num-envs", "--rounds", "--min-time", "--steps"]),
       st.integers(0, 9))
@fuzz(300)
def test_bench_and_demo(command, argv, draw):
    if command == "bench":  # options only: a real benchmark takes seconds
        argv += ["--suite", "nothing"]
    else:  # one demo in ten runs (tiny), the others stop at their options
        argv += ["--num-envs", "2", "--steps", "2"] if draw == 0 else ["--steps", "0"]
    check([command, *argv])


@given(st.lists(WORDS, max_size=5))
@fuzz(200)
def test_any_words(words):
    """Top-level words (a command's real work is fuzzed above, with bounded budgets)."""
    if words and words[0] in ("train", "sweep", "bench", "demo", "eval", "export", "plot"):
        words = ["--" + words[0], *words[1:]]
    check(words)
