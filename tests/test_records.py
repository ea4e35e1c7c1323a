"""Typed records: what is written reads back the same; an older record (fewer fields) and a
newer one (unknown fields) both read; a broken one is one clear error."""

from __future__ import annotations

import json

import pytest

from sia_git.core.errors import SiaError
from sia_git.store.records import AttemptRecord, CandidateRecord, ConfirmRecord, Status, parse


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
