"""Export: lossless round trips, the JSON Schema, strict loading, C headers against NumPy, a NumPy-only solver."""

from __future__ import annotations

import argparse
import json
import math
import os
import pickle
import re
import shutil
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from fastpg.training.config import TrainConfig
from fastpg.pg.engine import rollout
from fastpg.pg.evaluation import evaluate_in_gymnasium
from fastpg.cli.export import add_export_parser, run_export
from fastpg import load_policy
from fastpg.export import FORMATS, Policy, greedy_agreement, policy_json, policy_schema, save_policy
from fastpg.training.runs import export_run, policy_metadata
from fastpg.export.c_header import trajectory_observations
from fastpg.limits import MAX_POLICY_BYTES
from fastpg.training.loop import train

# Awkward but finite values: signed zero, the smallest subnormal, 1 + ulp, a large and a long decimal.
ODD = [-0.0, 5e-324, 1.0000000000000002, -12345.678901234567, 0.1]
CC = shutil.which("gcc") or shutil.which("cc")
CFLAGS = ["-std=c99", "-Wall", "-Wextra", "-Werror", "-pedantic"]


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """A finished run folder (trained in ~0.1 s) and its TrainResult."""
    run_dir = tmp_path_factory.mktemp("export") / "run"
    return run_dir, train(TrainConfig(seed=1, final_episodes=3), run_dir)


def same_bits(a, b) -> bool:
    a, b = np.asarray(a), np.asarray(b)
    return a.dtype == b.dtype and a.shape == b.shape and a.tobytes() == b.tobytes()


@pytest.mark.parametrize("fmt", ["json", "npy", "npz", "csv"])
@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("theta", [ODD[:4], ODD], ids=["no_bias", "bias"])
def test_round_trip_is_exact(tmp_path, fmt, dtype, theta):
    path = save_policy(theta, tmp_path / f"p.{fmt}", dtype=dtype)
    loaded = load_policy(path)
    assert same_bits(loaded.theta, np.array(theta).astype(dtype).astype(np.float64))
    assert loaded.bias == (None if len(theta) == 4 else np.float32(0.1).item() if dtype == "float32" else 0.1)
    if fmt == "npy":
        assert same_bits(np.load(path, allow_pickle=False), np.array(theta, dtype=dtype))


@pytest.mark.parametrize("fmt", ["json", "npz"])
def test_metadata_travels_with_json_and_npz(run, tmp_path, fmt):
    run_dir, result = run
    assert policy_metadata(result) == policy_metadata(run_dir)
    policy = load_policy(run_dir)
    assert same_bits(policy.theta, result.theta) and policy.bias is None
    again = load_policy(export_run(run_dir, None, tmp_path / f"p.{fmt}"))
    assert same_bits(again.theta, result.theta) and {k: again.metadata[k] for k in policy.metadata} == policy.metadata
    training = again.metadata["training"]
    assert training["seed"] == 1 and training["config"] == TrainConfig(seed=1, final_episodes=3).to_dict()
    assert again.metadata["evaluation"]["greedy"]["episodes"] == 3 and again.metadata["env"]["id"] == "CartPole-v1"
    assert training["solved_at"] == result.solved_at and training["stop_reason"] == result.stop_reason
    if fmt == "npz":
        with np.load(tmp_path / "p.npz", allow_pickle=False) as z:
            assert same_bits(z["theta"], result.theta) and z["bias"].shape == (0,)
            assert json.loads(str(z["metadata"]))["format"] == "fastpg-policy"


def test_json_documents_follow_the_shipped_schema(run):
    jsonschema = pytest.importorskip("jsonschema", reason="jsonschema is in the test extra: pip install -e .[test]")
    schema = policy_schema()
    jsonschema.Draft202012Validator.check_schema(schema)
    validator = jsonschema.Draft202012Validator(schema)
    documents = [policy_json(load_policy(run[0])), policy_json(Policy(ODD), dtype="float32"),
                 policy_json(Policy(ODD[:4]), policy_metadata())]
    for document in documents:
        validator.validate(json.loads(json.dumps(document)))
    assert documents[1]["bias"] == np.float32(0.1).item() and documents[2]["training"] is None
    for bad in ({"version": 2}, {"theta": [1.0, 2.0, 3.0]}, {"features": documents[0]["features"][::-1]},
                {"format": "fastpg"}, {"bias": "0.1"}):
        assert not validator.is_valid(documents[0] | bad)


