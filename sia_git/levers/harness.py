"""The harness lever: the agent's code, prompts and strategy, changed by a model (the
Feedback-Agent's edits)."""

from __future__ import annotations

from sia_git.levers.base import Lever, Situation


class Harness(Lever):
    needs_model = True

    def unavailable(self, s: Situation) -> str | None:
        if not s.has_model:
            return "needs --model: offline, only the knobs and weights levers can change the agent"
        return None
