"""One timed case of ``fastpg bench``."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable


@dataclass
class Case:
    """``run()`` does one unit of work of ``steps`` env steps; ``threads`` Numba threads while timed.

    A comparator is labelled ``label`` (default: the name's first word) in ratios; a fastpg case is
    compared with the comparators of its group named in ``versus`` (all of them when empty).
    """

    group: str
    name: str
    steps: int
    run: Callable[[], object]
    comparator: bool = False
    threads: int = 1
    label: str = ""
    versus: tuple[str, ...] = ()
    samples: list[float] = field(default_factory=list)  # seconds per step, one per round

    @property
    def key(self) -> str:
        return self.label or self.name.split(" ")[0]
