"""A training progress bar (tqdm) on a terminal; silent otherwise."""

from __future__ import annotations

import sys

from tqdm import tqdm


class ProgressBar:
    """Episodes done out of the budget, with the latest batch and evaluation returns.

    ``enabled=None`` shows the bar only when stderr is a terminal; ``total`` 0 means no budget.
    """

    def __init__(self, total: int, done: int, enabled: bool | None):
        show = sys.stderr.isatty() if enabled is None else enabled
        self._bar = tqdm(total=total or None, initial=done, unit="ep", desc="training", disable=not show,
                         leave=False, dynamic_ncols=True)
        self._done = done

    def update(self, done: int, batch_return: float, eval_return: float | None) -> None:
        self._bar.update(done - self._done)
        self._done = done
        if not self._bar.disable:
            self._bar.set_postfix(batch=f"{batch_return:.0f}",
                                  eval="-" if eval_return is None else f"{eval_return:.0f}", refresh=False)

    def close(self) -> None:
        self._bar.close()
