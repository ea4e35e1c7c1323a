"""Typed records: what is written reads back the same; an older record (fewer fields) and a
newer one (unknown fields) both read; a broken one is one clear error."""

from __future__ import annotations

import json

import pytest

from sia_git.core.errors import SiaError
from sia_git.store.records import (
    AttemptRecord,
    CandidateRecord,
    ConfirmRecord,
    Status,
    StopRecord,
    parse,
)


def test_an_attempt_record_round_trips_with_its_schema_version() -> None:
    rec = AttemptRecord(
        run="r",
        generation=3,
        incumbent_score=0.5,
        accepted=1,
        candidates=[
            CandidateRecord(
                candidate=1,
                status=Status.OK,
                scores={"dev": 0.7, "test": 0.6},
                items={"dev": [{"id": "a", "status": "wrong"}]},
                cost_usd=0.25,
            ),
            CandidateRecord(candidate=2, status=Status.GATE_FAILED, cost_usd=0.5),
        ],
    )
    data = json.loads(rec.dumps())
    assert data["schema_version"] == 1 and data["candidates"][1]["status"] == "gate-failed"
    back = parse(AttemptRecord, rec.dumps().decode(), "x")
    assert back == rec and back.cost_usd == 0.75
    assert back.candidate(1).failed() == {"dev": [{"id": "a", "status": "wrong"}]}


def test_older_and_newer_records_read() -> None:
    older = {"run": "r", "generation": 2, "candidates": [{"candidate": 1, "status": "ok"}]}
    rec = parse(AttemptRecord, json.dumps(older), "x")
    assert rec.schema_version == 1 and rec.candidates[0].scores == {}
    newer = {
        **older,
        "schema_version": 2,
        "novel": {"k": 1},
        "candidates": [{"candidate": 1, "status": "a-status-from-later", "extra": 5}],
    }
    rec = parse(AttemptRecord, json.dumps(newer), "x")
    assert rec.model_dump()["novel"] == {"k": 1} and rec.candidates[0].status == (
        "a-status-from-later"
    )


def test_a_broken_record_is_one_line_naming_it() -> None:
    with pytest.raises(SiaError, match=r"refs/sia/r/confirmed/g0002:confirm.json: .*mean"):
        parse(
            ConfirmRecord,
            json.dumps({"generation": 2, "commit": "c", "scores": []}),
            "refs/sia/r/confirmed/g0002:confirm.json",
        )


def test_the_record_files_and_statuses_are_the_documented_names() -> None:
    from sia_git.store import records

    assert (records.ATTEMPT_FILE, records.CONFIRM_FILE, records.STOP_FILE) == (
        "attempt.json", "confirm.json", "stop.json",
    )  # fmt: skip
    assert [s.value for s in Status] == [
        "ok", "model-failed", "budget-stopped", "gate-failed", "train-failed", "crashed",
        "timed-out", "eval-failed",
    ]  # fmt: skip


def test_a_minimal_candidate_reads_with_its_defaults() -> None:
    c = CandidateRecord(candidate=1)
    assert (c.status, c.lever, c.reason, c.subject, c.verdict) == ("ok", "harness", "", "", "")
    assert (c.dropped_outputs_count, c.traces_dropped, c.gateway_calls, c.cost_usd) == (
        0,
        0,
        0,
        0.0,
    )
    assert c.items == {} and c.scores == {} and c.commit is None
    c = CandidateRecord(candidate=1, items={"dev": [{"id": "a", "status": "correct"},
                                                    {"id": "b", "status": "wrong"},
                                                    {"id": "c"}]})  # fmt: skip
    assert c.failed() == {"dev": [{"id": "b", "status": "wrong"}, {"id": "c"}]}
    a = AttemptRecord()
    assert (a.run, a.generation, a.select_split, a.accepted, a.incumbent_score) == (
        "", 0, "dev", None, None,
    )  # fmt: skip
    assert a.candidate(1) is None and a.cost_usd == 0.0 and a.schema_version == 1
    assert ConfirmRecord(generation=1, commit="x", scores=[], mean=0.0).cost_usd == 0.0
    stop = StopRecord(run="r", generation=1, kind="budget", reason="spent")
    assert (stop.spent_usd, stop.budget_usd) == (0.0, None)


