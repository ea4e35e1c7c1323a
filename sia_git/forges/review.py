"""Generations as pull requests: one per accepted generation (head `sia/<run>-g<N>`, into the
run branch as it was before it) or one per run (head the run branch, into `review_base`), with a
body showing the score table, the improvement note, gates, cost and lever; updated as the run
goes on, and commented on when a generation is reverted."""

from __future__ import annotations

from collections.abc import Callable

from sia_git.core.errors import SiaError
from sia_git.forges import Forge, Review
from sia_git.gitrepo import Repo
from sia_git.store import evidence, refs
from sia_git.store import history as H
from sia_git.store import trailers as T
from sia_git.store.runs import read_notes

Say = Callable[[str], None]


def gen_branch(run_id: str, gen: int) -> str:
    """A generation's review branch: beside the run branch, not under it (git cannot have both
    `sia/R` and `sia/R/x`), and still matching `sia/*` for CI."""
    return refs.review_branch(run_id, gen)


def _fmt(v: float | None, signed: bool = False) -> str:
    return "-" if v is None else (f"{v:+.4f}" if signed else f"{v:.4f}")


def score_table(hist: H.RunHistory) -> str:
    rows = []
    for e in hist.branch:
        if e.kind == "generation":
            delta = hist.delta(e)  # the same delta `sia-git log` prints
            rows.append(
                f"| {e.gen} | `{e.sha[:10]}` | {e.trailers.get(T.LEVER, '-')} | "
                f"{_fmt(e.score)} | {_fmt(delta, True)} | {e.status} | "
                f"${e.cost:.4f} |"
            )
        elif e.kind == "revert":
            rows.append(
                f"| revert | `{e.sha[:10]}` | - | {_fmt(e.score)} | | reverts "
                f"`{(e.reverts or '')[:10]}` | |"
            )
    return (
        "| gen | commit | lever | score | delta | status | cost |\n"
        "|---|---|---|---|---|---|---|\n" + "\n".join(rows)
    )


def hist_select(trailers: dict[str, str]) -> str:
    """The selection split a generation was scored on, as its Sia-Metric says (dev)."""
    return "dev" if "SELECTED ON THE TEST" not in trailers.get(T.METRIC, "") else "test"


def body(repo: Repo, hist: H.RunHistory, entry: H.Entry) -> str:
    t = entry.trailers
    note = read_notes(repo, [entry]).get(entry.sha) or "(no improvement note)"
    return (
        f"sia-git run `{hist.run_id}`, generation {entry.gen} — {t.get(T.METRIC, '')}\n\n"
        f"{score_table(hist)}\n\n"
        + (
            f"**Gain over generation {T.parents(t.get(T.PARENT))[0]} on "
            f"{hist_select(t)}, item by item (95% interval):** {proof.says()}  \n"
            if (proof := evidence.parse(t.get(T.EVIDENCE))) and T.parents(t.get(T.PARENT))
            else ""
        )
        + f"**Lever:** {t.get(T.LEVER, '-')}"
        + (f" — {t[T.LEVER_REASON]}" if T.LEVER_REASON in t else "")
        + f"  \n**Gates:** {t.get(T.GATES, '-')}  \n**Cost:** ${entry.cost:.6f}"
        + (f"  \n**Adapter:** `{t[T.ADAPTER]}`" if T.ADAPTER in t else "")
        + f"\n\n<details><summary>improvement note</summary>\n\n{note}\n</details>\n"
    )


def _upsert(forge: Forge, head: str, base: str, *, title: str, text: str) -> tuple[Review, bool]:
    found = forge.find(head, base)
    if found is not None:
        if found.state == "open":
            forge.update(found, title, text)
        return found, False
    return forge.open(head, base, title, body=text), True