def test_policy_computes_exactly_what_the_kernels_compute():
    batch = rollout(ODD[:3] + [1.5, -0.25], 5, 7)
    visited = np.arange(batch.features.shape[1]) < batch.lengths[:, None]
    policy = Policy(batch.theta)
    assert same_bits(policy.logit(batch.features[visited][:, :4]), batch.logits[visited])
    z = batch.logits[visited]
    assert same_bits(policy.greedy_action(batch.features[visited][:, :4]), np.where(z >= 0, 0, 1))


def write(path, content):
    (path.write_bytes if isinstance(content, bytes) else path.write_text)(content)
    return path


def json_with(**changes) -> str:
    return json.dumps(policy_json(Policy(ODD[:4])) | changes)


class Evil:
    """Unpickling this would create a file: loading must never get that far."""

    marker = None

    def __reduce__(self):
        return (open, (Evil.marker, "w"))


@pytest.mark.parametrize(("name", "content", "error"), [
    ("other.json", '{"hello": 1}', "not a valid fastpg policy: format is None"),
    ("list.json", "[1, 2, 3, 4]", "expected a JSON object"),
    ("text.txt", "hello", "not a fastpg policy file"),
    ("image.png", b"\x89PNG\r\n\x1a\n" + bytes(64), "not a fastpg policy file"),
    ("short.json", json_with(theta=[1.0, 2.0, 3.0]), "theta must be a list of 4 weights, got 3"),
    ("long.json", json_with(theta=[1.0] * 5), "got 5"),
    ("nan.json", json_with(bias=0.0).replace('"bias": 0.0', '"bias": NaN'), "non-finite number"),
    ("inf.json", json_with(theta=[0.0] * 4).replace("0.0", "1e999", 1), "finite numbers"),
    ("string.json", json_with(theta=["1", 2.0, 3.0, 4.0]), "finite numbers"),
    ("version.json", json_with(version=2), "unknown fastpg-policy format version 2"),
    ("order.json", json_with(features=["pole_angle", "cart_position", "cart_velocity", "pole_angular_velocity"]),
     "features must be"),
    ("f32.json", json_with(dtype="float32"), "not float32"),
    ("env.json", json_with(env={"id": "MountainCar-v0", "params": {}}), "env must be"),
    ("big.json", json_with() + " " * MAX_POLICY_BYTES, "larger than 1048576 bytes"),
    ("short.csv", "cart_position,cart_velocity,pole_angle\n1,2,3\n", "not a fastpg policy CSV"),
    ("nan.csv", "cart_position,cart_velocity,pole_angle,pole_angular_velocity\n1,2,nan,4\n", "must be finite"),
    ("words.csv", "cart_position,cart_velocity,pole_angle,pole_angular_velocity\n1,2,x,4\n", "could not convert"),
])
def test_loading_rejects_what_is_not_a_policy(tmp_path, name, content, error):
    with pytest.raises(ValueError, match=re.escape(error)):
        load_policy(write(tmp_path / name, content))


