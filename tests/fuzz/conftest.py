"""The fuzz suite's hypothesis profiles, and a count of the cases it ran.

``ci`` (the default: derandomized, ~10,000 cases in all) or ``fuzz`` (10x the cases, random),
chosen with ``HYPOTHESIS_PROFILE``; ``make fuzz`` runs the latter. The profiles are applied to
this suite's tests only (see ``harness.fuzz``), so the other tests keep their own settings.
"""

from __future__ import annotations

from .harness import CASES, PROFILE


def pytest_terminal_summary(terminalreporter):
    if CASES:
        total = sum(CASES.values())
        terminalreporter.write_line(f"fuzz ({PROFILE} profile): {total} generated cases in {len(CASES)} tests")
