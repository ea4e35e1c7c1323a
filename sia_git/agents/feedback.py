"""The Feedback-Agent: a tool-using model that reads what earlier generations did (through the
read-only RunView) and edits a copy of the incumbent agent, within a bounded number of turns.

It ends by calling `finish` with a diagnosis, a hypothesis, the change, and the lever it chose
(with its reason). Every way it can go wrong (no tool use, a patch that never applied, a turn
limit, a failed call, a spent budget) ends as a `FeedbackResult` with an error, never as an
exception, so what the conversation cost is always recorded.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sia_git.agents import formats, text_protocol
from sia_git.agents.conversation import Conversation
from sia_git.agents.formats import Session
from sia_git.agents.runview import RunView, ToolError
from sia_git.agents.workspace import Workspace
from sia_git.core.errors import SiaError
from sia_git.llm.client import BudgetExhausted, ChatReply, ModelClient, ModelError
from sia_git.tasks.model_spec import HParams

LEVERS = ("harness", "knobs", "weights")


@dataclass
class Finish:
    subject: str
    diagnosis: str
    hypothesis: str
    change: str
    lever: str
    lever_reason: str
    train: dict[str, Any] | None = None  # LoRA settings, for the weights lever


@dataclass
class FeedbackResult:
    conversation: Conversation
    files: dict[str, bytes] = field(default_factory=dict)  # the edited agent folder
    finish: Finish | None = None
    error: str | None = None
    changed: bool = False
    budget_stopped: bool = False  # the budget refused a call: the run stops after this round


def _fn(
    name: str, description: str, props: dict[str, Any], *, required: list[str]
) -> dict[str, Any]:
    return {
        "type": "function",
        "function": {
            "name": name,
            "description": description,
            "parameters": {"type": "object", "properties": props, "required": required},
        },
    }


_INT = {"type": "integer"}
_STR = {"type": "string"}
_GEN = {"generation": _INT, "candidate": {**_INT, "description": "default: the accepted one"}}


def tool_specs(
    allow_rewrite: bool, levers: tuple[str, ...] = ("harness", "knobs")
) -> list[dict[str, Any]]:
    finish = {
        "subject": {**_STR, "description": "one line for the commit subject"},
        "diagnosis": _STR,
        "hypothesis": _STR,
        "change": _STR,
        "lever": {"type": "string", "enum": list(levers)},
        "lever_reason": _STR,
    }
    if "weights" in levers:
        finish["train"] = {
            "type": "object",
            "description": "LoRA settings for the weights "
            "lever (optional): r, alpha_ratio, dropout, lr, epochs, batch_size, "
            "continue_from_incumbent",
        }
    specs = [
        _fn(
            "list_generations",
            "Every generation and rejected candidate: score, lever, subject, why rejected.",
            {},
            required=[],
        ),
        _fn(
            "show_generation",
            "A generation's commit message, improvement note and diff.",
            _GEN,
            required=["generation"],
        ),
        _fn(
            "diff",
            "Diff of the agent between two generations.",
            {"from_generation": _INT, "to_generation": _INT},
            required=["from_generation", "to_generation"],
        ),
        _fn(
            "eval_summary",
            "Scores, metrics and the failed items (id and status, never the "
            "answer) of a generation on the selection split.",
            _GEN,
            required=["generation"],
        ),
        _fn(
            "gate_report",
            "Gate results and sandbox status of a candidate (why it failed).",
            _GEN,
            required=["generation"],
        ),
        _fn(
            "read_trace",
            "A candidate's traces (stdout.txt, stderr.txt, its trace files, "
            "gateway.jsonl); without `name`, lists them.",
            {**_GEN, "name": _STR},
            required=["generation"],
        ),
        _fn("list_task_files", "The task's public input files.", {}, required=[]),
        _fn(
            "read_task_file",
            "Read a public input file (20,000 characters from `offset`).",
            {"path": _STR, "offset": _INT},
            required=["path"],
        ),
        _fn(
            "read_agent_file",
            "Read a file of the agent you are editing (with your edits).",
            {"path": {**_STR, "description": "default target_agent.py"}},
            required=[],
        ),
        _fn(
            "edit_agent_file",
            "Replace one exact, unique occurrence of `search` with `replace`.",
            {"path": _STR, "search": _STR, "replace": _STR},
            required=["search", "replace"],
        ),
        _fn(
            "finish",
            "End: describe the change and the lever chosen.",
            finish,
            required=["subject", "diagnosis", "hypothesis", "change", "lever", "lever_reason"],
        ),
    ]
    if allow_rewrite:
        specs.insert(
            -1,
            _fn(
                "rewrite_agent_file",
                "Replace a whole agent file (or create one).",
                {"path": _STR, "content": _STR},
                required=["path", "content"],
            ),
        )
    return specs


@dataclass
class FeedbackAgent:
    client: ModelClient
    view: RunView
    turns: int
    allow_rewrite: bool
    levers: tuple[str, ...] = ("harness", "knobs")  # the levers it may choose from
    # tools; text (text_protocol.py) for models without them; probe: tools, and text from the
    # first reply on when it calls none (a model litellm does not know)
    edit_format: str = "tools"

    def run(self, system: str, user: str, files: dict[str, bytes]) -> FeedbackResult:
        convo = Conversation(self.client, "feedback")
        convo.system(system)
        session = Session(
            convo, Workspace.from_bytes(files), FeedbackResult(convo),
            tool_specs(self.allow_rewrite, self.levers),
        )  # fmt: skip
        return formats.get(self.edit_format).drive(self, session, user)

    def ask(
        self, convo: Conversation, specs: list[dict[str, Any]] | None, result: FeedbackResult
    ) -> ChatReply | None:
        """One call; None (with the error recorded) when the conversation must end."""
        try:
            return convo.ask(specs)
        except ModelError as exc:
            result.error = f"model call failed: {exc}"
        except BudgetExhausted as exc:
            result.error, result.budget_stopped = f"budget: {exc}", True
        return None

    def act(
        self, act: text_protocol.Action, ws: Workspace, result: FeedbackResult
    ) -> tuple[str, bool]:
        if act.kind == "finish":
            text, done = self._finish(act.args, ws, result)
            return f"FINISH: {text}", done
        if act.kind == "tool":
            call = {"name": act.name, "arguments": json.dumps(act.args)}
            text, _ = self.dispatch(call, ws, result, text_mode=True)
            return f"TOOL {act.name}:\n{text}", False
        try:
            if act.kind == "edit":
                return ws.edit(act.name, act.search, act.replace), False
            if not self.allow_rewrite and act.name in ws.files:
                return (
                    f"error: FILE {act.name}: whole-file rewrites are off; use SEARCH blocks",
                    False,
                )
            return ws.rewrite(act.name, act.replace), False
        except ToolError as exc:
            return f"error: {exc}", False

    def dispatch(
        self,
        call: dict[str, Any],
        ws: Workspace,
        result: FeedbackResult,
        *,
        text_mode: bool = False,
    ) -> tuple[str, bool]:
        try:
            args = json.loads(call["arguments"] or "{}")
            if not isinstance(args, dict):
                raise ValueError("not an object")
        except ValueError:
            return (
                "error: the arguments are not a JSON object (was the reply cut off?); "
                "call the tool again with smaller arguments",
                False,
            )
        name = call["name"]
        if name == "finish":
            return self._finish(args, ws, result)
        handler = self._handlers(ws).get(name)
        if text_mode and name in ("edit_agent_file", "rewrite_agent_file"):
            handler = None  # edits come as SEARCH/REPLACE or FILE blocks
        if handler is None:
            return f"error: no tool named '{name}'", False
        try:
            return handler(**args), False
        except ToolError as exc:
            return f"error: {exc}", False
        except (TypeError, ValueError) as exc:
            return f"error: bad arguments for {name}: {exc}", False

    def _handlers(self, ws: Workspace) -> dict[str, Callable[..., str]]:
        v = self.view
        handlers: dict[str, Callable[..., str]] = {
            "list_generations": v.list_generations,
            "show_generation": v.show_generation,
            "diff": v.diff,
            "eval_summary": v.eval_summary,
            "gate_report": v.gate_report,
            "read_trace": v.read_trace,
            "list_task_files": v.list_task_files,
            "read_task_file": v.read_task_file,
            "read_agent_file": lambda path="target_agent.py": ws.read(path),
            "edit_agent_file": lambda search, replace, path="target_agent.py": ws.edit(
                path, search, replace
            ),
        }
        if self.allow_rewrite:
            handlers["rewrite_agent_file"] = ws.rewrite
        return handlers

    def _finish(
        self, args: dict[str, Any], ws: Workspace, result: FeedbackResult
    ) -> tuple[str, bool]:
        fields = {
            k: " ".join(str(args.get(k, "")).split())
            if k in ("subject", "lever")
            else str(args.get(k, "")).strip()
            for k in Finish.__dataclass_fields__
            if k != "train"
        }
        missing = [k for k, v in fields.items() if not v]
        if missing or fields["lever"] not in self.levers:
            why = (
                f"missing {', '.join(missing)}"
                if missing
                else f"lever must be one of {', '.join(self.levers)}"
            )
            return f"error: {why}; finish again", False
        train = args.get("train") if fields["lever"] == "weights" else None
        if train is not None:
            try:
                train = HParams.parse(
                    train if isinstance(train, dict) else {"?": train}, "train"
                ).model_dump(exclude_unset=True)
            except SiaError as exc:
                return f"error: {exc}; finish again", False
        result.finish = Finish(**fields, train=train)
        result.changed = ws.changed
        result.files = ws.as_bytes()
        if not ws.changed and fields["lever"] not in ("knobs", "weights"):
            result.error = "finished without changing the agent" + (
                f" (last edit error: {ws.last_error})" if ws.last_error else ""
            )
        return "recorded", True
