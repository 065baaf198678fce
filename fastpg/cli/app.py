"""The ``fastpg`` command line: ``train``, ``eval``, ``plot``, ``export``, ``sweep``, ``bench`` and ``demo``.

Exit codes (``fastpg.cli.codes``): 0 success; 1 training failed (e.g. a non-finite gradient); 2 bad
input (options, files, folders); 3 a missing optional package; 4 an internal error (a bug; set
``FASTPG_DEBUG=1`` for the traceback); 130 interrupted (Ctrl-C; the last checkpoint is kept).
Errors are one line on stderr, without a traceback. Building the parser imports no Numba code:
each command loads what it needs when it runs.
"""

from __future__ import annotations

import argparse
import difflib
import json
import os
import sys
from dataclasses import fields
from pathlib import Path

from ..errors import MissingDependencyError, TrainingError
from ..training.config import FIELDS, TrainConfig, config_from_dict, load_config, range_text
from .argtypes import ARG_TYPES, float_arg, int_arg, path_arg
from .codes import (EXIT_BAD_INPUT, EXIT_FAILED, EXIT_INTERNAL, EXIT_INTERRUPTED, EXIT_MISSING_DEPENDENCY,
                    EXIT_OK)
from .export import add_export_parser
from .sweep import add_sweep_parser


class _Parser(argparse.ArgumentParser):
    def error(self, message: str):
        if message.startswith("unrecognized arguments:"):
            known = [o for action in self._actions for o in action.option_strings]
            for word in message.split(":", 1)[1].split():
                close = difflib.get_close_matches(word.split("=")[0], known, n=1)
                if close:
                    message += f" (did you mean {close[0]}?)"
                    break
        self.exit(EXIT_BAD_INPUT, f"{self.prog}: error: {message}\n")


def _add_config_flags(parser: argparse.ArgumentParser) -> None:
    """One ``--flag`` per TrainConfig field, documented from the field's help, range and default."""
    group = parser.add_argument_group("training options (override --config; defaults in brackets)")
    for f in fields(TrainConfig):
        meta, flag = f.metadata, "--" + f.name.replace("_", "-")
        text = meta["help"] + (f"; range {range_text(meta)}" if meta["low"] is not None else "") + f" [{f.default}]"
        if type(f.default) is bool:
            group.add_argument(flag, dest=f.name, action=argparse.BooleanOptionalAction, default=None, help=text)
            continue
        if meta["choices"]:
            text += f" {{{', '.join(meta['choices'])}}}"
        group.add_argument(flag, dest=f.name, type=ARG_TYPES[type(f.default)], default=None, metavar=f.name.upper(),
                           help=text)


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="fastpg", description="Exact, fast policy gradients on CartPole-v1.")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND", parser_class=_Parser)

    train = commands.add_parser("train", help="train a logistic policy; writes a run folder",
                                description="Train a logistic policy with REINFORCE (or a natural gradient) and "
                                            "write a run folder: config.toml, metrics, checkpoint.json, "
                                            "result.json and policy.json.")
    train.add_argument("--config", type=path_arg, help="TOML file of training options (flags override it)")
    train.add_argument("--out", type=path_arg, help="run folder to create [runs/<date>-<time>]")
    train.add_argument("--resume", type=path_arg, metavar="RUN_DIR",
                       help="continue the unfinished run in RUN_DIR from its last checkpoint, with its saved config")
    train.add_argument("--force", action="store_true", help="replace the run already in --out")
    train.add_argument("--quiet", action="store_true", help="print a one-line summary only, no progress bar")
    train.add_argument("--progress", action=argparse.BooleanOptionalAction, default=None,
                       help="show a progress bar [only on a terminal]")
    _add_config_flags(train)

    ev = commands.add_parser("eval", help="evaluate a policy (a run folder, a policy file, or --theta)",
                             description="Play episodes of a logistic policy and report its returns.")
    ev.add_argument("source", nargs="?", type=path_arg, help="run folder or policy file (json, npy, npz, csv)")
    ev.add_argument("--theta", help="comma-separated weights x,x_dot,theta,theta_dot[,bias] instead of SOURCE (write --theta=-1,... "
                         "when the first is negative)")
    ev.add_argument("--episodes", type=int_arg, default=100, help="episodes to play [100]")
    ev.add_argument("--seed", type=int_arg, default=0, help="seed of the episodes [0]")
    ev.add_argument("--greedy", action="store_true", help="act greedily (left iff theta . s >= 0), not sampled")
    ev.add_argument("--simulator", choices=("gymnasium", "fastpg"), default="gymnasium",
                    help="gymnasium's own CartPole-v1 (Python loop) or fastpg's identical kernels [gymnasium]")
    ev.add_argument("--json", action="store_true", help="print the summary as JSON")

    plot = commands.add_parser("plot", help="draw a run's learning curve, or a sweep's comparison (needs matplotlib)")
    plot.add_argument("run_dir", type=path_arg, metavar="RUN_DIR_OR_SWEEP",
                      help="run folder, or a sweep results file (.jsonl/.csv)")
    plot.add_argument("--out", type=path_arg, help="PNG to write [RUN_DIR/learning_curve.png; beside a sweep file]")

    add_export_parser(commands)
    add_sweep_parser(commands)

    bench = commands.add_parser("bench", help="time fastpg against Gymnasium and the C reference in one run",
                                description="Run benchmark suites side by side in one process, rounds interleaved, "
                                            "and print ns/step (median, p10, p90), steps/s and ratios to the "
                                            "comparators measured in the same run.")
    bench.add_argument("--suite", nargs="+", default=None, metavar="SUITE",
                       help="suites to run: env vector batched episode overhead batch latency [all]")
    bench.add_argument("--num-envs", nargs="+", type=int_arg, default=None, metavar="N",
                       help="vector env sizes [64 16384]")
    bench.add_argument("--rounds", type=int_arg, help="interleaved rounds per case [15; --quick: 3]")
    bench.add_argument("--min-time", type=float_arg, help="seconds per case per round [0.02; --quick: 0.005]")
    bench.add_argument("--quick", action="store_true", help="a fast, rough run: 3 rounds, N = 64 and 1024")
    bench.add_argument("--clock", choices=("wall", "cpu"), default="wall",
                       help="wall time, or the calling thread's CPU time for one-thread groups (steadier on a "
                            "machine shared with other jobs) [wall]")
    bench.add_argument("--json", type=path_arg, help="also write the results as JSON to this file")
    bench.add_argument("--png", type=path_arg, help="also draw a bar chart (needs matplotlib)")

    demo = commands.add_parser("demo", help="roll out the simulator and print steps/s against Gymnasium")
    demo.add_argument("--num-envs", type=int_arg, default=4096, help="environments stepped together [4096]")
    demo.add_argument("--steps", type=int_arg, default=500, help="vector steps to time [500]")
    parser.commands = commands
    return parser


