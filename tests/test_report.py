"""`sia-git report`: the page in a real headless Chromium, and the PNG's curve read back pixel by
pixel.

The browser is Debian's `chromium` with `chromium-driver`, driven by selenium; where either is
missing the browser test skips and says how to install them. The run behind the page is real:
`evolve` with a scripted model on 127.0.0.1 (tests/fakellm.py) whose generation 2 fails a gate
and whose generation 3 is accepted and then undone with `sia-git revert`.
"""

from __future__ import annotations

import json
import re
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from sia_git.report.plots import CURVE_COLOUR
from sia_git.tasks.task import resolve
from tests.conftest import git, make_repo, run_ids, run_sia
from tests.fakellm import FakeLLM, Reply, tool
from tests.test_evolve_llm import KNN_MORPHO, MODEL, THRESHOLD, generation, good_feedback, turn

pytestmark = pytest.mark.slow
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
]


@pytest.fixture(scope="module")
def llm_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """A run with an accepted, a gate-failed, a rejected and a reverted candidate, and costs."""
    repo = make_repo(tmp_path_factory.mktemp("report") / "project")
    sneaky = good_feedback("import argparse\n", "import argparse\nimport subprocess\n")
    better = good_feedback(THRESHOLD, KNN_MORPHO)

    def script(body: dict[str, Any], n: int) -> Reply:
        if generation(body) == 2:
            return sneaky(body)
        if generation(body) == 3:
            return better(body)
        return (
            tool("finish", subject="nothing", diagnosis="-", hypothesis="-", change="-")
            if turn(body)
            else tool("read_agent_file")
        )

    with FakeLLM(script) as llm:
        done = run_sia(
            "evolve",
            "--accept",  # the scripted edits gain a few items: below the paired test's level
            "1",
            "--task",
            "penguins",
            "--model",
            MODEL,
            "--api-base",
            llm.api_base,
            "--candidates",
            "1",
            "--confirm-runs",
            "0",
            "--agent",
            str(resolve("penguins", None).reference_agent),
            "--max-gen",
            "3",
            cwd=repo,
        )
    assert done.returncode == 0, done.stderr + done.stdout
    [run_id] = run_ids(repo)
    reverted = run_sia("revert", "3", cwd=repo)
    assert reverted.returncode == 0, reverted.stderr
    return repo, run_id


@pytest.fixture(scope="module")
def offline_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """The offline knob search on penguins: its incumbent rises over the generations."""
    repo = make_repo(tmp_path_factory.mktemp("report") / "project")
    done = run_sia("evolve", "--accept", "1", "--task", "penguins", "--max-gen", "4", cwd=repo)
    assert done.returncode == 0, done.stderr + done.stdout
    [run_id] = run_ids(repo)
    return repo, run_id


