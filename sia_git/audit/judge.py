"""Judge the (sealed id, value) pairs of each slot (pairs.py) against the gold answers.

A slot is a leak when

- its values are the items' secret gold values for nearly all of its items (95%), and that
  many hits are far beyond a guess (a binomial tail under 1%, a guess hitting as often as the
  commonest value, or one in four); or one value is a secret that only that item has and no
  public text holds (a long free-text answer);
- three or more items are paired with status words (ok, ko, pass, ...) that are not the
  task's own labels;
- ten or more items are paired with a few short tokens that map one-to-one onto the gold
  values (a code for the labels), as often as above.

A stored submission that gets nearly every sealed item right is reported too: a clone then
holds the labels, whoever wrote them.
"""

from __future__ import annotations

from collections import Counter

from sia_git.audit.knowledge import Knowledge, norm
from sia_git.audit.pairs import Channels, describe
from sia_git.audit.stats import ALPHA, tail

AGREEMENT = 0.95
MIN_PAIRS = 3
MIN_CODED = 10
MAX_CODES = 5
STATUS = frozenset(
    [
        "ok",
        "ko",
        "correct",
        "incorrect",
        "wrong",
        "right",
        "pass",
        "passed",
        "fail",
        "failed",
        "yes",
        "no",
        "true",
        "false",
        "good",
        "bad",
        "hit",
        "miss",
        "solved",
        "unsolved",
        "missing",
        "invalid",
        "success",
        "failure",
        "✓",
        "✗",
        "✔",
        "✘",
    ]
)
LOOSE = frozenset({"yes", "no", "true", "false"})  # statuses only under a status-like key
LINK_KEYS = frozenset(
    {
        "status",
        "score",
        "correct",
        "is_correct",
        "passed",
        "result",
        "reward",
        "gold",
        "expected",
        "answer_key",
        "truth",
        "ground_truth",
        "correct_answer",
        "gold_label",
        "target",
    }
)


def judge(channels: Channels, know: Knowledge) -> list[str]:
    """One line per kind of leak and field found (the first slot that shows it)."""
    found: dict[tuple[str, str], str] = {}
    for channel, pairs in channels.items():
        got = {i: norm(v) for i, v in pairs.items() if i in know.secret}
        if not got:
            continue
        for key, line in _gold(got, know) or _status(channel, got, know) or _coded(got, know):
            found.setdefault(key, f"{line} {describe(channel)}")
    return list(found.values())


def _fields(got: dict[str, str], know: Knowledge) -> list[str]:
    return sorted({f for i in got for f in know.secret[i]})


def _gold(got: dict[str, str], know: Knowledge) -> list[tuple[tuple[str, str], str]]:
    out = []
    for f in _fields(got, know):
        have = [i for i in got if f in know.secret[i]]
        hits = [i for i in have if know.secret[i][f] == got[i]]
        unique = [i for i in hits if (i, got[i]) in know.distinct]
        strong = (
            len(hits) >= MIN_PAIRS
            and len(hits) >= AGREEMENT * len(have)
            and tail(len(hits), len(have), know.chance[f]) <= ALPHA
        )
        if strong or unique:
            named = f" ({hits[0]}: '{got[hits[0]][:40]}')" if len(hits) == 1 else ""
            out.append(
                (
                    ("gold", f),
                    f"pairs {len(hits)} sealed test item(s) with their gold '{f}'{named} "
                    f"({len(hits)} of {len(have)} agree)",
                )
            )
    return out


def _status(
    channel: str, got: dict[str, str], know: Knowledge
) -> list[tuple[tuple[str, str], str]]:
    keyed = channel.startswith("json.") and channel[5:].lower() in LINK_KEYS
    words = STATUS if keyed or not channel.startswith("json") else STATUS - LOOSE
    marks = {
        i: v
        for i, v in got.items()
        if v in words and v not in know.vocab and (i, v) not in know.public_pairs
    }
    if len(marks) < MIN_PAIRS:
        return []
    shown = ", ".join(f"'{w}'" for w in sorted(set(marks.values()))[:4])
    return [(("status", ""), f"links {len(marks)} sealed test items to status words ({shown})")]


def _coded(got: dict[str, str], know: Knowledge) -> list[tuple[tuple[str, str], str]]:
    got = {i: v for i, v in got.items() if (i, v) not in know.public_pairs and len(v) <= 12}
    codes = set(got.values())
    if len(got) < MIN_CODED or not 2 <= len(codes) <= MAX_CODES:
        return []
    out = []
    for f in _fields(got, know):
        have = [i for i in got if f in know.secret[i]]
        table = {c: Counter(know.secret[i][f] for i in have if got[i] == c) for c in codes}
        mapping = {c: n.most_common(1)[0][0] for c, n in table.items() if n}
        hits = sum(table[c][g] for c, g in mapping.items())
        if (
            len(set(mapping.values())) >= 2
            and hits >= AGREEMENT * len(have)
            and tail(hits, len(have), know.chance[f]) <= ALPHA
        ):
            shown = ", ".join(f"{c}={g}" for c, g in sorted(mapping.items())[:4])
            out.append(
                (
                    ("coded", f),
                    f"pairs {len(have)} sealed test items with tokens that encode their gold "
                    f"'{f}' ({shown}; {hits} of {len(have)} agree)",
                )
            )
    return out