def _config(args: argparse.Namespace) -> TrainConfig | None:
    flags = {name: getattr(args, name) for name in FIELDS if getattr(args, name) is not None}
    if args.resume is not None:
        if flags or args.config or args.out or args.force:
            raise ValueError("--resume continues a run with its saved config; it takes no other options "
                             "than --quiet/--progress")
        return None
    return load_config(args.config, flags) if args.config else config_from_dict(flags)


def _train(args: argparse.Namespace) -> int:
    from ..training.loop import train
    from ..training.runs import fresh_run_dir

    config = _config(args)
    run_dir = args.resume or args.out or fresh_run_dir()
    progress = False if args.quiet else args.progress
    try:
        result = train(config, run_dir, resume=args.resume is not None, force=args.force, progress=progress)
        print(_summary(result, one_line=args.quiet))
    except TrainingError as exc:
        print(f"fastpg: training failed: {exc}", file=sys.stderr)
        return EXIT_FAILED
    except KeyboardInterrupt:
        print(f"fastpg train: interrupted; {_interrupted_run(Path(run_dir))}", file=sys.stderr)
        return EXIT_INTERRUPTED
    return EXIT_OK


def _interrupted_run(run_dir: Path) -> str:
    """What a Ctrl-C left in ``run_dir``, and what to do next."""
    from ..training.runs import RESULT_FILE, is_run

    if (run_dir / RESULT_FILE).exists():
        return f"the run had finished: its results are in {run_dir}"
    if not is_run(run_dir):
        return f"the run had not started; nothing was written to {run_dir}"
    return f"continue from the last checkpoint with: fastpg train --resume {run_dir}"


def _summary(result, one_line: bool) -> str:
    c = result.config
    solved = (f"solved after {result.solved_at['episodes']} training episodes ({result.solved_at['update']} updates, "
              f"{result.solved_at['steps']:,} steps) in {result.solved_at['seconds'] * 1e3:.1f} ms"
              if result.solved_at else f"not solved ({result.stop_reason}: {result.episodes} episodes)")
    ev = result.evaluation
    final = (f"{c.env} in Gymnasium, {ev['stochastic']['episodes']} episodes: mean return "
             f"{ev['stochastic']['mean_return']:.1f} stochastic, {ev['greedy']['mean_return']:.1f} greedy"
             if ev else "final evaluation skipped")
    theta = "[" + ", ".join(f"{v:.6g}" for v in result.theta) + "]"
    if one_line:
        return f"{result.run_dir}: {solved}; {final}; theta {theta}"
    optimizer = c.optimizer + ("" if c.optimizer in ("natural", "kl_penalty") else f" lr {c.lr:g}")
    baseline = f"{c.baseline} baseline" + (f", {c.normalize}-normalized" if c.normalize != "none" else "")
    return "\n".join([
        f"fastpg: logistic policy on {c.env}, batch {c.batch_size}, {c.psi}, {baseline}, {optimizer}"
        + (f", reusing {c.reuse_batches} batches" if c.reuse_batches else ""),
        f"  {solved}; trained {result.updates} updates, {result.episodes} episodes, {result.steps:,} steps "
        f"(plus {result.eval_episodes:,} solve-check episodes) in {result.timings['train_seconds']:.3f} s",
        f"  final evaluation: {final}",
        f"  theta = {theta}",
        f"  run folder: {result.run_dir}  (policy.json, result.json, metrics.{c.metrics_format}, config.toml)",
    ])


