"""A run's history as `log`, `show` and pull-request bodies read it: each row's delta is looked
up, never searched for, so a long run's `log` is not quadratic (10,000 generations took 11 s
when every row scanned the branch; bench/ measures it, this test counts the scans)."""

from __future__ import annotations

from sia_git.commands.log import rows
from sia_git.store import history as H
from sia_git.store import trailers as T


class CountingList(list):
    """A list that counts how often it is walked."""

    walks = 0

    def __iter__(self):  # noqa: ANN204
        CountingList.walks += 1
        return super().__iter__()


def generation(gen: int, score: float) -> H.Entry:
    trailers = {
        T.GENERATION: str(gen),
        T.SCORE: f"{score:.4f}",
        T.PARENT: str(gen - 1) if gen > 1 else "",
        T.LEVER: "knobs",
    }
    return H.Entry(f"{gen:040x}", f"gen {gen}", "generation", trailers)


def test_each_rows_delta_is_looked_up_not_searched_for() -> None:
    n = 2_000
    hist = H.RunHistory("r", "b" * 40)
    hist.branch = CountingList(generation(g, g / n) for g in range(1, n + 1))
    CountingList.walks = 0
    table = rows(hist)
    assert len(table) == n
    assert [r["delta"] for r in table[1:4]] == [round(1 / n, 10)] * 3
    assert table[0]["delta"] is None  # the first generation has no parent
    assert CountingList.walks < 10  # a handful of passes, not one per row
    assert hist.generation(1500) is hist.branch[1499]
