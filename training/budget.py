"""The wall-clock budget of a training run (`--time_budget_min`).

After a warm-up it times some iterations and fixes the total so that the whole run, LR decay
included, ends inside the budget. The machine's load changes after that (other jobs on a shared
CPU), so it re-times every BUDGET_RECHECK_S and refits the total: shorter whenever the run would
overrun, longer only while the LR is still constant (so it never jumps back up), or once after a
resume on a new budget.
"""
from __future__ import annotations

import time
from typing import Callable, Optional, Tuple

from training import config as C

BUDGET_RECHECK_S = 120.0  # how often a budgeted run re-times itself


def iterations_that_fit(step: int, rate: float, elapsed_s: float, budget_s: float, safety: float) -> int:
    """The total iteration count that ends a run now at `step`, going at `rate` it/s, inside the budget
    (keeping back 2 s + 3 % for the final save); at least one more step, so the LR still decays to 0."""
    remaining = budget_s - elapsed_s - (2.0 + 0.03 * budget_s)
    return step + max(1, int(rate * remaining * safety))


class WallClockBudget:
    def __init__(self, cfg: C.Config, start_step: int, t_start: float, wall_before: float,
                 iters_per_epoch: float, sync: Callable[[], None] = lambda: None):
        self.cfg, self.start_step, self.t_start, self.wall_before = cfg, start_step, t_start, wall_before
        self.iters_per_epoch, self.sync = iters_per_epoch, sync
        self.budget_s = cfg.time_budget_min * 60.0
        self.measure_s = min(cfg.budget_measure_s, 0.1 * self.budget_s)
        self.t_measure: Optional[float] = None
        self.step_measure = start_step
        self.t_check: Optional[float] = None
        self.step_check = start_step
        self.refit = cfg.resume and self.budget_s > 0

    @property
    def active(self) -> bool:
        return self.budget_s > 0

    def update(self, step: int, total: Optional[int]) -> Tuple[Optional[int], str]:
        """(the total after `step`, None while still measuring; a line to print when it changed, else '')."""
        if total is None:
            return self._measure(step)
        if self.t_check is None:
            self.t_check, self.step_check = time.time(), step
            return total, ''
        if time.time() - self.t_check < BUDGET_RECHECK_S:
            return total, ''
        now = time.time()
        rate = (step - self.step_check) / (now - self.t_check)
        fits = iterations_that_fit(step, rate, self.wall_before + now - self.t_start, self.budget_s, self.cfg.budget_safety)
        refit, self.refit = self.refit, False
        self.t_check, self.step_check = now, step
        if fits < total or (fits > total and (refit or step < self.cfg.decay_start * total)):
            return fits, f'time budget: now {rate:.2f} it/s -> total {total} changed to {fits} iterations'
        return total, ''

    def _measure(self, step: int) -> Tuple[Optional[int], str]:
        warm = step - self.start_step >= self.cfg.budget_warmup_iters or time.time() - self.t_start > 0.25 * self.budget_s
        if self.t_measure is None:
            if warm:
                self.sync()
                self.t_measure, self.step_measure = time.time(), step
            return None, ''
        if step - self.step_measure < 3 or time.time() - self.t_measure < self.measure_s:
            return None, ''
        self.sync()
        now = time.time()
        rate = (step - self.step_measure) / (now - self.t_measure)
        total = iterations_that_fit(step, rate, now - self.t_start, self.budget_s, self.cfg.budget_safety)
        self.t_check, self.step_check = now, step
        return total, (f'time budget {self.cfg.time_budget_min} min: {rate:.2f} it/s measured, '
                       f'{now - self.t_start:.0f} s used -> total {total} iterations '
                       f'({total / self.iters_per_epoch:.1f} epochs)')