def generation(forge: Forge, repo: Repo, hist: H.RunHistory, *, entry: H.Entry) -> Review:
    """Open (or update) the pull request of one accepted generation."""
    head = gen_branch(hist.run_id, entry.gen or 0)
    base = H.branch(hist.run_id)
    forge.push(head, entry.sha)
    parent = repo.rev_parse(f"{entry.sha}^")
    if parent is not None and forge.find(head, base) is None:
        forge.push(base, parent)
    review, _ = _upsert(forge, head, base, title=entry.subject, text=body(repo, hist, entry))
    return review


def run(forge: Forge, repo: Repo, hist: H.RunHistory, *, base_branch: str) -> Review:
    """Open (or update) the run's pull request: its branch into `base_branch`."""
    head = H.branch(hist.run_id)
    forge.push(head, hist.tip.sha)
    inc, _score = hist.incumbent()
    title = f"sia-git run {hist.run_id}: generation {inc.gen} ({_fmt(inc.score)})"
    review, _ = _upsert(forge, head, base_branch, title=title, text=body(repo, hist, inc))
    return review


def publish(
    forge: Forge, repo: Repo, hist: H.RunHistory, *, mode: str, base_branch: str, say: Say
) -> list[Review]:
    """Every accepted generation's review (mode "pr"), or the run's (mode "run-pr")."""
    if mode == "run-pr":
        reviews = [run(forge, repo, hist, base_branch=base_branch)]
    else:
        reviews = [
            generation(forge, repo, hist, entry=e)
            for e in hist.branch
            if e.kind == "generation" and e.status == "accepted" and (e.gen or 0) > 1
        ]
    for r in reviews:
        say(f"review #{r.number} ({r.state}): {r.head} -> {r.base}  {r.url}")
    return reviews


def reverted(
    forge: Forge,
    repo: Repo,
    hist: H.RunHistory,
    *,
    entry: H.Entry,
    revert_sha: str,
    why: str,
    mode: str,
    base_branch: str,
) -> None:
    """Say on the affected pull request that a generation was reverted, and why."""
    text = f"Generation {entry.gen} (`{entry.sha[:10]}`) was reverted by `{revert_sha[:10]}`: {why}"
    if mode == "run-pr":
        review = run(forge, repo, hist, base_branch=base_branch)
    else:
        found = forge.find(gen_branch(hist.run_id, entry.gen or 0), H.branch(hist.run_id))
        if found is None:
            return
        review = found
    forge.comment(review, text)


def base_of(repo: Repo, given: str | None, *, forge_kind: str) -> str:
    """The branch a run's pull request targets: `given`, else the branch checked out in the
    repository, else main. Checked now: a bad one once failed only at merge, with git's own
    error (and `--merge` created a `main` in a `master` repository)."""
    name = given or repo.head_branch() or "main"
    if not repo.is_branch_name(name):
        raise SiaError(f"--review-base {name}: not a valid branch name")
    if forge_kind == "local" and repo.rev_parse(f"refs/heads/{name}") is None:
        raise SiaError(
            f"--review-base {name}: no such branch in this repository; name the branch "
            "the run's pull request should go into"
        )
    return name


def follow(
    repo: Repo,
    run_id: str,
    settings: dict,
    *,
    say: Say,
    revert: tuple[H.Entry, str, str] | None = None,
) -> None:
    """What a run with `review` set does after a generation or a revert: update its pull
    requests (and comment on a revert). A forge that fails leaves the run going; `sia-git pr`
    catches up later."""
    from sia_git.forges import make

    mode = settings.get("review", "none")
    if mode == "none":
        return
    try:
        kind = str(settings.get("forge", "local"))
        base = base_of(repo, settings.get("review_base"), forge_kind=kind)
        forge = make(kind, repo, settings.get("github_repo"))
        hist = H.load(repo, run_id)
        if revert is not None:
            entry, sha, why = revert
            reverted(
                forge, repo, hist, entry=entry, revert_sha=sha, why=why, mode=mode, base_branch=base
            )
        else:
            publish(forge, repo, hist, mode=mode, base_branch=base, say=say)
    except SiaError as exc:
        say(f"warning: pull requests not updated ({exc}); `sia-git pr` catches up")
