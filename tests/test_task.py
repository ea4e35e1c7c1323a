"""Loading tasks: the task.toml layout, SIA's layout, and one clear error per malformed task."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from sia_git.core.errors import SiaError
from sia_git.tasks.task import builtin_tasks, load, resolve

SIA_TASK = Path(__file__).parent / "data" / "sia_task"


def test_builtin_tasks_are_listed_and_load() -> None:
    names = set(builtin_tasks())
    assert {"penguins", "word-sentiment"} <= names
    for name in names:
        task = resolve(name, None)
        assert task.kind == "native"
        assert task.splits == ["dev", "test"]
        assert task.reference_agent.is_file()


def test_sia_layout_is_detected() -> None:
    task = load(SIA_TASK, source=str(SIA_TASK))
    assert task.kind == "sia"
    assert task.public_dir == SIA_TASK / "data" / "public"
    assert task.evaluator == SIA_TASK / "data" / "public" / "evaluate.py"
    assert task.reference_agent.name == "reference_target_agent.py"
    cmd = task.evaluator_command(Path("/out"), "dev", Path("/r.json"))
    assert cmd[-2:] == ["--gen-dir", "/out"]
    # SIA's own limit for an agent run: its agents ask a model about every item.
    assert task.manifest.agent.timeout_s == 3600
    # Its reference agent imports the standard library only, and so may its successors.
    assert task.manifest.agent.packages == []
    assert "the standard library only" in task.notes[0]


def _sia_copy(tmp_path: Path, agent_imports: str) -> Path:
    root = tmp_path / "sia"
    shutil.copytree(SIA_TASK, root)
    ref = root / "reference" / "reference_target_agent.py"
    ref.write_text(agent_imports + ref.read_text())
    return root


def test_a_sia_task_without_requirements_gets_the_packages_its_reference_agent_imports(
    tmp_path: Path,
) -> None:
    # SIA's wheel tasks ship no requirements.txt (its Docker image has everything): the imports,
    # a function-local one included, say what the agent needs.
    root = _sia_copy(
        tmp_path,
        "import openai\nfrom pydantic import BaseModel\n"
        "def later():\n    from google import genai_not_installed\n",
    )
    task = load(root, source=str(root))
    assert task.manifest.agent.packages == ["openai", "pydantic"]
    assert "openai, pydantic" in task.notes[0]
    assert "google.genai_not_installed" in task.notes[1]
    assert "data/task.toml [agent] packages" in task.notes[1]


def test_a_requirements_file_or_the_tasks_own_packages_win_over_the_imports(
    tmp_path: Path,
) -> None:
    root = _sia_copy(tmp_path, "import openai\n")
    (root / "reference" / "requirements.txt").write_text("pandas>=1  # tables\n")
    assert load(root, source=str(root)).manifest.agent.packages == ["pandas>=1"]
    (root / "reference" / "requirements.txt").unlink()
    (root / "data" / "task.toml").write_text('[agent]\npackages = ["*"]\n')
    task = load(root, source=str(root))
    assert task.manifest.agent.packages == ["*"] and task.notes == ()


def _template(tmp_path: Path) -> Path:
    dest = tmp_path / "t"
    shutil.copytree(resolve("penguins", None).root, dest)
    return dest


@pytest.mark.parametrize(
    ("edit", "expected"),
    [
        (lambda t: (t / "task.toml").write_text("name = ["), "task.toml: invalid TOML"),
        (
            lambda t: (t / "task.toml").write_text('name = "x"\ncolour = "red"\n'),
            "task.toml: colour: Extra inputs are not permitted",
        ),
        (
            lambda t: (t / "task.toml").write_text('name = "x"\n[metric]\ndirection = "up"\n'),
            "task.toml: metric.direction",
        ),
        (
            lambda t: (t / "task.toml").write_text('name = "x"\n[agent]\ntimeout_s = -1\n'),
            "task.toml: agent.timeout_s",
        ),
        (
            lambda t: (t / "task.toml").write_text('name = "x"\n[evaluator]\ntimeout_s = 5\n'),
            "task.toml: evaluator: Value error, set exactly one of 'path' or 'builtin'",
        ),
        (lambda t: shutil.rmtree(t / "private"), "missing private answers folder"),
        (lambda t: (t / "public" / "task.md").unlink(), "task.md: missing task description"),
        (lambda t: (t / "reference" / "target_agent.py").unlink(), "missing reference agent"),
    ],
)
def test_malformed_task_names_the_file_and_problem(tmp_path: Path, edit, expected: str) -> None:
    root = _template(tmp_path)
    edit(root)
    with pytest.raises(SiaError) as err:
        load(root, source=str(root))
    assert expected in str(err.value)
    assert "\n" not in str(err.value)


def test_unknown_task_lists_the_builtin_ones() -> None:
    with pytest.raises(SiaError, match="unknown task 'nope' .*penguins"):
        resolve("nope", None)


def test_exactly_one_task_source_is_required(tmp_path: Path) -> None:
    with pytest.raises(SiaError, match="exactly one"):
        resolve(None, None)
    with pytest.raises(SiaError, match="exactly one"):
        resolve("penguins", tmp_path)