def test_a_record_is_read_from_its_ref_and_its_cost_summed(tmp_path) -> None:  # noqa: ANN001
    from sia_git.gitrepo import open_repo
    from sia_git.store import records, refs
    from tests.conftest import make_repo

    repo = open_repo(make_repo(tmp_path / "r"))
    cands = [
        CandidateRecord(candidate=1, cost_usd=0.25),
        CandidateRecord(candidate=2, cost_usd=0.5),
    ]
    attempt = AttemptRecord(run="r", generation=2, candidates=cands)
    confirm = ConfirmRecord(generation=2, commit="x", scores=[0.5], mean=0.5, cost_usd=0.125)
    for ref, name, rec in ((refs.attempts("r", 2), records.ATTEMPT_FILE, attempt),
                           (refs.confirmed("r", 2), records.CONFIRM_FILE, confirm)):  # fmt: skip
        sha = repo.commit(repo.make_tree(None, {name: rec.dumps()}), [], "record")
        repo.update_refs([(ref, sha, None)])
    got = records.read_attempt(repo, "r", 2)
    assert got is not None and got.candidate(2) is not None and got.cost_usd == 0.75
    assert records.read_attempt(repo, "r", 3) is None and records.read_confirm(repo, "r", 3) is None
    assert records.record_cost(repo, refs.attempts("r", 2)) == 0.75
    assert records.record_cost(repo, refs.confirmed("r", 2)) == 0.125
    assert records.record_cost(repo, refs.attempts("r", 9)) == 0.0
    assert records.record_cost(repo, refs.confirmed("r", 9)) == 0.0
    assert records.record_cost(repo, refs.base("r")) == 0.0
    assert records.record_cost(repo, "refs/heads/main") == 0.0
    head = repo.rev_parse("HEAD") or ""
    assert records.read_note(repo, head) is None
    repo.add_note(head, "a note a person wrote")
    assert records.read_note(repo, head) is None  # not sia-git's: passed over
    note = records.CandidateNote(candidate=2, run="r", generation=3, cost_usd=0.5)
    repo.add_note(head, note.model_dump_json())
    assert records.read_note(repo, head) == note
    broken = refs.attempts("r", 4)  # a record that does not read names its ref, file and key
    bad = b'{"candidates": [{"candidate": "x"}]}'
    sha = repo.commit(repo.make_tree(None, {records.ATTEMPT_FILE: bad}), [], "record")
    repo.update_refs([(broken, sha, None)])
    with pytest.raises(
        SiaError, match=f"^{broken}:{records.ATTEMPT_FILE}: .*candidates.0.candidate"
    ):
        records.read_attempt(repo, "r", 4)
    sha = repo.commit(repo.make_tree(None, {records.CONFIRM_FILE: b"{}"}), [], "record")
    repo.update_refs([(refs.confirmed("r", 4), sha, None)])
    with pytest.raises(SiaError, match=f"^{refs.confirmed('r', 4)}:{records.CONFIRM_FILE}: "):
        records.read_confirm(repo, "r", 4)


def test_a_record_is_indented_json_and_a_broken_one_names_its_key() -> None:
    text = StopRecord(run="r", generation=2, kind="budget", reason="spent").dumps()
    assert text.startswith(b'{\n "schema_version": 1,\n "run": "r"')
    with pytest.raises(SiaError) as err:
        parse(StopRecord, '{"run": "r"}', "where")
    assert str(err.value) == "where: a record sia-git cannot read (generation: Field required)"
    with pytest.raises(SiaError) as err:
        parse(StopRecord, "[1]", "where")
    assert str(err.value).startswith("where: a record sia-git cannot read ((top level): ")
