"""Edit formats (the EDIT_FORMATS registry, core/extensions.py): how a Feedback-Agent's
conversation goes, turn by turn. `tools`: the model calls tools (read the run, patch files,
finish); `text`: the same tools as a described menu answered in text (text_protocol.py), for
models and servers without tool calls; `probe` (what `auto` gives a model litellm does not
know): tools first, and text from a first reply that calls none. A plugin adds one by
implementing `EditFormat.drive`."""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Any, ClassVar, Protocol

from sia_git.agents import text_protocol
from sia_git.agents.conversation import Conversation
from sia_git.agents.workspace import Workspace
from sia_git.llm.client import ChatReply


class Result(Protocol):
    """How a conversation ended (agents/feedback.py's FeedbackResult)."""

    error: str | None


@dataclass
class Session:
    """One Feedback-Agent's conversation, the agent copy it edits and what it comes to."""

    convo: Conversation
    ws: Workspace
    result: Any  # a Result: agents/feedback.py's FeedbackResult
    specs: list[dict[str, Any]]  # the tools, as the model is offered them


class FeedbackAgent(Protocol):
    """What a format drives (agents/feedback.py's FeedbackAgent)."""

    turns: int
    allow_rewrite: bool

    def ask(
        self, convo: Conversation, specs: list[dict[str, Any]] | None, result: Any
    ) -> ChatReply | None: ...

    def dispatch(self, call: dict[str, Any], ws: Workspace, result: Any) -> tuple[str, bool]: ...

    def act(self, act: text_protocol.Action, ws: Workspace, result: Any) -> tuple[str, bool]: ...


FeedbackResult = Any  # a Result

PROBE = "probe"


class EditFormat(ABC):
    name: ClassVar[str]  # its registry key

    @abstractmethod
    def drive(self, agent: FeedbackAgent, session: Session, user: str) -> FeedbackResult:
        """Hold the conversation (the system prompt is sent) from the user's first message to
        a finish, an error or the agent's turn limit; every ending is in the result."""


def get(name: str) -> EditFormat:
    """The format `name` (a registry key, or `probe`)."""
    if name == PROBE:
        return Tools(probe=True)
    from sia_git.core.extensions import EDIT_FORMATS

    cls: type[EditFormat] = EDIT_FORMATS.get(name)
    cls.name = name
    return cls()


class Text(EditFormat):
    def drive(self, agent: FeedbackAgent, session: Session, user: str) -> FeedbackResult:
        session.convo.user(user + "\n\n" + text_protocol.menu(session.specs, agent.allow_rewrite))
        return run_text(agent, session, agent.turns)


class Tools(EditFormat):
    def __init__(self, probe: bool = False) -> None:
        self.probe = probe  # switch to text when the first reply calls no tool

    def drive(self, agent: FeedbackAgent, session: Session, user: str) -> FeedbackResult:
        convo, ws, result = session.convo, session.ws, session.result
        convo.user(user)
        silent = 0
        for turn in range(agent.turns):
            reply = agent.ask(convo, session.specs, result)
            if reply is None:
                return result
            if not reply.tool_calls:
                if rewrite_in_fence(agent, session, reply.content):
                    return result
                speaks = speaks_text(reply.content)
                if turn == 0 and (speaks or self.probe):
                    # The first reply calls no tool: the model (or its server) has none.
                    convo.events.append("no tool calls: switched to the text edit protocol")
                    convo.user(text_protocol.menu(session.specs, agent.allow_rewrite))
                    pending = reply.content if speaks else None
                    return run_text(agent, session, agent.turns - 1, pending=pending)
                silent += 1
                if silent >= 2:
                    shown = " ".join(reply.content.split())[:160]
                    result.error = "the model does not call the tools" + (
                        f": {shown!r}" if shown else " (empty reply)"
                    )
                    return result
                convo.user(
                    "Your reply was cut off (too long): answer with less text."
                    if reply.finish_reason == "length"
                    else "Use the tools to inspect and edit the agent, and "
                    "call `finish` when the change is made."
                )
                continue
            silent = 0
            for call in reply.tool_calls:
                text, done = agent.dispatch(call, ws, result)
                convo.tool_result(call["id"], text)
                if done:
                    return result
        result.error = f"no `finish` within the {agent.turns}-turn limit" + (
            f" (last edit error: {ws.last_error})" if ws.last_error else ""
        )
        return result


def run_text(
    agent: FeedbackAgent, session: Session, turns: int, *, pending: str | None = None
) -> FeedbackResult:
    """The text protocol's loop: each reply's actions are carried out in order and their
    results sent back; a reply that does not parse gets its error back once."""
    convo, ws, result = session.convo, session.ws, session.result
    unreadable = False
    for _ in range(turns + (pending is not None)):
        if pending is None:
            reply = agent.ask(convo, None, result)
            if reply is None:
                return result
            pending = reply.content if reply.finish_reason != "length" else (
                reply.content + "\n[cut off]")  # fmt: skip
        try:
            actions = text_protocol.parse(pending)
        except text_protocol.ParseError as exc:
            if rewrite_in_fence(agent, session, pending):
                return result
            if unreadable:
                result.error = f"the model's reply did not follow the text protocol: {exc}"
                return result
            unreadable = True
            convo.user(
                f"Your reply could not be read: {exc}. Answer as described above; for "
                f"example:\n\n{text_protocol.EXAMPLE}"
            )
            pending = None
            continue
        unreadable, pending = False, None
        outputs = []
        for act in actions:
            text, done = agent.act(act, ws, result)
            if done:
                return result
            outputs.append(text)
        convo.user("\n\n".join(outputs))
    result.error = f"no FINISH within the {agent.turns}-turn limit" + (
        f" (last edit error: {ws.last_error})" if ws.last_error else ""
    )
    return result


def rewrite_in_fence(agent: FeedbackAgent, session: Session, reply: str) -> bool:
    """A reply that is one fenced, whole Python program, where rewrites are allowed: taken as
    a rewrite of target_agent.py and finished (it still passes the same checks as any edit).
    Whether it was."""
    source = text_protocol.whole_agent(reply)
    if source is None or not agent.allow_rewrite or "harness" not in agent.levers:
        return False
    ws, result = session.ws, session.result
    text = agent.act(text_protocol.Action("file", text_protocol.DEFAULT_PATH, replace=source),
                     ws, result)[0]  # fmt: skip
    if text.startswith("error"):
        return False
    session.convo.events.append("a whole agent in one fence: taken as a rewrite")
    finish = {"subject": "Rewrite target_agent.py (the model answered with a whole agent)",
              "diagnosis": "not stated: the reply was one code block",
              "hypothesis": "not stated", "change": "the whole agent rewritten",
              "lever": "harness", "lever_reason": "a code change"}  # fmt: skip
    return agent.act(text_protocol.Action("finish", args=finish), ws, result)[1]


def speaks_text(content: str) -> bool:
    """Whether a reply without tool calls is written in the text protocol (a model that has no
    tool calls but follows instructions)."""
    try:
        return bool(text_protocol.parse(content or ""))
    except text_protocol.ParseError:
        return False


__all__ = ["PROBE", "EditFormat", "Text", "Tools", "get"]
