"""The C reference agrees with fastpg's streaming kernel: same episode lengths, same gradients, bit for bit."""

from __future__ import annotations

import numpy as np
import pytest

from fastpg import DEFAULT_PARAMS
from fastpg.benchmark import cref
from fastpg.pg import engine


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    try:
        return cref.build(tmp_path_factory.mktemp("cref"))
    except cref.CReferenceUnavailable as exc:
        pytest.skip(str(exc))


@pytest.mark.parametrize("mode", list(cref.MODES))
@pytest.mark.parametrize("theta", [[-0.5, -2.0, -20.0, -5.0], [-0.2, -1.0, -10.0, -3.0], [0.1, 0.5, 0.8, 0.3],
                                   [0.0, 0.0, 0.0, 0.0]])
def test_c_reference_matches_fastpg_bit_for_bit(reference, theta, mode):
    _, _, _, states0, key = engine.batch_start(theta, 24, 5, DEFAULT_PARAMS)
    lengths, grads, fishers = reference.run(np.array(theta), key, states0, cref.MODES[mode])
    with_fisher = "Fisher" in mode
    ours = engine.estimate_gradient(theta, 24, 5, psi=mode.split(" ")[0], streaming=True, fisher=with_fisher)
    assert lengths.tolist() == ours.lengths.tolist()
    assert grads.tobytes() == ours.per_episode.tobytes()
    if with_fisher:
        assert (fishers.sum(axis=0) / 24).tobytes() == ours.fisher.tobytes()
    else:
        assert not fishers.any()


def test_c_reference_cli_prints_the_same_lengths(reference):
    import subprocess

    theta = np.array([-0.2, -1.0, -10.0, -3.0])
    _, _, _, states0, key = engine.batch_start(theta, 6, 9, DEFAULT_PARAMS)
    text = "\n".join([" ".join(v.hex() for v in theta), str(int(key)), "6"]
                     + [" ".join(float(v).hex() for v in row) for row in states0]) + "\n"
    out = subprocess.run([str(reference.executable)], input=text, capture_output=True, text=True, check=True)
    *rows, timing = out.stdout.splitlines()
    assert [int(r.split()[1]) for r in rows] == engine.estimate_gradient(theta, 6, 9).lengths.tolist()
    assert timing.startswith("ns_per_step ")
