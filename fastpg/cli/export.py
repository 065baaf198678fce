"""``fastpg export``: the export subcommand, for ``fastpg.cli`` to add to its parser."""

from __future__ import annotations

import argparse

from ..export.formats import C_DEFAULTS, DTYPES, FORMATS, fmt_of  # light: the exporters load when run
from .argtypes import int_arg, path_arg
from .codes import EXIT_OK


def add_export_parser(commands) -> argparse.ArgumentParser:
    """Add the ``export`` subcommand to ``commands`` (an argparse subparsers object)."""
    export = commands.add_parser(
        "export", help="write a policy as json, npy, npz, csv or a C header",
        description="Write the policy of a finished run folder or a policy file (json, npy, npz, csv) as JSON "
                    "with its metadata, plain arrays, or a C99 header (float, double, or Q16.16 fixed point).")
    export.add_argument("source", type=path_arg, help="finished run folder, or a policy file (json, npy, npz, csv)")
    export.add_argument("--out", type=path_arg, required=True, help="file to write")
    export.add_argument("--format", choices=FORMATS, help="output format [from --out's suffix: .json .npy .npz "
                                                          ".csv, .h for c]")
    export.add_argument("--dtype", choices=DTYPES, default="float64",
                        help="precision of the numbers written; float32 for a C 'float' header [float64]")
    c = export.add_argument_group("C headers (c, c-fixed)")
    c.add_argument("--prefix", help=f"prefix of every C name, so policies can coexist [{C_DEFAULTS['prefix']}]")
    c.add_argument("--test-vectors", type=int_arg, help=f"test vectors in the header, 0 for none "
                                                    f"[{C_DEFAULTS['test_vectors']}]")
    c.add_argument("--episodes", type=int_arg, help="sampled episodes the test vectors and the disagreement count "
                                                f"come from [{C_DEFAULTS['episodes']}]")
    c.add_argument("--seed", type=int_arg, help=f"seed of those episodes [{C_DEFAULTS['seed']}]")
    return export


def run_export(args: argparse.Namespace) -> int:
    """Run ``fastpg export``; prints what it wrote. Raises ValueError/TypeError on bad input."""
    from ..export.policy_io import greedy_agreement, save_policy
    from ..training.runs import load_policy

    options = {k: getattr(args, k) for k in C_DEFAULTS}
    policy = load_policy(args.source)
    path = save_policy(policy, args.out, args.format, dtype=args.dtype, **options)
    fmt = fmt_of(args.format, args.out)
    line = f"wrote {path} ({fmt}, {'Q16.16' if fmt == 'c-fixed' else args.dtype})"
    if fmt == "c-fixed" or (fmt == "c" and args.dtype == "float32"):
        episodes = options["episodes"] or C_DEFAULTS["episodes"]
        counts = greedy_agreement(policy, episodes, options["seed"] or 0)
        differs = counts["fixed_q16" if fmt == "c-fixed" else "float32"]
        line += (f"; its greedy action differs from the float64 policy on {differs} of {counts['states']} states "
                 f"from {episodes} episodes")
    print(line)
    return EXIT_OK
