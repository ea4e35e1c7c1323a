"""The text edit protocol's parser: what a model without tool calls writes, read strictly."""

from __future__ import annotations

import pytest

from sia_git.agents.feedback import tool_specs
from sia_git.agents.text_protocol import ParseError, menu, parse

BLOCK = "target_agent.py\n<<<<<<< SEARCH\nold line\n=======\nnew line\n>>>>>>> REPLACE\n"


def test_tools_edits_files_and_finish_are_read_in_order() -> None:
    reply = (
        'Looking.\nTOOL read_trace {"generation": 2, "name": "stdout.txt"}\n\n```python\n'
        + BLOCK
        + "```\nFILE helpers.py\n```python\nX = 1\n```\n"
        + 'FINISH: {"subject": "s", "lever": "harness"}\ntrailing words'
    )
    acts = parse(reply)
    assert [a.kind for a in acts] == ["tool", "edit", "file", "finish"]
    assert acts[0].name == "read_trace" and acts[0].args == {"generation": 2, "name": "stdout.txt"}
    assert (acts[1].name, acts[1].search, acts[1].replace) == (
        "target_agent.py",
        "old line\n",
        "new line\n",
    )
    assert (acts[2].name, acts[2].replace) == ("helpers.py", "X = 1\n")
    assert acts[3].args == {"subject": "s", "lever": "harness"}


def test_an_edit_without_a_file_name_is_for_the_agent_file() -> None:
    [act] = parse(BLOCK.split("\n", 1)[1])
    assert act.name == "target_agent.py"


@pytest.mark.parametrize(
    ("reply", "message"),
    [
        ("I think the agent is fine.", "no TOOL line"),
        ("TOOL diff {generation: 1}", "one JSON object"),
        ("TOOL diff [1, 2]", "must be a JSON object"),
        ("<<<<<<< SEARCH\nold\n=======\nnew\n", "end with `>>>>>>> REPLACE`"),
        ("FILE a.py\nX = 1\n", "must open a ``` fence"),
        ("FILE a.py\n```python\nX = 1\n", "never closed"),
        ("FINISH the change is done", "followed by a JSON object"),
        ('FINISH {"subject": "s",', "does not parse"),
    ],
)
def test_malformed_replies_say_what_to_fix(reply: str, message: str) -> None:
    with pytest.raises(ParseError, match=message.replace("[", r"\[").replace("`", "`")):
        parse(reply)


def test_the_menu_lists_every_read_tool_and_the_finish_fields() -> None:
    text = menu(tool_specs(False, ("harness", "knobs")), allow_rewrite=False)
    for name in ("list_generations", "show_generation", "read_trace", "read_agent_file"):
        assert f"TOOL {name} " in text
    assert "edit_agent_file" not in text and "FILE path" not in text
    assert '"lever": "harness" | "knobs"' in text and "<<<<<<< SEARCH" in text
    assert "FILE path" in menu(tool_specs(True), allow_rewrite=True)
