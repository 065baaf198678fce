"""Every file loader, fed hostile bytes: a result or ``ValueError``/``TypeError``, never a crash or a hang."""

from __future__ import annotations

import functools
import io
import json
import tempfile
import zipfile
from pathlib import Path

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from fastpg import load_policy, save_policy
from fastpg.sweeps.results import read_results
from fastpg.sweeps.spec import load_sweep
from fastpg.training.config import load_config
from fastpg.training.metrics import kept_rows
from fastpg.training.runs import resume_run, release_run

from .harness import documented, fuzz

THETA = np.array([0.1, -0.2, 1.5, 0.7])
JSON_VALUES = st.recursive(st.one_of(st.none(), st.booleans(), st.integers(), st.floats(), st.text(max_size=8)),
                           lambda inner: st.one_of(st.lists(inner, max_size=4),
                                                   st.dictionaries(st.text(max_size=8), inner, max_size=4)),
                           max_leaves=12)


@functools.lru_cache(maxsize=1)
def _good_bytes() -> dict[str, bytes]:
    with tempfile.TemporaryDirectory() as folder:
        for fmt in ("json", "npy", "npz", "csv"):
            save_policy(THETA, Path(folder) / f"good.{fmt}")
        return {fmt: (Path(folder) / f"good.{fmt}").read_bytes() for fmt in ("json", "npy", "npz", "csv")}


def _good_files(folder):
    for fmt, data in _good_bytes().items():
        (folder / f"good.{fmt}").write_bytes(data)
    return _good_bytes()


def _mutate(data: bytes, edits) -> bytes:
    data = bytearray(data)
    for position, value in edits:
        if data:
            data[position % len(data)] = value
    return bytes(data)


MUTATIONS = st.lists(st.tuples(st.integers(0, 10**6), st.integers(0, 255)), max_size=6)


@given(st.sampled_from(["json", "npy", "npz", "csv"]), MUTATIONS, st.integers(0, 400), st.binary(max_size=64))
@fuzz(1500)
def test_policy_files(tmp_path_factory, fmt, edits, cut, tail):
    folder = tmp_path_factory.mktemp("p")
    data = _mutate(_good_bytes()[fmt], edits)
    data = data[:len(data) - cut % (len(data) + 1)] + tail if cut % 3 == 0 else data
    (folder / "x").write_bytes(data)
    documented(lambda: load_policy(folder / "x"))


@given(JSON_VALUES, st.sampled_from(["theta", "bias", "env", "dtype", "version", "features", "training"]))
@fuzz(800)
def test_policy_documents(tmp_path_factory, value, key):
    folder = tmp_path_factory.mktemp("d")
    document = json.loads(_good_bytes()["json"])
    document[key] = value
    (folder / "x.json").write_text(json.dumps(document))
    documented(lambda: load_policy(folder / "x.json"))


@given(st.sampled_from(["theta.npy", "bias.npy", "metadata.npy"]), st.binary(max_size=200), st.booleans())
@fuzz(500)
def test_npz_members(tmp_path_factory, member, content, deflate):
    folder = tmp_path_factory.mktemp("z")
    _good_files(folder)
    with zipfile.ZipFile(folder / "good.npz") as src:
        members = {name: src.read(name) for name in src.namelist()}
    members[member] = content if len(content) % 2 else members[member][:16] + content
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED if deflate else zipfile.ZIP_STORED) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    (folder / "x.npz").write_bytes(buffer.getvalue())
    documented(lambda: load_policy(folder / "x.npz"))


TOML_LINES = st.lists(st.one_of(
    st.tuples(st.sampled_from(["lr", "seed", "batch_size", "gamma", "env", "theta_init", "max_episodes", "optimizer",
                               "seeds", "workers", "backend", "out", "chunk_size", "retries", "x"]),
              st.one_of(st.integers(-10**30, 10**30), st.floats(allow_nan=True), st.text(max_size=6),
                        st.sampled_from(["1" + "0" * 400, "inf", "nan", '"0-9999999999999"', "[1, 2]", "{a = 1}",
                                         '"adam"', "true", '"0-3"']))).map(lambda kv: f"{kv[0]} = {kv[1]}"),
    st.sampled_from(["[base]", "[grid]", "lr = [0.5, 1.0]", "max_episodes = 8", "[[x]]", "\x00", "a = ["])), max_size=8)


@given(TOML_LINES)
@fuzz(1200)
def test_config_and_sweep_files(tmp_path_factory, lines):
    folder = tmp_path_factory.mktemp("t")
    (folder / "c.toml").write_text("\n".join(map(str, lines)) + "\n")
    documented(lambda: load_config(folder / "c.toml"))
    spec = documented(lambda: load_sweep(folder / "c.toml"))
    if not isinstance(spec, BaseException):
        documented(lambda: spec.plan())


@given(JSON_VALUES, st.sampled_from(["update", "episodes", "steps", "theta", "optimizer", "recent", "solved_at",
                                     "seconds", "config_sha256", "format"]), st.booleans())
@fuzz(200)
def test_checkpoints(tmp_path_factory, value, key, replace_whole):
    from fastpg.training.config import TrainConfig
    from fastpg.training.loop import train

    run = tmp_path_factory.mktemp("r") / "run"
    train(TrainConfig(seed=1, max_episodes=8, stop_at_solve=False, final_episodes=0, checkpoint_every=1,
                      eval_episodes=2), run)
    (run / "result.json").unlink()
    checkpoint = json.loads((run / "checkpoint.json").read_text())
    checkpoint = value if replace_whole else {**checkpoint, key: value}
    (run / "checkpoint.json").write_text(json.dumps(checkpoint))
    documented(lambda: train(None, run, resume=True))


@given(st.lists(st.one_of(JSON_VALUES.map(json.dumps), st.text(max_size=20)), max_size=6), st.integers(0, 10),
       st.sampled_from(["jsonl", "csv"]))
@fuzz(800)
def test_metrics_and_results_files(tmp_path_factory, lines, updates, fmt):
    folder = tmp_path_factory.mktemp("m")
    (folder / f"metrics.{fmt}").write_text("\n".join(lines) + "\n")
    documented(lambda: kept_rows(folder / f"metrics.{fmt}", updates))
    (folder / f"results.{fmt}").write_text("\n".join(lines) + "\n")
    documented(lambda: read_results(folder / f"results.{fmt}"))


@given(st.sampled_from(["config.toml", "checkpoint.json", "result.json"]), st.binary(max_size=100))
@fuzz(300)
def test_run_folders(tmp_path_factory, name, content):
    run = tmp_path_factory.mktemp("f")
    (run / "config.toml").write_text("seed = 1\n")
    (run / name).write_bytes(content)
    outcome = documented(lambda: resume_run(run))
    if isinstance(outcome, tuple):
        release_run(outcome[2])
    documented(lambda: load_policy(run))