def test_loading_rejects_bad_arrays_and_never_unpickles(tmp_path):
    Evil.marker = str(tmp_path / "unpickled")
    np.save(tmp_path / "evil.npy", np.array([Evil()], dtype=object), allow_pickle=True)
    write(tmp_path / "evil.pkl", pickle.dumps(Evil()))
    np.save(tmp_path / "three.npy", np.ones(3))
    np.save(tmp_path / "ints.npy", np.ones(4, dtype=np.int64))
    np.save(tmp_path / "inf.npy", np.array([1.0, np.inf, 0.0, 0.0]))
    np.savez(tmp_path / "evil.npz", theta=np.ones(4), bias=np.ones(0), metadata=np.array([Evil()], dtype=object))
    np.savez(tmp_path / "extra.npz", theta=np.ones(4), bias=np.ones(0), metadata=np.array("{}"), more=np.ones(1))
    np.savez_compressed(tmp_path / "bomb.npz", theta=np.ones(4), bias=np.ones(0),
                        metadata=np.array(" " * MAX_POLICY_BYTES))
    good = json.loads(json_with())
    del good["theta"], good["bias"]
    np.savez(tmp_path / "five.npz", theta=np.ones(5), bias=np.ones(0), metadata=np.array(json.dumps(good)))
    np.savez(tmp_path / "f32.npz", theta=np.ones(4, np.float32), bias=np.ones(0, np.float32),
             metadata=np.array(json.dumps(good)))
    expected = {"evil.npy": "allow_pickle", "evil.pkl": "not a fastpg policy file", "three.npy": "shape (3,)",
                "ints.npy": "int64", "inf.npy": "finite", "evil.npz": "allow_pickle", "extra.npz": "an npz with",
                "bomb.npz": "unpacks to more than", "five.npz": "shape (4,)", "f32.npz": "metadata says 'float64'"}
    for name, error in expected.items():
        with pytest.raises(ValueError, match=re.escape(error)):
            load_policy(tmp_path / name)
    assert not os.path.exists(Evil.marker)
    with pytest.raises(ValueError, match="does not exist"):
        load_policy(tmp_path / "missing.json")


def test_save_policy_rejects_bad_options(tmp_path):
    with pytest.raises(ValueError, match="cannot tell the format"):
        save_policy(ODD, tmp_path / "p.bin")
    with pytest.raises(ValueError, match="prefix only apply to the C formats"):
        save_policy(ODD, tmp_path / "p.json", prefix="x")
    with pytest.raises(ValueError, match="prefix must be a C identifier"):
        save_policy([1.0, 2.0, 3.0, 4.0], tmp_path / "p.h", prefix="1x")
    with pytest.raises(ValueError, match="too large for the Q16.16"):
        save_policy([8192.0, 0.0, 0.0, 0.0], tmp_path / "p.h", "c-fixed")
    with pytest.raises(ValueError, match="does not fit in float32"):
        save_policy([1e39, 0.0, 0.0, 0.0], tmp_path / "p.json", dtype="float32")
    with pytest.raises(ValueError, match="theta must have shape"):
        save_policy([1.0, 2.0], tmp_path / "p.json")
    assert sorted(p.name for p in tmp_path.iterdir()) == []


def c_program(headers: dict[str, str]) -> str:
    """A C program printing, for each header (prefix -> kind), its weights and its result on every test vector."""
    lines = ["#include <stdio.h>"]
    lines += [f"#define {prefix.upper()}_TEST_VECTORS\n#include \"{prefix}.h\"" for prefix in headers]
    lines.append("int main(void)\n{\n    int i, k;")
    for p, kind in headers.items():
        n = f"{p.upper()}_NUM_TEST_VECTORS"
        if kind == "fixed":
            lines.append(f"""    for (k = 0; k < 4; k++) printf("w {p} %ld\\n", {p}_weights_q[k]);
    for (i = 0; i < {n}; i++) {{
        const long *s = {p}_test_obs_q[i];
        printf("v {p} %ld %ld %ld %ld %lld %d\\n", s[0], s[1], s[2], s[3], {p}_logit_q(s), {p}_greedy_action_q(s));
    }}""")
        else:
            lines.append(f"""    for (k = 0; k < 4; k++) printf("w {p} %a\\n", (double){p}_weights[k]);
    for (i = 0; i < {n}; i++) {{
        const {kind} *s = {p}_test_obs[i];
        printf("v {p} %a %a %a %a %a %a %a %d\\n", (double)s[0], (double)s[1], (double)s[2], (double)s[3],
               (double){p}_logit(s), (double){p}_p_left(s), (double)exp{"f" if kind == "float" else ""}(-{p}_logit(s)),
               {p}_greedy_action(s));
    }}""")
        lines.append(f'    printf("self_test {p} %d\\n", {p}_self_test());')
    lines.append("    return 0;\n}\n")
    return "\n".join(lines)


