"""The app in a real browser: Playwright driving Debian's Chromium (headless).

The agent here is `tests/ui_fake_agent.FakeAgent` (a fixed plan over the video's real shots, with a
pause per step) so that the page's behaviour is what is tested: the real indexing job and its
progress, the streamed trace and timeline, citation chips, timeline clicks and gallery clicks
seeking the player, replay and downloads. The real agent is driven through the app in
tests/test_app_client.py. Screenshots go to test-artifacts/.
"""
from __future__ import annotations

import re
import time
from pathlib import Path

import pytest

pytest.importorskip("playwright.sync_api")
from playwright.sync_api import Page, expect, sync_playwright  # noqa: E402

from memory.library import Library  # noqa: E402
from tests.fixtures.synth import cuts_video  # noqa: E402
from tests.ui_app import start  # noqa: E402
from tests.ui_fake_agent import FakeAgent  # noqa: E402

pytestmark = [pytest.mark.browser, pytest.mark.timeout(120)]
CHROMIUM = "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--disable-sync", "--no-first-run"]
CUTS = [4.0, 8.0]  # the fixture's shots: 0-4, 4-8, 8-12 s


class _Policy:
    name = "fake"


@pytest.fixture(scope="module")
def browser():
    if not Path(CHROMIUM).exists():
        pytest.skip("no /usr/bin/chromium")
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
        yield b
        b.close()


