"""The review page in headless Chromium (Debian's ``chromium`` driven by Playwright's Python client):
upload references and a target, run the job, review three findings with the keyboard and the mouse, switch
the UI to English, export ground truth. Screenshots go to ``$TENKEN_SCREENSHOTS`` (default: the test's tmp)."""

from __future__ import annotations

import json
import os
import re
import shutil
import threading
from pathlib import Path

import pytest

playwright_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed (tenken[dev])")
expect = playwright_api.expect

from tenken.serve.app import create_app  # noqa: E402
from tenken.serve.db import Database  # noqa: E402
from tenken.serve.keys import create_key  # noqa: E402
from tenken.serve.models import Site  # noqa: E402
from tenken.serve.openai_server import running_server  # noqa: E402
from tenken.serve.settings import ServeSettings  # noqa: E402
from tenken.serve.worker import Worker  # noqa: E402

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "walkway"
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"

pytestmark = [pytest.mark.network]


@pytest.fixture
def browser():
    if not Path(CHROMIUM).exists():
        pytest.skip("Debian's chromium is not installed (apt-get install chromium)")
    with playwright_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", "--disable-background-networking"])
        yield b
        b.close()


def test_upload_run_review_export_in_the_browser(browser, tmp_path: Path) -> None:
    shots = Path(os.environ.get("TENKEN_SCREENSHOTS", tmp_path / "shots"))
    shots.mkdir(parents=True, exist_ok=True)
    settings = ServeSettings(data_dir=tmp_path / "data", lease_seconds=5)
    db = Database(settings.url)
    db.migrate()
    with db.write() as s:
        s.add(Site(name="plant-a"))
    key, _ = create_key(db, "operator", site_id=1)
    stop = threading.Event()
    worker = threading.Thread(target=Worker(settings, db, "page-worker").run, args=(stop, 0.2), daemon=True)
    worker.start()
    errors: list[str] = []
    try:
        with running_server(create_app(settings, db)) as url:
            base = url.removesuffix("/v1")
            page = browser.new_page(viewport={"width": 1500, "height": 950}, accept_downloads=True)
            page.on("pageerror", lambda e: errors.append(str(e)))
            page.goto(f"{base}/review")
            page.fill("#key", key)
            page.dispatch_event("#key", "change")
            page.wait_for_selector("#site option", state="attached")
            page.set_input_files("#ref-files", str(EXAMPLE / "reference.jpg"))
            page.click("#ref-upload")
            expect(page.locator("#ref-count")).to_have_text(re.compile(r"^1 "))
            page.set_input_files("#job-files", str(EXAMPLE / "target.jpg"))
            page.click("#job-run")
            page.wait_for_selector("#findings tbody tr", timeout=60_000)
            expect(page.locator("#progress")).to_contain_text("1/1")
            rows = page.locator("#findings tbody tr")
            n_model = rows.count()
            assert n_model >= 2
            assert page.locator("#svg-target rect").count() == n_model == page.locator("#svg-ref rect").count()
            page.screenshot(path=str(shots / "1-findings-ja.png"))

            # 1: confirm with the keyboard (the first finding is selected on open)
            page.keyboard.press("c")
            page.wait_for_selector("#findings tbody tr:nth-child(1) td.state-confirmed")
            # 2: relabel with a digit key (5 = the fifth class) while the second finding is selected
            page.keyboard.press("5")
            page.wait_for_selector("#findings tbody tr:nth-child(2) td.state-confirmed")
            # 3: draw a missed box on the target (b, drag), then comment on it
            page.keyboard.press("b")
            box = page.locator("#svg-target").bounding_box()
            page.mouse.move(box["x"] + 20, box["y"] + 20)
            page.mouse.down()
            page.mouse.move(box["x"] + 80, box["y"] + 70, steps=4)
            page.mouse.up()
            page.wait_for_selector(f"#findings tbody tr:nth-child({n_model + 1})")
            page.fill("#comment", "見落とし: 手袋")
            page.press("#comment", "Enter")
            expect(page.locator(f"#findings tbody tr:nth-child({n_model + 1})")).to_contain_text("見落とし")
            page.keyboard.press("+")
            page.screenshot(path=str(shots / "2-reviewed-zoomed-ja.png"))

            page.click("#lang")
            assert page.locator("#confirm").inner_text().startswith("Confirm")
            page.keyboard.press("0")
            page.fill("#filter-score", "0.7")
            page.dispatch_event("#filter-score", "input")
            shown = page.locator("#findings tbody tr").count()
            assert 0 < shown < n_model + 1  # the operator's box has no score; low-score model boxes hidden
            page.fill("#filter-score", "0")
            page.dispatch_event("#filter-score", "input")
            page.screenshot(path=str(shots / "3-reviewed-en.png"))

            with page.expect_download() as dl:
                page.click("[data-export='ground_truth.jsonl']")
            target = tmp_path / "gt.jsonl"
            dl.value.save_as(target)
            (gt,) = [json.loads(line) for line in target.read_text(encoding="utf-8").splitlines()] or [None]
            # only fully reviewed items are ground truth: with more than two model findings the rest are pending
            if n_model == 2:
                assert gt["id"] == "target" and len(gt["boxes"]) == 3 and gt["labels"][1] == "traffic_cone"
            page.close()
    finally:
        stop.set()
        worker.join(10)
        db.dispose()
    assert errors == []
