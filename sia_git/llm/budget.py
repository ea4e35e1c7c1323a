"""The run's dollar budget, shared by every model call of the run (Meta-Agent, Feedback-Agents,
and target agents through the gateway), including calls still in flight.

Before a call, its worst case (the prompt plus `max_tokens` of reply at the model's price) is
reserved; after it, the reservation is replaced by what the call really cost. A call whose worst
case does not fit is never made, so the run stops before the budget is exceeded, not after.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field


class BudgetExhausted(Exception):
    """The next call could exceed the budget; the run stops (and can be resumed with more)."""


@dataclass
class Budget:
    limit_usd: float | None  # None: no limit, costs are still counted
    spent_usd: float = 0.0  # settled, including what the run spent before a resume
    _reserved: float = 0.0
    _lock: threading.Lock = field(default_factory=threading.Lock)
    exhausted: str | None = None  # why the run must stop, once a call was refused

    def reserve(self, worst_case_usd: float) -> float:
        with self._lock:
            if self.exhausted:
                raise BudgetExhausted(self.exhausted)
            if self.limit_usd is not None and (
                self.spent_usd + self._reserved + worst_case_usd > self.limit_usd
            ):
                self.exhausted = (
                    f"budget ${self.limit_usd:.4f} reached: ${self.spent_usd:.4f} spent, "
                    f"${self._reserved:.4f} in flight, and the next call could cost up to "
                    f"${worst_case_usd:.4f}"
                )
                raise BudgetExhausted(self.exhausted)
            self._reserved += worst_case_usd
            return worst_case_usd

    def settle(self, reservation: float, actual_usd: float) -> None:
        with self._lock:
            self._reserved = max(0.0, self._reserved - reservation)
            self.spent_usd += actual_usd