@pytest.fixture(scope="module")
def app(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("browser")
    video = tmp / "three_shots.mp4"
    assert cuts_video(video, CUTS, 12.0, fps=10) == CUTS
    library = Library(tmp / "data", image_encoder=None)
    agent = FakeAgent(step_delay_s=0.7)
    r = start(library, lambda: _Policy(), agent_api=agent.api(), replay_step_s=0.05)
    yield {"running": r, "video": video, "tmp": tmp,
           "library": library, "agent": agent}
    r.close()
    library.close()


@pytest.fixture
def page(browser, app):
    ctx = browser.new_context(viewport={"width": 1400, "height": 1000}, accept_downloads=True)
    pg = ctx.new_page()
    pg.goto(app["running"].url)
    pg.wait_for_selector("#upload", timeout=30_000)
    yield pg
    ctx.close()


def _indexed(app) -> int:
    """The fixture video indexed (through the job queue, as an upload would be); returns its id."""
    lib = app["library"]
    for v in lib.store.videos():
        if v.status == "ready":
            return v.id
    app["running"].handlers.jobs.submit(app["video"])
    assert app["running"].handlers.jobs.wait(120)
    return next(v.id for v in lib.store.videos() if v.status == "ready")


def _pick(page: Page, elem_id: str, label_part: str) -> None:
    box = page.locator(f"#{elem_id} input")
    box.click()
    page.locator("[role=option]", has_text=label_part).first.click()


def _current_time(page: Page) -> float:
    return page.evaluate("() => { const v = document.querySelector('#player video'); return v ? v.currentTime : -1; }")


def _wait_time(page: Page, target: float, timeout_s: float = 15) -> float:
    deadline = time.time() + timeout_s
    t = -1.0
    while time.time() < deadline:
        t = _current_time(page)
        if abs(t - target) < 0.3:
            return t
        time.sleep(0.2)
    return t


def test_upload_shows_progress_until_ready(page: Page, app, artifacts):
    page.locator("#upload input[type=file]").set_input_files(str(app["video"]))
    expect(page.locator("#upload-note")).to_contain_text("Queued", timeout=30_000)
    # Progress bars per stage appear while the job runs (polled by the page's timer).
    expect(page.locator("#jobs .cc-stage").first).to_be_visible(timeout=30_000)
    expect(page.locator("#jobs [data-status=done]")).to_be_visible(timeout=90_000)
    stages = page.locator("#jobs [data-status=done] .cc-stage-name").all_inner_texts()
    assert {"probe", "shots", "keyframes"} <= set(stages)
    expect(page.locator("#videos")).to_contain_text("ready", timeout=10_000)
    page.screenshot(path=str(artifacts / "library_view.png"), full_page=True)
    # Progress is server state: a reload still shows the finished job.
    page.reload()
    expect(page.locator("#jobs [data-status=done]")).to_be_visible(timeout=15_000)


def test_ask_streams_trace_and_timeline_and_citation_seeks(page: Page, app, artifacts):
    vid = _indexed(app)
    page.get_by_role("tab", name="Ask").click()
    _pick(page, "ask-video", f"{vid} ·")
    expect(page.locator("#player video")).to_have_count(1, timeout=20_000)
    page.locator("#question textarea").fill("Where is the red shot?")
    page.locator("#ask-btn").click()

    lanes_seen, msgs_seen = [], []
    deadline = time.time() + 40
    shot_taken = False
    while time.time() < deadline:
        lanes_seen.append(page.locator("#timeline .ytick").count())
        msgs_seen.append(page.locator("#trace .message-wrap .message, #trace [data-testid=bot], "
                                      "#trace [data-testid=user]").count())
        if not shot_taken and page.locator("#trace").get_by_text("clips · step 3").count():
            page.screenshot(path=str(artifacts / "ask_view.png"), full_page=True)  # mid-answer, for the README
            shot_taken = True
        if page.locator("#citations button").count() >= 2:
            break
        time.sleep(0.25)
    assert shot_taken, "never saw the retrieval result while the agent worked"
    assert lanes_seen[0] < max(lanes_seen), lanes_seen  # the timeline grew while the agent worked
    assert len(set(lanes_seen)) >= 3, lanes_seen           # ... step by step, not all at once
    assert msgs_seen[-1] > msgs_seen[0], msgs_seen
    expect(page.locator("#answer")).to_contain_text("first shot")
    expect(page.locator("#timeline")).to_contain_text("cited")

    # The second citation starts at the first cut: clicking its chip seeks the player there.
    page.locator("#citations button").nth(1).click()
    t = _wait_time(page, CUTS[0])
    assert abs(t - CUTS[0]) < 0.3, t
    page.screenshot(path=str(artifacts / "ask_view_answered.png"), full_page=True)

    # Clicking a bar on the timeline seeks too (the third shot of the first retrieval, 8-12 s).
    bar = page.locator("#timeline g.trace.bars").nth(1).locator("path").nth(2)
    bar.scroll_into_view_if_needed()
    box = bar.bounding_box()
    x, y = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
    page.mouse.move(x - 3, y)  # Plotly reports a click on the point under the hover
    page.mouse.move(x, y)
    page.mouse.click(x, y)
    t = _wait_time(page, CUTS[1])
    assert abs(t - CUTS[1]) < 0.3, t

    # And so does a frame of the evidence gallery: the verified one first, then the retrieved keyframes;
    # each seeks to the time in its caption.
    thumbs = page.locator("#evidence button.thumbnail-item")
    captions = thumbs.locator(".caption-label").all_inner_texts()
    assert "supported" in captions[0] and len(captions) == 3, captions
    for i in (0, 2):
        m, s = captions[i].split(" · ")[0].split(":")
        target = int(m) * 60 + float(s)
        thumbs.nth(i).click()
        t = _wait_time(page, target)
        assert abs(t - target) < 0.3, (captions[i], t)


def test_replay_a_past_session(page: Page, app):
    vid = _indexed(app)
    if not app["agent"].sessions:
        list(app["agent"].run(app["library"], vid, "earlier question", _Policy()))
    page.get_by_role("tab", name="Ask").click()
    _pick(page, "ask-video", f"{vid} ·")
    page.get_by_text("Past sessions").click()
    _pick(page, "sessions", "#1")
    page.locator("#replay-btn").click()
    expect(page.locator("#answer")).to_contain_text("first shot", timeout=20_000)
    expect(page.locator("#citations button")).to_have_count(2)


def test_export_downloads(page: Page, app, tmp_path):
    vid = _indexed(app)
    if not app["agent"].sessions:
        list(app["agent"].run(app["library"], vid, "earlier question", _Policy()))
    page.get_by_role("tab", name="Export").click()
    _pick(page, "export-session", "#1")
    page.locator("#prepare-btn").click()
    expect(page.locator("#dl-srt")).to_be_enabled(timeout=20_000)
    with page.expect_download() as dl:
        page.locator("#dl-srt").click()
    path = tmp_path / dl.value.suggested_filename
    dl.value.save_as(path)
    assert path.suffix == ".srt" and re.search(r"00:00:04,000 --> 00:00:08,000", path.read_text())