def ulps(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    ints = np.int32 if a.dtype == np.float32 else np.int64
    return np.abs(a.view(ints).astype(np.int64) - b.view(ints).astype(np.int64))


@pytest.mark.skipif(CC is None, reason="no C compiler (gcc or cc) on PATH")
def test_c_headers_compile_and_agree_with_numpy(run, tmp_path):
    policy = load_policy(run[0])
    biased = Policy(np.append(policy.theta, 0.03125))
    headers = {"pf": ("float", policy), "pd": ("double", policy), "pq": ("fixed", policy), "bf": ("float", biased),
               "bq": ("fixed", biased)}
    for prefix, (kind, p) in headers.items():
        save_policy(p, tmp_path / f"{prefix}.h", "c-fixed" if kind == "fixed" else "c",
                    dtype="float32" if kind == "float" else "float64", prefix=prefix, test_vectors=40)
    write(tmp_path / "main.c", c_program({prefix: kind for prefix, (kind, _) in headers.items()}))
    write(tmp_path / "plain.c", "".join(f'#include "{prefix}.h"\n' for prefix in headers) + "int plain;\n")
    subprocess.run([CC, *CFLAGS, "-c", "plain.c"], cwd=tmp_path, check=True, capture_output=True)
    subprocess.run([CC, *CFLAGS, "-O2", "main.c", "-o", "main", "-lm"], cwd=tmp_path, check=True,
                   capture_output=True)
    out = subprocess.run([str(tmp_path / "main")], check=True, capture_output=True, text=True).stdout.split("\n")
    for prefix, (kind, p) in headers.items():
        assert f"self_test {prefix} 0" in out
        weights = [line.split()[2] for line in out if line.startswith(f"w {prefix} ")]
        rows = [line.split()[2:] for line in out if line.startswith(f"v {prefix} ")]
        assert len(rows) == 40
        visited = trajectory_observations(p)
        if kind == "fixed":
            w_q = [round(t * 65536) for t in p.theta.tolist()]
            assert [int(w) for w in weights] == w_q[:4]
            bias = w_q[4] * 65536 if len(w_q) == 5 else 0
            real = {tuple(round(v * 65536) for v in row) for row in visited.astype(np.float64).tolist()}
            for *s_q, z_q, action in (list(map(int, row)) for row in rows):
                assert tuple(s_q) in real
                assert z_q == sum(w * s for w, s in zip(w_q, s_q)) + bias and action == (0 if z_q >= 0 else 1)
            continue
        dtype = np.float32 if kind == "float" else np.float64
        values = np.array([[float.fromhex(v) for v in row[:7]] for row in rows])
        s, z_c, p_c, e_c = values[:, :4].astype(dtype), *values[:, 4:7].astype(dtype).T
        assert same_bits(np.array([float.fromhex(w) for w in weights]).astype(dtype), p.weights.astype(dtype))
        assert {tuple(row) for row in s.tolist()} <= {tuple(row) for row in visited.astype(dtype).tolist()}
        w, z = p.theta.astype(dtype), np.zeros(len(rows), dtype=dtype)
        for k in range(4):
            z = z + w[k] * s[:, k]
        z = z + w[4] if len(w) == 5 else z
        assert same_bits(z_c, z)
        assert [int(row[7]) for row in rows] == np.where(z >= 0, 0, 1).tolist()
        assert same_bits(p_c, dtype(1) / (dtype(1) + e_c))  # NumPy's arithmetic given the C library's exp
        e = np.array([math.exp(v) for v in (-z).astype(np.float64).tolist()]).astype(dtype)  # correctly rounded
        assert ulps(e_c, e).max() <= 1 and ulps(p_c, dtype(1) / (dtype(1) + e)).max() <= (2 if kind == "float" else 1)
        if kind == "double":
            assert same_bits(z, p.logit(s)) and np.array_equal(p.greedy_action(s), np.where(z >= 0, 0, 1))


def test_fixed_point_disagreement_is_measured_and_small(run, tmp_path):
    policy = load_policy(run[0])
    counts = greedy_agreement(policy)
    assert counts["states"] == trajectory_observations(policy).shape[0] > 10_000
    assert counts["fixed_q16"] <= counts["states"] // 1000 and counts["float32"] <= counts["states"] // 1000
    for fmt, dtype, key in (("c-fixed", "float64", "fixed_q16"), ("c", "float32", "float32")):
        text = save_policy(policy, tmp_path / f"{key}.h", fmt, dtype=dtype).read_text()
        assert f"differs on {counts[key]} of {counts['states']} states visited in 100 sampled episodes" in text
    assert "differs on 0 of" in save_policy(policy, tmp_path / "d.h").read_text()


NUMPY_ONLY = textwrap.dedent("""
    import json, sys
    import gymnasium as gym
    import numpy as np

    doc = json.load(open(sys.argv[1]))
    assert doc["format"] == "fastpg-policy" and doc["version"] == 1
    theta, bias = doc["theta"], doc["bias"]

    def logit(obs):  # z = theta . s (+ bias), summed left to right in float64
        z = 0.0
        for w, s in zip(theta, obs.astype(np.float64).tolist()):
            z += w * s
        return z if bias is None else z + bias

    env, returns = gym.make(doc["env"]["id"]), []
    for i in range(100):
        obs, _ = env.reset(seed=int(sys.argv[2])) if i == 0 else env.reset()
        total, done = 0.0, False
        while not done:
            obs, reward, terminated, truncated, _ = env.step(0 if logit(obs) >= 0.0 else 1)  # greedy
            total, done = total + reward, terminated or truncated
        returns.append(total)
    print(json.dumps({"returns": returns, "fastpg_imported": "fastpg" in sys.modules}))
""")


def test_exported_policy_solves_cartpole_in_a_numpy_only_script(run, tmp_path):
    path = export_run(run[0], "json", tmp_path / "policy.json")
    script = write(tmp_path / "play.py", NUMPY_ONLY)
    out = subprocess.run([sys.executable, "-I", str(script), str(path), "5"], check=True, capture_output=True,
                         text=True, timeout=120, cwd=tmp_path).stdout
    report = json.loads(out)
    assert not report["fastpg_imported"]
    assert np.mean(report["returns"]) >= 475
    assert report["returns"] == evaluate_in_gymnasium(run[1].theta, 100, 5, greedy=True).returns.tolist()


def export_cli(*argv: str) -> int:
    parser = argparse.ArgumentParser(prog="fastpg")
    add_export_parser(parser.add_subparsers(dest="command", required=True))
    return run_export(parser.parse_args(["export", *argv]))


def test_cli_writes_every_format(run, tmp_path, capsys):
    for fmt in FORMATS:
        out = tmp_path / f"p_{fmt}.out"
        assert export_cli(str(run[0]), "--out", str(out), "--format", fmt) == 0
        assert f"wrote {out} ({fmt}" in capsys.readouterr().out
    assert same_bits(load_policy(tmp_path / "p_csv.out").theta, run[1].theta)
    assert export_cli(str(tmp_path / "p_npz.out"), "--out", str(tmp_path / "f.h"), "--dtype", "float32",
                      "--prefix", "ctl", "--test-vectors", "0", "--seed", "3") == 0
    assert "greedy action differs from the float64 policy on" in capsys.readouterr().out
    header = (tmp_path / "f.h").read_text()
    assert "static const float ctl_weights[4]" in header and "TEST_VECTORS\n" not in header
    with pytest.raises(ValueError, match="dtype does not apply"):
        export_cli(str(run[0]), "--out", str(tmp_path / "q.h"), "--format", "c-fixed", "--dtype", "float32")
    with pytest.raises(ValueError, match="is not a fastpg run folder"):
        export_cli(str(tmp_path), "--out", str(tmp_path / "x.json"))