def _policy_from(args: argparse.Namespace):
    """(theta, CartPoleParams) of ``eval``'s source: the env a saved policy was trained on, else CartPole-v1."""
    import numpy as np

    from ..cartpole.spec import DEFAULT_PARAMS
    from ..export.document import env_params
    from ..training.runs import load_policy

    if (args.theta is None) == (args.source is None):
        raise ValueError("give either a run folder / policy file or --theta")
    if args.theta is not None:
        try:
            return np.array([float(v) for v in args.theta.split(",")]), DEFAULT_PARAMS
        except ValueError:
            raise ValueError(f"--theta must be comma-separated numbers, got {args.theta!r}") from None
    policy = load_policy(args.source)
    return policy.theta, env_params(policy.metadata)


def _export(args: argparse.Namespace) -> int:
    from .export import run_export

    return run_export(args)


def _eval(args: argparse.Namespace) -> int:
    from ..cartpole.spec import ENV_SPECS, spec_of
    from ..pg.evaluation import evaluate, evaluate_in_gymnasium

    theta, params = _policy_from(args)
    play = evaluate_in_gymnasium if args.simulator == "gymnasium" else evaluate
    summary = play(theta, args.episodes, args.seed, greedy=args.greedy, params=params).summary()
    if args.json:
        print(json.dumps(summary))
    else:
        mode = "greedy" if args.greedy else "stochastic"
        env = (spec_of(params) or ENV_SPECS["CartPole-v1"]).id
        print(f"{summary['episodes']} episodes of {env} ({mode}, {summary['simulator']}): mean return "
              f"{summary['mean_return']:.2f} ± {summary['std_return']:.2f}, min {summary['min_return']:g}, "
              f"max {summary['max_return']:g}")
    return EXIT_OK


def _plot(args: argparse.Namespace) -> int:
    from ..sweeps.plot import is_sweep_results, plot_sweep
    from ..training.plot import plot_run

    print((plot_sweep if is_sweep_results(args.run_dir) else plot_run)(args.run_dir, args.out))
    return EXIT_OK


def _sweep(args: argparse.Namespace) -> int:
    from .sweep import run_sweep_command

    return run_sweep_command(args)


def _bench(args: argparse.Namespace) -> int:
    from ..benchmark.harness import SUITES, run_bench

    options = {"rounds": 3, "min_time": 0.005, "latency_calls": 2000, "num_envs": (64, 1024)} if args.quick else {}
    given = {"rounds": args.rounds, "min_time": args.min_time, "clock": args.clock,
             "num_envs": tuple(args.num_envs) if args.num_envs else None}
    options.update({k: v for k, v in given.items() if v is not None})
    report = run_bench(tuple(args.suite or SUITES), **options)
    print(report.table())
    if args.json:
        from ..files import atomic_write_text

        atomic_write_text(args.json, report.to_json() + "\n")
    if args.png:
        report.plot(args.png)
    return EXIT_OK


def _demo(args: argparse.Namespace) -> int:
    from ..limits import MAX_BENCH_ENVS, MAX_DEMO_ACTIONS

    if not 1 <= args.num_envs <= MAX_BENCH_ENVS or args.steps < 1 or args.num_envs * args.steps > MAX_DEMO_ACTIONS:
        raise ValueError(f"--num-envs must be in [1, {MAX_BENCH_ENVS}], --steps at least 1, and --num-envs x --steps "
                         f"at most {MAX_DEMO_ACTIONS} (the limit)")
    from ..benchmark.demo import run_demo

    print(run_demo(args.num_envs, args.steps))
    return EXIT_OK


def main(argv: list[str] | None = None) -> int:
    """Run the CLI; returns the process exit code."""
    try:
        return _run(argv)
    except KeyboardInterrupt:  # before a command started, or while it reported
        print("fastpg: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED


def _run(argv: list[str] | None) -> int:
    parser = build_parser()
    args, extras = parser.parse_known_args(argv)
    if extras:  # reported by the subcommand's parser, which knows its options and suggests the closest
        parser.commands.choices[args.command].error(f"unrecognized arguments: {' '.join(extras)}")
    command = {"train": _train, "eval": _eval, "plot": _plot, "bench": _bench, "demo": _demo,
               "export": _export, "sweep": _sweep}[args.command]
    try:
        return command(args)
    except MissingDependencyError as exc:
        print(f"fastpg {args.command}: error: {exc}", file=sys.stderr)
        return EXIT_MISSING_DEPENDENCY
    except (ValueError, TypeError, OSError) as exc:
        print(f"fastpg {args.command}: error: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except KeyboardInterrupt:
        print(f"fastpg {args.command}: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except Exception as exc:  # a bug: one line, unless asked for the traceback
        if os.environ.get("FASTPG_DEBUG"):
            raise
        print(f"fastpg {args.command}: internal error: {type(exc).__name__}: {exc} (set FASTPG_DEBUG=1 for the "
              "traceback)", file=sys.stderr)
        return EXIT_INTERNAL
