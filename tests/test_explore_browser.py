"""The explorer in a real browser: Playwright drives the system Chromium against
``funnelsim explore`` started on a free port. The page loads on the base's waterfall, moving
the SLA control changes the net value, a bad entry shows its field's error, and a saved
option reproduces the shown numbers through ``funnelsim compare`` exactly."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest
from conftest import chromium_binary
from matplotlib.image import imread
from playwright.sync_api import Browser, Page, sync_playwright

from funnelsim.scenario.loading import load_scenario

ROOT = Path(__file__).resolve().parents[1]
BASE = ROOT / "scenarios" / "sla_1h_fallback.yaml"
REPS, SEED = 3, 7
READY_SECONDS = 90
ANSWER_MS = 240_000
SCREENSHOT = ROOT / "docs" / "explorer.png"
SLA = '[data-testid="lever-seam1.sla_hours"]'
NET = '[data-testid="net-value"]'
SETTLED = """(previous) => {
    const s = document.querySelector('[data-testid=status]');
    return s && s.dataset.state === 'done' && s.dataset.generation === s.dataset.requested
        && Number(s.dataset.generation) > previous;
}"""


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture(scope="module")
def out_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("explore") / "out"


@pytest.fixture(scope="module")
def server(out_dir: Path) -> Iterator[str]:
    """``funnelsim explore`` in a child process, polled until it answers (bounded)."""
    chromium_binary()
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST_", "NICEGUI_"))}
    command = [sys.executable, "-c", "from funnelsim.cli import main; main()", "explore"]
    command += [str(BASE), "--port", str(port), "--reps", str(REPS), "--seed", str(SEED)]
    command += ["--out", str(out_dir), "--workers", "1"]
    log = out_dir.parent / "server.log"
    with log.open("w") as sink:
        child = subprocess.Popen(command, env=env, stdout=sink, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}/"
    deadline = time.monotonic() + READY_SECONDS
    try:
        while True:
            try:
                with urllib.request.urlopen(url, timeout=5) as response:
                    if response.status == 200:
                        break
            except (urllib.error.URLError, ConnectionError):
                pass
            if child.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"explorer did not start: {log.read_text()[-2000:]}")
            time.sleep(0.2)  # readiness polling, bounded by the deadline
        yield url
    finally:
        child.terminate()
        try:
            child.wait(timeout=20)
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait()


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    binary = chromium_binary()
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=binary, args=["--no-sandbox"])
        yield launched
        launched.close()


@pytest.fixture
def page(server: str, browser: Browser) -> Iterator[Page]:
    tab = browser.new_page(viewport={"width": 1400, "height": 1500})
    tab.goto(server)
    tab.wait_for_function(SETTLED, arg=0, timeout=ANSWER_MS)
    yield tab
    tab.close()


def _generation(page: Page) -> int:
    return int(page.get_attribute('[data-testid="status"]', "data-generation") or 0)


def _set_sla(page: Page, hours: str) -> None:
    before = _generation(page)
    page.fill(SLA, hours)
    page.wait_for_function(SETTLED, arg=before, timeout=ANSWER_MS)


def test_the_page_opens_on_the_bases_leakage_and_seam_fixes(page: Page) -> None:
    assert page.title() == "funnelsim explore"
    assert page.get_attribute(NET, "data-net-value") == "0.0"
    assert page.get_by_label("Backup SDR pool: headcount").input_value() == "2"
    page.wait_for_selector('img[alt="Value of fixing each seam"]', timeout=ANSWER_MS)
    assert page.locator('img[alt="Leakage waterfall"]').count() == 1


def test_moving_the_sla_changes_the_net_value(page: Page) -> None:
    _set_sla(page, "8")
    value = float(page.get_attribute(NET, "data-net-value"))
    assert value != 0.0
    assert page.inner_text(NET) != "$0"
    assert "from 1 to 8" in page.inner_text('[data-testid="sentence"]')
    _set_sla(page, "1")  # back to the base: exactly nothing changes
    assert float(page.get_attribute(NET, "data-net-value")) == 0.0


def test_an_invalid_entry_shows_the_fields_error(page: Page) -> None:
    before = page.get_attribute('[data-testid="status"]', "data-requested")
    page.fill(SLA, "-2")
    error = page.locator('[data-testid="error-seam1.sla_hours"]')
    error.wait_for(state="visible", timeout=ANSWER_MS)
    text = error.inner_text()
    assert text.startswith("seam1.sla_hours:") and "greater than 0" in text
    assert page.get_attribute('[data-testid="status"]', "data-requested") != before
    assert page.get_attribute('[data-testid="status"]', "data-state") == "invalid"
    assert "Traceback" not in page.content()


def test_a_saved_option_reproduces_the_shown_numbers_through_compare(
    page: Page, out_dir: Path, tmp_path: Path
) -> None:
    _set_sla(page, "6")
    before = _generation(page)
    page.get_by_label("SDRs: headcount").fill("5")
    page.wait_for_function(SETTLED, arg=before, timeout=ANSWER_MS)
    shown = {
        name: float(page.get_attribute(NET, f"data-{name}"))
        for name in ("net-value", "net-value-ci-low", "net-value-ci-high")
    }
    assert page.get_attribute(NET, "data-replications") == str(REPS)
    page.get_by_role("button", name="Save option").click()
    page.wait_for_selector('[data-testid="saved"][data-path]', timeout=ANSWER_MS)
    saved = out_dir / page.get_attribute('[data-testid="saved"]', "data-path")
    option = load_scenario(saved)  # validates
    assert option.seam1.sla_hours == 6 and option.teams["sdr"].headcount == 5
    table = tmp_path / "compare.csv"
    command = [sys.executable, "-c", "from funnelsim.cli import main; main()", "compare"]
    command += [str(BASE), str(saved), "--reps", str(REPS), "--seed", str(SEED)]
    command += ["-o", str(table)]
    subprocess.run(command, check=True, capture_output=True, timeout=600)
    row = pd.read_csv(table).set_index("metric").loc["net_value"]
    assert (row["difference"], row["ci_low"], row["ci_high"]) == (
        shown["net-value"],
        shown["net-value-ci-low"],
        shown["net-value-ci-high"],
    )
    shot = tmp_path / "explorer.png"
    page.evaluate("window.scrollTo(0, 0)")
    page.screenshot(path=str(shot))
    pixels = imread(shot)[..., :3]
    assert pixels.std() > 0.05, "screenshot is blank"
    if os.environ.get("FUNNELSIM_WRITE_SCREENSHOT") == "1":
        shutil.copyfile(shot, SCREENSHOT)


def test_pinned_options_rank_live_and_make_the_client_report(page: Page, out_dir: Path) -> None:
    for hours in ("4", "12"):
        _set_sla(page, hours)
        page.get_by_role("button", name="Pin option").click()
    table = page.locator('[data-testid="ranked"] tbody tr')
    table.nth(2).wait_for(timeout=ANSWER_MS)
    rows = table.all_inner_texts()
    assert len(rows) == 3  # two options and no change, best first
    assert sum("no change" in row for row in rows) == 1
    assert [row.split("\t")[0].strip() for row in rows] == ["1", "2", "3"]
    before = set(out_dir.glob("report-*.html"))
    page.get_by_role("button", name="Save report of pins").click()
    page.wait_for_function(
        "() => (document.querySelector('[data-testid=saved]').dataset.path || '')"
        ".startsWith('report-')",
        timeout=ANSWER_MS,
    )
    (report,) = set(out_dir.glob("report-*.html")) - before
    text = report.read_text()
    assert "Option 1" in text and "Option 2" in text
