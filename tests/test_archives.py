"""evolve/archives.py: what travels through Ray between the driver and the nodes."""

from __future__ import annotations

import zlib
from pathlib import Path

import pytest

from sia_git.core.errors import SiaError
from sia_git.evolve import archives
from sia_git.evolve.archives import MAGIC, pack, unpack


def _archive(*entries: tuple[str, int, bytes]) -> bytes:
    """An archive as a hostile node could send one."""
    body = [MAGIC]
    for name, kind, data in entries:
        encoded = name.encode()
        body += [archives._HEAD.pack(len(encoded), kind, len(data)), encoded, data]
    return zlib.compress(b"".join(body))


def test_a_folder_comes_back_as_it_was_links_left_out(tmp_path: Path) -> None:
    src = tmp_path / "src"
    (src / "work" / "predictions").mkdir(parents=True)
    (src / "work" / "empty").mkdir()
    (src / "work" / "predictions" / "dev.csv").write_text("id,label\n1,a\n")
    (src / "work" / "run.sh").write_text("#!/bin/sh\n")
    (src / "work" / "run.sh").chmod(0o755)
    (src / "stdout").write_bytes(b"\xff\x00binary")
    (src / "work" / "out-link").symlink_to(tmp_path)  # never followed, never sent
    (src / "unsent").write_text("not named")
    data = pack(src, ["work", "stdout", "missing"])
    dest = tmp_path / "dest"
    unpack(data, dest)
    got = sorted(p.relative_to(dest).as_posix() for p in dest.rglob("*"))
    assert got == ["stdout", "work", "work/empty", "work/predictions",
                   "work/predictions/dev.csv", "work/run.sh"]  # fmt: skip
    assert (dest / "stdout").read_bytes() == b"\xff\x00binary"
    assert (dest / "work" / "run.sh").stat().st_mode & 0o777 == 0o755
    assert (dest / "work" / "predictions" / "dev.csv").stat().st_mode & 0o777 == 0o644
    whole = tmp_path / "whole"
    unpack(pack(src / "work", ["."]), whole)
    assert (whole / "predictions" / "dev.csv").read_text() == "id,label\n1,a\n"


@pytest.mark.parametrize("name", ["../escaped", "/etc/x", "a/../../b", ""])
def test_a_name_that_leaves_the_folder_is_refused(tmp_path: Path, name: str) -> None:
    dest = tmp_path / "dest"
    with pytest.raises(SiaError, match="not a path inside its folder"):
        unpack(_archive((name, archives._FILE, b"x")), dest)
    assert not (tmp_path / "escaped").exists() and not (tmp_path / "b").exists()


def test_a_link_already_in_the_folder_does_not_carry_a_file_out(tmp_path: Path) -> None:
    dest, outside = tmp_path / "dest", tmp_path / "outside"
    dest.mkdir()
    outside.mkdir()
    (dest / "work").symlink_to(outside)
    with pytest.raises(SiaError, match="not a path inside its folder"):
        unpack(_archive(("work/x", archives._FILE, b"x")), dest)
    assert list(outside.iterdir()) == []
    with pytest.raises(SiaError, match="cannot be written as 'x/y'"):
        unpack(_archive(("x", archives._FILE, b"a file"), ("x/y", archives._FILE, b"")), dest)
    # A link at a file's own name is not written through either (the file is opened with
    # O_NOFOLLOW), nor one at a folder's name.
    (outside / "kept").write_text("kept")
    (dest / "log").symlink_to(outside / "kept")
    with pytest.raises(SiaError, match="'log': not a path inside its folder"):
        unpack(_archive(("log", archives._FILE, b"overwritten")), dest)
    assert (outside / "kept").read_text() == "kept"
    with pytest.raises(SiaError, match="'work': not a path inside its folder"):
        unpack(_archive(("work", archives._DIR, b"")), dest)


def test_what_sia_git_did_not_make_or_too_much_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with pytest.raises(SiaError, match="not one sia-git made"):
        unpack(zlib.compress(b"PK\x03\x04 a zip"), tmp_path / "d")
    with pytest.raises(SiaError, match="not one sia-git made"):
        unpack(b"not compressed at all", tmp_path / "d")
    with pytest.raises(SiaError, match="cut short"):
        unpack(zlib.compress(MAGIC + archives._HEAD.pack(1, 1, 10) + b"a12"), tmp_path / "d")
    monkeypatch.setattr(archives, "OUTPUT_BYTES", 8)
    (tmp_path / "big").write_bytes(b"x" * 9)
    with pytest.raises(SiaError, match="more than"):
        pack(tmp_path, ["big"])
    with pytest.raises(SiaError, match="too large"):
        unpack(_archive(("big", archives._FILE, b"x" * 64)), tmp_path / "d")
