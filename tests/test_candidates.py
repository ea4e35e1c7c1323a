"""evolve/candidates.py: an agent run that got nothing from the run's model is said to have,
even when it exits 0 (a hard-coded provider URL the sandbox cannot reach; every call failed)."""

from __future__ import annotations

import json
from pathlib import Path

from sia_git.evolve.candidates import model_calls_hint

GPQA_LIKE = 'client = AsyncOpenAI(api_key=os.getenv("TINKER_API_KEY"), base_url=BASE)\n'


def test_no_call_and_a_provider_url_in_the_code_is_named(tmp_path: Path) -> None:
    source = 'BASE = "https://tinker.thinkingmachines.dev/services/tinker-prod/oai/api/v1"\n'
    hint = model_calls_hint(tmp_path / "none.jsonl", 0, source + GPQA_LIKE)
    assert hint is not None and "made no call to the run's model" in hint
    assert "https://tinker.thinkingmachines.dev/services/tinker-prod/oai/api/v1" in hint
    openai = model_calls_hint(tmp_path / "x", 0, 'OpenAI(base_url="https://api.openai.com/v1")')
    assert openai is not None and "api.openai.com" in openai
    assert model_calls_hint(tmp_path / "x", 0, "print('no model here')\n") is None


def test_every_call_failing_is_named_with_the_first_error(tmp_path: Path) -> None:
    log = tmp_path / "gateway.jsonl"
    rows = [{"call": 1, "status": 502, "error": "server down"}, {"call": 2, "status": 429}]
    log.write_text("".join(json.dumps(r) + "\n" for r in rows))
    hint = model_calls_hint(log, 2, "")
    assert hint == "every one of the agent's 2 model calls failed (first: HTTP 502: server down)"
    log.write_text(log.read_text() + json.dumps({"call": 3, "status": 200}) + "\n")
    assert model_calls_hint(log, 3, "") is None


def test_calls_refused_by_the_cap_name_the_key(tmp_path: Path) -> None:
    log = tmp_path / "gateway.jsonl"
    refused = "call limit reached (2 per run; [agent] max_model_calls)"
    rows = [{"status": 200}, {"status": 200}, {"status": 429, "error": refused}]
    log.write_text("".join(json.dumps(r) + "\n" for r in rows))
    hint = model_calls_hint(log, 3, "")
    assert hint is not None and hint.startswith("1 of the agent's 3 model calls were refused")
    assert "raise [agent] max_model_calls in the task's manifest" in hint


def test_the_call_cap_scales_with_the_task(tmp_path: Path) -> None:
    import shutil

    from sia_git.tasks.task import load, resolve

    assert resolve("penguins", None).max_model_calls == max(200, 4 * 160)  # 80 dev + 80 test
    root = tmp_path / "t"
    shutil.copytree(resolve("penguins", None).root, root)
    toml = root / "task.toml"
    toml.write_text(toml.read_text().replace("[agent]\n", "[agent]\nmax_model_calls = 7\n"))
    assert load(root, str(root)).max_model_calls == 7
