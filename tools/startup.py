"""Start-up time of fastpg against Gymnasium: median wall time of fresh processes, run side by side.

Usage: python tools/startup.py [--runs 10]   (uses the interpreter that runs it)
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time

COMMANDS = {
    "python -c \"import gymnasium\"": ["-c", "import gymnasium"],
    "python -c \"import fastpg\"": ["-c", "import fastpg"],
    "fastpg --help": ["-m", "fastpg", "--help"],
    "fastpg train --help": ["-m", "fastpg", "train", "--help"],
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=10, help="fresh processes per command [10]")
    runs = parser.parse_args().runs
    times = {name: [] for name in COMMANDS}
    for _ in range(runs):  # interleaved, so a slow moment of the machine hits every command alike
        for name, args in COMMANDS.items():
            start = time.perf_counter()
            subprocess.run([sys.executable, *args], check=True, capture_output=True)
            times[name].append(time.perf_counter() - start)
    base = statistics.median(next(iter(times.values())))
    for name, values in times.items():
        median = statistics.median(values)
        print(f"{name:<32} {median * 1e3:7.1f} ms  {median / base:.2f}x")


if __name__ == "__main__":
    main()