@pytest.fixture(scope="module")
def chrome(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    chromium, driver = shutil.which("chromium"), shutil.which("chromedriver")
    if not chromium or not driver:
        pytest.skip(
            "headless Chromium is not installed here: `apt-get install chromium "
            "chromium-driver` (Debian) enables this test"
        )
    webdriver = pytest.importorskip("selenium.webdriver", reason="selenium is in the test extra")
    opts = webdriver.ChromeOptions()
    opts.binary_location = chromium
    for flag in [*CHROMIUM_FLAGS, f"--user-data-dir={tmp_path_factory.mktemp('chrome')}"]:
        opts.add_argument(flag)
    browser = webdriver.Chrome(options=opts, service=webdriver.ChromeService(driver))
    try:
        yield browser
    finally:
        browser.quit()


def test_the_report_page_shows_the_plots_and_every_candidate_in_a_real_browser(
    llm_run: tuple[Path, str], chrome: Any, tmp_path: Path
) -> None:
    repo, run_id = llm_run
    page = tmp_path / "out" / "report.html"
    done = run_sia("report", run_id, "--out", str(page), cwd=repo)
    assert done.returncode == 0, done.stderr
    assert f"wrote {page} and {page.with_suffix('.png')}" in done.stdout
    html = page.read_text()
    assert not re.search(r'(src|href)="(https?:)?//', html), "the page must open offline"

    chrome.get(page.as_uri())
    assert run_id in chrome.title
    for plot in ("score-plot", "dev-test-plot", "cost-plot"):
        size = chrome.execute_script(
            f"const i = document.getElementById('{plot}'); "
            "return i && i.complete ? [i.naturalWidth, i.naturalHeight] : null;"
        )
        assert size and size[0] > 300 and size[1] > 200, (plot, size)
    rows = chrome.execute_script(
        "return [...document.querySelectorAll('#generations tbody tr')].map("
        "r => [r.className, r.innerText]);"
    )
    log = json.loads(run_sia("log", "--json", cwd=repo).stdout)
    assert len(rows) == len(log["rows"]), (rows, log["rows"])
    classes = [c.split()[0] for c, _ in rows]
    assert classes == ["accepted", "rejected", "reverted", "revert"], rows
    gate_row = rows[1][1]
    assert "gate-failed: semgrep" in gate_row and "semgrep=fail" in gate_row
    assert (
        chrome.execute_script(
            "return document.querySelectorAll('#generations tr.rejected .gatefail').length"
        )
        == 1
    )
    best = chrome.execute_script("return document.getElementById('best').innerText")
    gen1 = log["rows"][0]["commit"]
    assert f"generation 1, commit {gen1}" in " ".join(best.split())
    assert f"${log['total_cost_usd']:.4f}" in chrome.execute_script(
        "return document.body.innerText"
    )
    assert log["total_cost_usd"] > 0
    # The accepted-then-reverted generation's note and diff are in the page.
    reverted_row = chrome.execute_script(
        "return document.querySelector('#generations tr.reverted').innerHTML"
    )
    assert "improvement note" in reverted_row and "knn" in reverted_row


def test_the_png_shows_the_incumbent_curve_rising(
    offline_run: tuple[Path, str], tmp_path: Path
) -> None:
    from matplotlib.image import imread

    repo, run_id = offline_run
    log = json.loads(run_sia("log", "--json", cwd=repo).stdout)
    accepted = [r["score"] for r in log["rows"] if r["status"] == "accepted"]
    assert accepted[-1] > accepted[0], "the fixture's run should improve"
    done = run_sia("report", "--out", str(tmp_path / "r.html"), cwd=repo)  # newest run
    assert done.returncode == 0, done.stderr
    img = imread(tmp_path / "r.png")[:, :, :3]
    want = [int(CURVE_COLOUR[i : i + 2], 16) / 255 for i in (1, 3, 5)]
    mask = (abs(img - want) < 0.08).all(axis=2)
    cols = [c for c in range(mask.shape[1]) if mask[:, c].any()]
    assert len(cols) > mask.shape[1] * 0.5, "the curve spans the plot from gen 1 to the last"
    first_row = mask[:, cols[0]].nonzero()[0].mean()
    last_row = mask[:, cols[-1]].nonzero()[0].mean()
    assert last_row < first_row - 20, "higher scores are drawn higher: the curve rises"


def test_report_errors_are_one_line(offline_run: tuple[Path, str], tmp_path: Path) -> None:
    repo, _ = offline_run
    for args, message in (
        (["nope"], "unknown run 'nope'"),
        (["--out", str(tmp_path / "r.txt")], "--out must name an .html file"),
    ):
        done = run_sia("report", *args, cwd=repo)
        assert done.returncode != 0
        assert message in done.stderr and "Traceback" not in done.stderr
    empty = make_repo(tmp_path / "empty")
    done = run_sia("report", cwd=empty)
    assert done.returncode != 0 and "no sia-git runs" in done.stderr


def test_report_writes_the_page_inside_git_by_default_not_into_the_working_tree(
    offline_run: tuple[Path, str], tmp_path: Path
) -> None:
    repo, run_id = offline_run
    out = tmp_path / "here"
    out.mkdir()
    done = run_sia("report", "-C", str(repo), cwd=out)
    assert done.returncode == 0, done.stderr
    where = repo / ".git" / "sia" / "reports"
    assert (where / f"sia-report-{run_id}.html").is_file()
    assert (where / f"sia-report-{run_id}.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert list(out.iterdir()) == [] and "sia-report" not in git(repo, "status", "--porcelain")


def test_notes_are_rendered_diffs_coloured_and_a_free_run_has_no_flat_cost_plot(
    offline_run: tuple[Path, str], tmp_path: Path
) -> None:
    repo, run_id = offline_run
    page = tmp_path / "r.html"
    assert run_sia("report", "--out", str(page), cwd=repo).returncode == 0
    html = page.read_text()
    assert 'id="no-cost"' in html and 'id="cost-plot"' not in html
    assert '<div class="note"><h1>' in html  # the note's Markdown, as HTML
    assert '<span class="add">+' in html and '<span class="del">-' in html
