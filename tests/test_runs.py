"""store/runs.py: run.toml read as a typed record; older forms read too; a broken one is one
clear line."""

from __future__ import annotations

import pytest

from sia_git.core.errors import SiaError
from sia_git.store.runs import RUN_TOML_SCHEMA, RunToml
from sia_git.tasks.layout import run_toml
from sia_git.tasks.task import resolve

OLD = """run_id = "p-1"
task_source = "builtin:penguins"
task_name = "penguins"
task_version = "1"

[settings]
max_gen = 3
"""


def test_an_old_run_toml_reads_as_version_1() -> None:
    r = RunToml.parse(OLD, "run.toml")
    assert r.schema_version == 1 and r.run_id == "p-1" and r.task_name == "penguins"
    assert r.answers_digest is None and r.split is None and r.settings == {"max_gen": 3}
    assert r.get("task_source") == "builtin:penguins" and dict(r)["task_version"] == "1"


def test_a_new_run_toml_has_its_schema_answers_and_plan() -> None:
    task = resolve("penguins", None)
    r = RunToml.parse(
        run_toml("p-2", task, {"max_gen": 4, "seed": None}, repo_root=None), "run.toml"
    )
    assert r.schema_version == RUN_TOML_SCHEMA and r.task_source == "builtin:penguins"
    assert r.answers_digest and r.answers_digest.startswith("sha256:")
    assert r.settings == {"max_gen": 4} and r.split and r.split["mode"] == "declared"


def test_unknown_keys_of_a_newer_sia_git_are_kept_and_broken_ones_refused() -> None:
    r = RunToml.parse(OLD + "\n[future]\nx = 1\n", "run.toml")
    assert r["future"] == {"x": 1}
    with pytest.raises(SiaError, match=r"run.toml is invalid TOML"):
        RunToml.parse("run_id = ", "run.toml")
    with pytest.raises(SiaError, match=r"run.toml: \[settings\] must be a table"):
        RunToml.parse('settings = "x"\n', "run.toml")


def test_a_commit_names_a_task_folder_without_this_machines_paths(tmp_path) -> None:  # noqa: ANN001
    import shutil

    from sia_git.tasks.task import load

    outside = tmp_path / "elsewhere" / "my-task"
    shutil.copytree(resolve("penguins", None).root, outside)
    repo = tmp_path / "repo"
    (repo / "tasks").mkdir(parents=True)
    inside = repo / "tasks" / "t"
    shutil.copytree(outside, inside)
    text = run_toml("r", load(outside, str(outside)), {}, repo_root=repo)
    assert str(tmp_path) not in text and 'task_source = "outside:my-task"' in text
    text = run_toml("r", load(inside, str(inside)), {}, repo_root=repo)
    assert 'task_source = "repo:tasks/t"' in text
    local = run_toml("r", load(outside, str(outside)), {}, repo_root=None)
    assert f'task_source = "{outside}"' in local  # this machine's own record keeps it
