"""Configuration: flags over sia-git.toml over [tool.sia-git]; every key and value checked."""

from __future__ import annotations

from pathlib import Path

import pytest

from sia_git.core.errors import SiaError
from sia_git.settings import load


def test_defaults(tmp_path: Path) -> None:
    cfg = load(tmp_path, {})
    assert (cfg.max_gen, cfg.candidates, cfg.sandbox, cfg.confirm_runs) == (8, 2, "bwrap", 1)


def test_precedence_flags_then_own_file_then_pyproject(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text(
        "[tool.sia-git]\nmax-gen = 3\ncandidates = 4\nseed = 9\n"
    )
    (tmp_path / "sia-git.toml").write_text("candidates = 5\n")
    cfg = load(tmp_path, {"seed": 11, "max_gen": None})
    assert (cfg.max_gen, cfg.candidates, cfg.seed) == (3, 5, 11)


def test_recorded_run_settings_sit_between_files_and_flags(tmp_path: Path) -> None:
    (tmp_path / "sia-git.toml").write_text("candidates = 5\nmax_gen = 4\n")
    cfg = load(tmp_path, {"max_gen": 7}, recorded={"candidates": 3, "max_gen": 6})
    assert (cfg.candidates, cfg.max_gen) == (3, 7)


@pytest.mark.parametrize(
    ("file", "text", "expected"),
    [
        ("sia-git.toml", "max_gens = 3\n", "sia-git.toml: max_gens: unknown key"),
        (
            "pyproject.toml",
            "[tool.sia-git]\nsandbox = 'vm'\n",
            "pyproject.toml [tool.sia-git]: sandbox: unknown sandbox backend (known: bwrap, "
            "unshare, docker, none) (got 'vm')",
        ),
        ("sia-git.toml", "candidates = 0\n", "sia-git.toml: candidates: Input should be greater"),
        ("sia-git.toml", "candidates = [\n", "sia-git.toml: invalid TOML"),
        ("pyproject.toml", "[tool]\nsia-git = 3\n", "must be a table"),
    ],
)
def test_bad_file_config_names_the_key(tmp_path: Path, file: str, text: str, expected: str) -> None:
    (tmp_path / file).write_text(text)
    with pytest.raises(SiaError) as err:
        load(tmp_path, {})
    assert expected in str(err.value)


def test_bad_flag_names_the_flag(tmp_path: Path) -> None:
    with pytest.raises(SiaError, match="command line: --max-gen: .*greater than or equal to 1"):
        load(tmp_path, {"max_gen": 0})


def test_pyproject_without_our_table_is_fine(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text('[project]\nname = "x"\n')
    assert load(tmp_path, {}).max_gen == 8
