"""The C reference (``tools/cartpole_ref.c``): built with the machine's C compiler, called through ctypes.

It runs the same episodes as fastpg's streaming kernel (γ = 1; reward to go or total return, with or
without the Fisher matrix: the four ``MODES``), with the same physics, policy and xoshiro256** streams,
so it gives the single-env latency floor on the machine at hand and a bit-for-bit cross-check. It
lives in the source tree, not in the installed package: ``find_source()`` returns None where it is
absent.
"""

from __future__ import annotations

import ctypes
import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import CReferenceUnavailable

C_FLAGS = ("-O3", "-march=native", "-ffp-contract=off")  # no FMA contraction: bit-identical to fastpg
FISHER, TOTAL_RETURN = 1, 2  # mode bits of cartpole_ref_run
MODES = {"reward_to_go": 0, "reward_to_go + Fisher": FISHER, "total_return": TOTAL_RETURN,
         "total_return + Fisher": TOTAL_RETURN | FISHER}


def find_source() -> Path | None:
    path = Path(__file__).resolve().parents[2] / "tools" / "cartpole_ref.c"
    return path if path.is_file() else None


def compiler() -> str | None:
    return shutil.which(os.environ.get("CC", "gcc")) or shutil.which("cc")


@dataclass(frozen=True)
class CReference:
    """A built C reference: ``run`` streams m episodes like ``engine.estimate_gradient(streaming=True)``."""

    library: Path
    executable: Path
    compiler: str

    def run(self, theta: np.ndarray, key: int, states0: np.ndarray,
            mode: int = FISHER) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Per-episode lengths int64[m], gradients float64[m, 4] and Fisher matrices float64[m, 4, 4] (zeros in
        a mode without it)."""
        theta, states0 = np.ascontiguousarray(theta, np.float64), np.ascontiguousarray(states0, np.float64)
        if theta.shape != (4,) or states0.ndim != 2 or states0.shape[1] != 4:
            raise ValueError("the C reference takes theta float64[4] (no bias) and states0 float64[m, 4]")
        m = states0.shape[0]
        lengths, grads, fishers = np.empty(m, np.int64), np.empty((m, 4)), np.zeros((m, 4, 4))
        self.function()(*self.arguments(theta, key, states0, lengths, grads, fishers, mode))
        return lengths, grads, fishers

    def function(self):
        """The raw ctypes function ``cartpole_ref_run`` (for timing without Python-side allocation)."""
        run = ctypes.CDLL(str(self.library)).cartpole_ref_run
        run.restype = ctypes.c_int64
        run.argtypes = [ctypes.c_void_p, ctypes.c_uint64, ctypes.c_int64] + [ctypes.c_void_p] * 4 + [ctypes.c_int]
        return run

    @staticmethod
    def arguments(theta, key, states0, lengths, grads, fishers, mode: int = FISHER) -> tuple:
        """ctypes arguments of ``function()`` for the given (kept-alive, C-contiguous) arrays and mode."""
        return (theta.ctypes.data, int(key), states0.shape[0], states0.ctypes.data, lengths.ctypes.data,
                grads.ctypes.data, fishers.ctypes.data, mode)


def build(out_dir: str | Path) -> CReference:
    """Compile the C reference into ``out_dir`` (an executable and a shared library)."""
    source, cc = find_source(), compiler()
    if source is None:
        raise CReferenceUnavailable("tools/cartpole_ref.c is not here (it ships with the source tree only)")
    if cc is None:
        raise CReferenceUnavailable("no C compiler (gcc or cc) on PATH")
    out = Path(out_dir)
    exe, lib = out / "cartpole_ref", out / "libcartpole_ref.so"
    for extra, target in (((), exe), (("-shared", "-fPIC", "-DCARTPOLE_REF_NO_MAIN"), lib)):
        done = subprocess.run([cc, *C_FLAGS, *extra, "-o", str(target), str(source), "-lm"], capture_output=True,
                              text=True)
        if done.returncode:
            raise CReferenceUnavailable(f"{cc} could not build {source}: {done.stderr.strip()[:500]}")
    return CReference(lib, exe, f"{os.path.basename(cc)} {' '.join(C_FLAGS)}")
