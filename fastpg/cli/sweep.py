"""``fastpg sweep SWEEP.toml``: the sweep subcommand, for ``fastpg.cli`` to add to its parser.

Exit codes as for ``fastpg train``: 0 every run finished; 1 some run failed or lost its worker
(the sweep still completed; re-running it retries the lost runs); 2 bad input (raised as
``ValueError``/``OSError`` for the caller to report); 130 interrupted (Ctrl-C; finished runs are kept).
"""

from __future__ import annotations

import argparse
import sys
import tomllib
from typing import Any

from ..sweeps.spec import BACKENDS, format_point, load_sweep  # light: the sweep itself is imported when run
from .argtypes import int_arg, path_arg
from .codes import EXIT_FAILED, EXIT_INTERRUPTED, EXIT_OK
_FLAGS = ("backend", "workers", "address", "out", "seeds", "chunk_size", "retries")
EXAMPLE = """example SWEEP.toml:
  seeds = "0-19"             # or a list: [0, 1, 2]
  backend = "joblib"         # joblib (default), dask or ray
  # workers = 2              # default: one per core (or the cluster's size)
  # address = "tcp://scheduler:8786"   # an existing Dask scheduler or Ray cluster
  # out = "lr.jsonl"         # default: SWEEP.jsonl beside SWEEP.toml (.csv also works)

  [base]                     # training options shared by every run (final_episodes defaults to 0)
  max_episodes = 1000

  [grid]                     # every combination of these values, with every seed
  lr = [0.25, 0.5, 1.0]
  baseline = ["none", "per_timestep"]
"""


def add_sweep_parser(commands) -> argparse.ArgumentParser:
    """Add ``sweep`` to ``commands`` (the ``add_subparsers`` object of ``fastpg``'s parser)."""
    sweep = commands.add_parser(
        "sweep", help="train over a grid of options x seeds on joblib, Dask or Ray; writes a results file",
        description="Train once per (grid point, seed), in parallel, appending each run's result to a JSONL or "
                    "CSV file as it finishes; re-running skips the runs the file already holds. Prints a summary "
                    "per grid point and writes it to NAME.summary.csv.",
        epilog=EXAMPLE, formatter_class=argparse.RawDescriptionHelpFormatter)
    sweep.add_argument("sweep_file", type=path_arg, metavar="SWEEP.toml", help="the sweep: base, grid, seeds, ...")
    sweep.add_argument("--backend", choices=BACKENDS, help="where the runs go [joblib]")
    sweep.add_argument("--workers", type=int_arg, help="worker processes [one per core, or the cluster's size]")
    sweep.add_argument("--address", help="an existing Dask scheduler (tcp://host:8786) or Ray cluster (ray://host:10001,"
                                         " auto) [start a local one]")
    sweep.add_argument("--out", type=path_arg, help="results file, .jsonl or .csv [SWEEP.jsonl beside SWEEP.toml]")
    sweep.add_argument("--seeds", help='seeds, e.g. "0-19" or "0,5,7-9"')
    sweep.add_argument("--chunk-size", type=int_arg, help="runs per task [automatic, at most 16]")
    sweep.add_argument("--retries", type=int_arg, help="re-runs of a run whose worker died, alone [1]")
    sweep.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                       help="override an entry of the file, VALUE in TOML: --set base.max_episodes=500 "
                            "--set 'grid.lr=[0.5, 1.0]' --set seeds=0-99")
    sweep.add_argument("--quiet", action="store_true", help="print a one-line summary only, no progress bar")
    sweep.add_argument("--progress", action=argparse.BooleanOptionalAction, default=None,
                       help="show a progress bar over runs [only on a terminal]")
    return sweep


def _toml_value(text: str) -> Any:
    try:
        return tomllib.loads(f"v = {text}")["v"]
    except tomllib.TOMLDecodeError:
        return text  # a bare word: a string


def overrides(args: argparse.Namespace) -> dict[str, Any]:
    """The sweep-file entries that the command's flags replace."""
    values = {name: getattr(args, name) for name in _FLAGS if getattr(args, name) is not None}
    for item in args.set:
        key, sep, text = item.partition("=")
        if not sep or not key.strip():
            raise ValueError(f"--set takes KEY=VALUE, got {item!r}")
        values[key.strip()] = _toml_value(text.strip())
    return values


def run_sweep_command(args: argparse.Namespace) -> int:
    """Run ``fastpg sweep``; returns the exit code (bad input raises ``ValueError``/``OSError``)."""
    from ..sweeps.run import run_sweep, summary_path

    spec = load_sweep(args.sweep_file, overrides(args))
    try:
        result = run_sweep(spec, progress=False if args.quiet else args.progress)
    except KeyboardInterrupt:
        print(f"fastpg sweep: interrupted; the finished runs are in {spec.out}; run the same command again to "
              "run the rest", file=sys.stderr)
        return EXIT_INTERRUPTED
    counts = result.counts()
    ran = len(result.records) - result.reused
    head = (f"fastpg sweep: {len(result.records)} runs ({ran} run now on {spec.backend}, {result.reused} already in "
            f"{spec.out}): {counts['ok']} ok, {counts['failed']} failed, {counts['lost']} lost")
    if args.quiet:
        print(head)
    else:
        print(head + (f" ({result.other} other runs in the file are not in this sweep)" if result.other else ""))
        print(result.table())
        print(f"results: {spec.out}; summary: {summary_path(spec.out)}")
    for record in [r for r in result.records if r["status"] != "ok"][:10]:
        print(f"  {record['status']}: {format_point(record['point'])} seed {record['seed']}: {record['error']}",
              file=sys.stderr)
    return EXIT_OK if counts["ok"] == len(result.records) else EXIT_FAILED
