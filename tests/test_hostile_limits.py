"""Regression tests: sizes, numbers and files that used to hang, exhaust memory or print a traceback.

Each is refused up front with one line naming the option or file and the limit (exit 2 at the CLI).
"""

from __future__ import annotations

import io
import json
import os
import socket
import subprocess
import sys
import textwrap
import threading
import zipfile

import numpy as np
import pytest

from fastpg import limits, load_policy, save_policy
from fastpg.cli import main
from fastpg.pg import engine
from fastpg.training.config import TrainConfig

THETA = np.array([0.05, 0.4, 3.0, 0.9])
HUGE = int("1" + "0" * 400)


def one_line_exit_2(argv, capsys, *needles) -> str:
    capsys.readouterr()
    assert main([str(a) for a in argv]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err, err
    for needle in needles:
        assert needle in err, err
    return err


def test_a_config_file_must_be_a_small_regular_file(tmp_path, capsys):
    os.mkfifo(tmp_path / "fifo.toml")  # reading it would block until a writer comes
    for path in (tmp_path / "fifo.toml", "/dev/zero"):
        one_line_exit_2(["train", "--config", path, "--out", tmp_path / "run"], capsys, "not a regular file")
    (tmp_path / "big.toml").write_text("#" * (limits.MAX_CONFIG_BYTES + 1))
    one_line_exit_2(["train", "--config", tmp_path / "big.toml", "--out", tmp_path / "run"], capsys, "limit")
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize("toml", ["lr = 1" + "0" * 400, "theta_init = -" + "9" * 400])
def test_a_number_too_large_for_a_float_names_its_option(tmp_path, capsys, toml):
    (tmp_path / "c.toml").write_text(toml + "\n")
    one_line_exit_2(["train", "--config", tmp_path / "c.toml", "--out", tmp_path / "run"], capsys,
                    toml.split(" ")[0], "too large for a float64")
    sweep = tmp_path / "s.toml"
    sweep.write_text(f'seeds = "0"\n[grid]\n{toml.split(" = ")[0]} = [{toml.split(" = ")[1]}]\n')
    one_line_exit_2(["sweep", sweep], capsys, "too large for a float64")
    with pytest.raises(ValueError, match="theta_init is too large"):
        TrainConfig(theta_init=HUGE)


@pytest.mark.parametrize("sweep", ['seeds = "0-1000000000"', 'seeds = "0-9223372036854775807"',
                                   'seeds = "0-99999999999999999999999"',
                                   'seeds = "0"\n[grid]\n' + "\n".join(
                                       f"{key} = {list(range(1, 41))}" for key in
                                       ("batch_size", "max_episodes", "eval_episodes", "max_backtracks",
                                        "checkpoint_every"))])
def test_a_sweep_too_large_is_refused_before_it_is_expanded(tmp_path, capsys, sweep):
    (tmp_path / "s.toml").write_text(sweep + "\n")
    one_line_exit_2(["sweep", tmp_path / "s.toml"], capsys, str(limits.MAX_SWEEP_RUNS))
    assert not (tmp_path / "s.jsonl").exists()


def test_a_checkpoint_with_impossible_counters_is_refused(tmp_path, capsys):
    run = tmp_path / "run"
    assert main(["train", "--out", str(run), "--seed", "1", "--max-episodes", "8", "--no-stop-at-solve",
                 "--final-episodes", "0", "--checkpoint-every", "1", "--quiet"]) == 0
    (run / "result.json").unlink()
    checkpoint = json.loads((run / "checkpoint.json").read_text())
    for counters in ({"update": 10**9}, {"update": 10**9, "episodes": 4 * 10**9, "steps": 4 * 10**9},
                     {"update": 1e9}, {"steps": 10**12}):
        (run / "checkpoint.json").write_text(json.dumps({**checkpoint, **counters}))
        one_line_exit_2(["train", "--resume", run, "--quiet"], capsys, "checkpoint")


def test_batch_memory_is_bounded_for_streaming_estimates_too():
    assert engine.estimate_gradient(THETA, 3, 0).grad.shape == (4,)
    with pytest.raises(ValueError, match="episodes"):
        engine.estimate_gradient(THETA, 10**8, 0)
    m = limits.MAX_BATCH_BYTES // (8 * (4 * 4 + 4 * 4 + 8)) + 1
    if m <= limits.MAX_EPISODES:
        with pytest.raises(ValueError, match="limit"):
            engine.check_streamed_batch(m, 4)


@pytest.mark.parametrize("argv", [["bench", "--num-envs", "10000000000"], ["bench", "--min-time", "1e9"],
                                  ["demo", "--num-envs", "10000000000"], ["demo", "--steps", "100000000"]])
def test_bench_and_demo_sizes_are_bounded(argv, capsys):
    one_line_exit_2(argv, capsys, "limit")


def _npy(shape_text: str, payload: bytes, descr: str = "<f8") -> bytes:
    header = f"{{'descr': '{descr}', 'fortran_order': False, 'shape': {shape_text}, }}"
    header = header.ljust(118) + "\n"
    return b"\x93NUMPY\x01\x00" + len(header).to_bytes(2, "little") + header.encode("latin1") + payload


def _npz_with(tmp_path, member: str, data: bytes):
    good = tmp_path / "good.npz"
    save_policy(THETA, good)
    with zipfile.ZipFile(good) as src:
        members = {name: src.read(name) for name in src.namelist()}
    members[member] = data
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, content in members.items():
            archive.writestr(name, content)
    return buffer.getvalue()


def test_npy_headers_are_checked_against_the_file_before_allocating(tmp_path, capsys):
    bad = {"huge.npy": _npy("(100000000000000,)", b"\0" * 800), "short.npy": _npy("(5,)", b"\0" * 32),
           "nul.npy": _npy("(4,)", b"\0" * 32, descr="<f\x008"), "dims.npy": _npy("(" + "9," * 40 + ")", b"")}
    bad["member.npz"] = _npz_with(tmp_path, "theta.npy", _npy("(100000000000000,)", b"\0" * 32))
    for name, data in bad.items():
        (tmp_path / name).write_bytes(data)
        with pytest.raises(ValueError, match=name):
            load_policy(tmp_path / name)
        one_line_exit_2(["eval", tmp_path / name], capsys, name)


def _rewrite_npz(tmp_path, edit) -> bytes:
    good = tmp_path / "good.npz"
    save_policy(THETA, good)
    data = bytearray(good.read_bytes())
    for signature, offset in ((b"PK\x03\x04", 0), (b"PK\x01\x02", 2)):
        at = data.find(signature)
        while at >= 0:
            edit(data, at + offset)
            at = data.find(signature, at + 4)
    return bytes(data)


def test_damaged_encrypted_or_unknown_npz_members_are_refused(tmp_path, capsys):
    buffer = io.BytesIO()
    save_policy(THETA, tmp_path / "good.npz")
    with zipfile.ZipFile(tmp_path / "good.npz") as src, zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as dst:
        for name in src.namelist():
            dst.writestr(name, src.read(name) * 3)
    deflated = bytearray(buffer.getvalue())
    start = 30 + len("theta.npy")
    deflated[start:start + 24] = b"\xff" * 24  # the deflate stream of the first member

    def encrypt(data, at):
        data[at + 6] |= 1

    def method_99(data, at):
        data[at + 8:at + 10] = (99).to_bytes(2, "little")

    for name, data in (("deflate.npz", bytes(deflated)), ("encrypted.npz", _rewrite_npz(tmp_path, encrypt)),
                       ("method.npz", _rewrite_npz(tmp_path, method_99))):
        (tmp_path / name).write_bytes(data)
        one_line_exit_2(["eval", tmp_path / name], capsys, name)


def test_policy_numbers_and_documents_out_of_range(tmp_path, capsys):
    from fastpg.export.document import policy_json
    from fastpg.export.document import Policy

    document = policy_json(Policy(THETA))
    cases = {"theta.json": {**document, "theta": [HUGE, 0, 0, 0]}, "bias.json": {**document, "bias": -HUGE},
             "envid.json": {**document, "env": {**document["env"], "id": {}}}}
    for name, value in cases.items():
        (tmp_path / name).write_text(json.dumps(value))
        with pytest.raises(ValueError, match=name):
            load_policy(tmp_path / name)
        one_line_exit_2(["eval", tmp_path / name], capsys, name)
    (tmp_path / "deep.json").write_text("[" * 100_000 + "]" * 100_000)
    one_line_exit_2(["eval", tmp_path / "deep.json"], capsys, "deep.json")


def test_a_dask_address_that_is_not_a_scheduler_is_a_clear_error(tmp_path, capsys):
    pytest.importorskip("distributed")
    server = socket.create_server(("127.0.0.1", 0))
    port = server.getsockname()[1]

    def babble():
        while True:
            try:
                conn, _ = server.accept()
            except OSError:
                return
            with conn:
                try:
                    conn.sendall(b"\xff" * 64 + b"HTTP/1.0 200 OK\r\n\r\n" * 100)
                except OSError:
                    pass

    threading.Thread(target=babble, daemon=True).start()
    (tmp_path / "s.toml").write_text('seeds = "0"\nbackend = "dask"\n')
    try:
        one_line_exit_2(["sweep", tmp_path / "s.toml", "--address", f"tcp://127.0.0.1:{port}"], capsys,
                        "Dask scheduler")
    finally:
        server.close()


def test_parallel_kernels_from_python_threads_are_safe_on_the_workqueue_layer():
    code = textwrap.dedent("""
        import threading
        import numba
        import numpy as np
        from fastpg.cartpole.fast import FastCartPoleBatch
        from fastpg.pg import engine
        from fastpg.pg.evaluation import evaluate

        theta = np.array([0.05, 0.4, 3.0, 0.9])

        def work(i):
            batch = FastCartPoleBatch(16, i, threads=2)
            batch.reset()
            batch.rollout(np.zeros((20, 16), np.uint8))
            return np.concatenate([engine.estimate_gradient(theta, 8, i, threads=2).grad,
                                   engine.estimate_gradient(theta, 4, i, baseline="per_timestep", normalize=True,
                                                            threads=2).grad,
                                   evaluate(theta, 16, i, threads=2).returns, batch.observations.ravel()])

        serial = [work(i) for i in range(6)]
        out = []

        def run():
            for _ in range(3):
                out.extend((i, work(i)) for i in range(6))

        threads = [threading.Thread(target=run) for _ in range(4)]
        [t.start() for t in threads]
        [t.join() for t in threads]
        same = all(v.tobytes() == serial[i].tobytes() for i, v in out)
        print(numba.threading_layer(), len(out), same)
    """)
    env = {**os.environ, "NUMBA_THREADING_LAYER": "workqueue", "NUMBA_NUM_THREADS": "2"}
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.split() == ["workqueue", "72", "True"]


@pytest.mark.parametrize("option", ["--workers", "--chunk-size", "--retries"])
def test_sweep_sizes_too_large_for_an_int_are_refused(tmp_path, capsys, option):
    """Found by the fuzz profile: --workers 10**40 was an OverflowError (exit 4)."""
    (tmp_path / "s.toml").write_text('seeds = "0-1"\n[base]\nmax_episodes = 4\n')
    one_line_exit_2(["sweep", tmp_path / "s.toml", option, str(10**40)], capsys, option.strip("-").replace("-", "_"))


def test_complex_arrays_are_refused_not_truncated():
    """Found by the fuzz profile: complex observations and weights were cast with a ComplexWarning."""
    from fastpg import Policy
    from fastpg.pg.offpolicy import ImportanceWeights, offpolicy_gradient, reweighted_gradient

    with pytest.raises(TypeError, match="real numbers"):
        Policy(THETA).p_left(np.zeros(4, dtype=complex))
    batch = engine.rollout(THETA, 2, 0)
    weights = ImportanceWeights(np.ones(batch.left.shape, dtype=complex), np.ones(2), 2.0)
    with pytest.raises(TypeError, match="real numbers"):
        reweighted_gradient(batch, np.zeros(batch.features.shape), THETA, weights)
    with pytest.raises(TypeError, match="real numbers"):
        offpolicy_gradient(batch, THETA, weights)


def test_importance_weights_at_an_absurd_theta_do_not_warn():
    """Found by the fuzz profile: a finite but huge theta_new overflowed with a RuntimeWarning."""
    from fastpg.pg.offpolicy import importance_weights

    weights = importance_weights(engine.rollout(THETA, 2, 0), np.full(4, 7e307))
    assert weights.per_step.shape[0] == 2
