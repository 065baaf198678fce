"""The ``fastpg`` command line."""

from __future__ import annotations

import argparse
import sys


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="fastpg", description="Exact, fast policy gradients on CartPole-v1.")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    demo = commands.add_parser("demo", help="roll out the simulator and print steps/s against Gymnasium")
    demo.add_argument("--num-envs", type=int, default=4096, help="environments stepped together (default 4096)")
    demo.add_argument("--steps", type=int, default=500, help="vector steps to time (default 500)")
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run the CLI; returns the process exit code (0 on success, 2 on bad input)."""
    args = build_parser().parse_args(argv)
    if args.command == "demo":
        if args.num_envs < 1 or args.steps < 1:
            print("fastpg: error: --num-envs and --steps must be at least 1", file=sys.stderr)
            return 2
        from .demo import run_demo

        print(run_demo(args.num_envs, args.steps))
    return 0
