"""settings/: a setting declared once is a config-file key, a recorded key of run.toml and an
`evolve` flag with its help and default; bad values and files are one clear line."""

from __future__ import annotations

from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from sia_git.core.errors import SiaError
from sia_git.settings import EvolveConfig, load
from sia_git.settings.fields import file_keys, recorded_keys, setting
from sia_git.settings.options import options


class Extended(EvolveConfig):
    """What a developer does to add a setting: one field, in one place."""

    patience: int = setting(3, help="Generations without a gain before the run stops.", ge=1)


def _options(model: type[EvolveConfig]) -> dict[str, str]:
    """`--help` of a command made of the model's options: each option's help by its flag."""

    @click.command()
    def cmd(**_: object) -> None: ...

    for option in reversed(options(model)):
        cmd = option(cmd)
    out: dict[str, str] = {}
    flag = ""
    for line in CliRunner().invoke(cmd, ["--help"]).output.splitlines():
        if line.startswith("  --"):
            flag, _, line = line.strip().partition(" ")
            flag = flag.split("/")[0]
        if flag:
            out[flag] = " ".join((out.get(flag, "") + " " + line).split())
    return out


def test_a_setting_added_in_one_place_is_a_flag_a_file_key_and_a_recorded_key() -> None:
    assert "patience" not in file_keys(EvolveConfig)
    assert "patience" in file_keys(Extended) and "patience" in recorded_keys(Extended)
    shown = _options(Extended)["--patience"]
    assert shown == "INTEGER Generations without a gain before the run stops. [3]"
    assert Extended.model_validate({"patience": 5}).patience == 5
    with pytest.raises(ValueError, match="greater than or equal to 1"):
        Extended.model_validate({"patience": 0})


def test_every_flag_is_a_setting_with_its_default_in_the_help() -> None:
    shown = _options(EvolveConfig)
    for flag, default in (("--max-gen", "[8]"), ("--candidates", "[2]"), ("--search", "[auto]"),
                          ("--sandbox", "[bwrap]"), ("--lever", "[auto]")):  # fmt: skip
        assert shown[flag].endswith(default), (flag, shown[flag])
    # Keys a file may set: every setting but this invocation's own.
    assert {"agent", "select_on_test", "name"}.isdisjoint(file_keys(EvolveConfig))
    assert {"edit_format", "search", "lever", "executor"} <= file_keys(EvolveConfig)


def test_a_config_file_that_is_not_utf8_is_one_line(tmp_path: Path) -> None:
    (tmp_path / "sia-git.toml").write_bytes(b"max_gen = 3\n# caf\xe9\n")
    with pytest.raises(SiaError, match="sia-git.toml: not UTF-8 text; save it as UTF-8"):
        load(tmp_path, {})


def test_an_unknown_registry_name_in_a_file_names_the_known_ones(tmp_path: Path) -> None:
    (tmp_path / "sia-git.toml").write_text('search = "annealing"\n')
    known = r"search: unknown search strategy \(known: auto, tpe, screen, random"
    with pytest.raises(SiaError, match=known):
        load(tmp_path, {})
