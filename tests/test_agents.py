"""The Meta- and Feedback-Agents' parts that need no server: reading code out of a reply,
checking it against the contract, patching files, the read-only run view, tool dispatch."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from sia_git.agents.feedback import FeedbackAgent, FeedbackResult
from sia_git.agents.meta import check_source, extract_code, write_first_agent
from sia_git.agents.runview import RunView, ToolError
from sia_git.agents.workspace import Workspace
from sia_git.llm.budget import Budget
from sia_git.llm.client import ModelClient
from sia_git.llm.profiles import ModelProfile
from sia_git.tasks.task import resolve
from tests.fakellm import FakeLLM, code_reply, text

GOOD = (
    "import argparse\np = argparse.ArgumentParser()\np.add_argument('--dataset_dir')\n"
    "p.add_argument('--working_dir')\n"
)


def test_code_is_taken_from_the_fenced_block() -> None:
    assert extract_code(f"Here:\n```python\n{GOOD}```\nDone.", "stop") == (GOOD, None)
    assert extract_code("I can't do that.", "stop")[1].startswith("the reply has no ```python")
    assert "cut off" in extract_code(f"```python\n{GOOD[:30]}", "length")[1]
    assert extract_code("", "stop")[1] == "the reply was empty"


def test_the_contract_is_checked_before_anything_runs() -> None:
    assert check_source(GOOD) is None
    assert "does not parse: line 1" in check_source("def f(:\n")
    assert "--working_dir" in check_source("import argparse\nx = '--dataset_dir'\n")


def test_meta_agent_retries_with_the_error_a_bounded_number_of_times(tmp_path: Path) -> None:
    task = resolve("penguins", None)
    replies = [text("no code here"), code_reply("def f(:\n"), code_reply(GOOD)]
    tried: list[str] = []

    def trial(source: str) -> tuple[str | None, object]:
        tried.append(source)
        return None, "ran"

    with FakeLLM(lambda body, n: replies[n]) as llm:
        c = ModelClient(
            ModelProfile(model="openai/gpt-4o-mini", api_base=llm.api_base), Budget(None)
        )
        ok = write_first_agent(c, task, task.public_dir, retries=2, gateway=False, trial=trial)
        assert ok.source == GOOD and ok.payload == "ran" and tried == [GOOD]
        errors = [m["content"] for m in llm.requests[2]["messages"] if m["role"] == "user"][1:]
        assert "no ```python code block" in errors[0] and "does not parse" in errors[1]
    with FakeLLM(lambda body, n: text("never code")) as llm:
        c = ModelClient(
            ModelProfile(model="openai/gpt-4o-mini", api_base=llm.api_base), Budget(None)
        )
        failed = write_first_agent(c, task, task.public_dir, retries=1, gateway=False, trial=trial)
        assert failed.source is None and "no ```python" in (failed.error or "")
        assert len(llm.requests) == 2


def test_edits_must_match_exactly_once() -> None:
    ws = Workspace({"target_agent.py": "a = 1\nb = 1\n"})
    with pytest.raises(ToolError, match="not found"):
        ws.edit("target_agent.py", "c = 1", "c = 2")
    with pytest.raises(ToolError, match="occurs 2 times"):
        ws.edit("target_agent.py", " = 1", " = 2")
    with pytest.raises(ToolError, match="no agent file"):
        ws.edit("other.py", "a", "b")
    assert ws.last_error and not ws.changed
    ws.edit("target_agent.py", "b = 1", "b = 2")
    assert ws.files["target_agent.py"] == "a = 1\nb = 2\n" and ws.changed
    assert ws.last_error is None
    with pytest.raises(ToolError, match="relative path"):
        ws.rewrite("../escape.py", "x")


def _view(tmp_path: Path, record: dict) -> RunView:
    """A RunView over a stand-in repo object serving one attempt record."""

    class Repo:
        def read_file(self, rev: str, path: str) -> str | None:
            return json.dumps(record) if path == "attempt.json" else None

        def list_files(self, rev: str, prefix: str) -> list[str]:
            return [f"{prefix}stdout.txt"]

    from sia_git.store.history import RunHistory

    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "train.csv").write_text("id,x\n1,2\n")
    return RunView(Repo(), "r", RunHistory("r", None), tmp_path / "data", "dev")  # type: ignore[arg-type]


def test_eval_summary_is_gold_free_and_shows_the_selection_split_only(tmp_path: Path) -> None:
    record = {
        "accepted": 1,
        "candidates": [
            {
                "candidate": 1,
                "status": "ok",
                "scores": {"dev": 0.5, "test": 0.9},
                "metrics": {"dev": {"accuracy": 0.5}, "test": {"accuracy": 0.9}},
                "items": {
                    "dev": [
                        {"id": "P1", "status": "wrong", "expected": "male"},
                        {"id": "P2", "status": "correct"},
                    ],
                    "test": [{"id": "T9", "status": "wrong"}],
                },
            }
        ],
    }
    shown = _view(tmp_path, record).eval_summary(2)
    assert "P1: wrong" in shown and "dev score: 0.5" in shown
    assert "male" not in shown and "T9" not in shown and "0.9" not in shown


def test_public_files_only(tmp_path: Path) -> None:
    view = _view(tmp_path, {})
    assert "train.csv (9 bytes)" in view.list_task_files()
    assert view.read_task_file("train.csv").startswith("id,x")
    for bad in ("../secret", "/etc/passwd", "nope.csv"):
        with pytest.raises(ToolError):
            view.read_task_file(bad)


def test_bad_tool_calls_go_back_to_the_model_as_errors(tmp_path: Path) -> None:
    agent = FeedbackAgent(None, _view(tmp_path, {}), 4, False)  # type: ignore[arg-type]
    ws = Workspace({"target_agent.py": "x = 1\n"})
    result = FeedbackResult(None)  # type: ignore[arg-type]

    def call(name: str, args: str) -> str:
        return agent.dispatch({"id": "1", "name": name, "arguments": args}, ws, result)[0]

    assert "not a JSON object" in call("read_agent_file", '{"path": "tar')
    assert "no tool named 'rm'" in call("rm", "{}")
    assert "bad arguments" in call("read_task_file", '{"nope": 1}')
    assert "no tool named 'rewrite_agent_file'" in call(
        "rewrite_agent_file", '{"path": "a.py", "content": ""}'
    )
    assert "lever must be one of" in call(
        "finish",
        json.dumps(
            {
                k: "x"
                for k in ("subject", "diagnosis", "hypothesis", "change", "lever", "lever_reason")
            }
        ),
    )
    assert result.finish is None


def test_text_protocol_errors_go_back_once_then_the_candidate_fails(tmp_path: Path) -> None:
    """A reply that does not follow the text protocol gets its parse error back once; a second
    one in a row ends the candidate with the reason, and the cost stays recorded."""
    replies = ["I would change the model.", "Still no format.", "never reached"]
    with FakeLLM(lambda body, n: text(replies[n])) as llm:
        c = ModelClient(ModelProfile(model="openai/local", api_base=llm.api_base), Budget(None))
        agent = FeedbackAgent(c, _view(tmp_path, {}), 6, False, edit_format="text")
        result = agent.run("system", "user", {"target_agent.py": b"x = 1\n"})
        assert len(llm.requests) == 2
        sent_back = llm.requests[1]["messages"][-1]["content"]
    assert sent_back.startswith("Your reply could not be read: no TOOL line")
    assert result.error and "did not follow the text protocol" in result.error
    assert result.conversation.calls == 2


def test_a_first_reply_in_the_text_protocol_switches_a_tools_run_to_it(tmp_path: Path) -> None:
    """A model offered tools that answers in the text protocol (no tool support on its server):
    the reply is taken as it is and the run goes on in text."""
    edit = "<<<<<<< SEARCH\nx = 1\n=======\nx = 2\n>>>>>>> REPLACE\n"
    fin = ('FINISH {"subject": "s", "diagnosis": "d", "hypothesis": "h", "change": "c", '
           '"lever": "harness", "lever_reason": "r"}')  # fmt: skip
    with FakeLLM(lambda body, n: text(edit + fin)) as llm:
        c = ModelClient(ModelProfile(model="openai/gpt-4o-mini", api_base=llm.api_base),
                        Budget(None))  # fmt: skip
        agent = FeedbackAgent(c, _view(tmp_path, {}), 6, False)
        result = agent.run("system", "user", {"target_agent.py": b"x = 1\n"})
    assert result.error is None and result.changed
    assert result.files["target_agent.py"] == b"x = 2\n"
    assert "switched to the text edit protocol" in result.conversation.events[0]


def test_prompts_are_fitted_to_a_small_context_and_the_cuts_are_recorded() -> None:
    """An 8k-context model is never sent more than it takes: older messages are cut from the
    middle first (the system prompt and the newest last), the reply gets at most a third of the
    window, and the transcript says what was cut."""
    from sia_git.agents.conversation import Conversation
    from sia_git.llm.client import count_tokens

    window = 2048
    with FakeLLM(lambda body, n: text("ok")) as llm:
        profile = ModelProfile(model="openai/local", api_base=llm.api_base, context_window=window)
        convo = Conversation(ModelClient(profile, Budget(None)), "feedback")
        convo.system("You are the Feedback-Agent.")
        convo.user("The task: " + "describe " * 200)
        for i in range(4):
            convo.user(f"trace {i}: " + " ".join(f"line{i}-{k}" for k in range(1500)))
        convo.user("the newest result")
        convo.ask()
        sent = llm.requests[0]
    assert sent["max_tokens"] <= window // 3
    assert count_tokens("openai/local", sent["messages"]) + sent["max_tokens"] <= window
    assert sent["messages"][0]["content"] == "You are the Feedback-Agent."
    assert sent["messages"][-1]["content"] == "the newest result"
    assert "characters cut" in sent["messages"][2]["content"]
    events = json.loads(convo.transcript("x"))["events"]
    assert any("to fit the 2048-token context" in e for e in events)
