"""Print, after the pytest-benchmark table, each fastpg figure as a ratio to Gymnasium's from the same run.

A benchmark declares ``benchmark.extra_info["steps"]`` (env steps per timed call)
and ``["impl"]`` (starting with "gymnasium" for the comparator of its group).
"""

from __future__ import annotations

import pytest

from fastpg.benchmark.harness import machine


@pytest.hookimpl(trylast=True)
def pytest_terminal_summary(terminalreporter, config):
    session = getattr(config, "_benchmarksession", None)
    if session is None or not session.groups:
        return
    write = terminalreporter.write_line
    write("")
    write(f"fastpg vs Gymnasium, same run: {machine()}")
    write(f"{'group':<28}{'implementation':<38}{'ns/step':>11}{'steps/s':>11}{'x Gymnasium':>13}")
    for group, benches in session.groups:
        benches = [b for b in benches if "steps" in b["extra_info"]]
        per_step = [b["median"] / b["extra_info"]["steps"] for b in benches]
        base = next((t for b, t in zip(benches, per_step) if b["extra_info"].get("impl", "").startswith("gymnasium")), None)
        for b, t in sorted(zip(benches, per_step), key=lambda bt: -bt[1]):
            ratio = f"{base / t:.2f}" if base else "-"
            write(f"{group or '':<28}{b['extra_info'].get('impl', b['name']):<38}{t * 1e9:>11.1f}{1 / t:>11.3g}{ratio:>13}")
