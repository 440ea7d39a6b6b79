"""The app in a real browser: Playwright driving Debian's Chromium (headless), with the REAL agent.

The page talks to the real agent room (`agent.loop.run`, `agent.session`, `agent.export`) over a
real indexed video (the narrated fixture, uploaded through the page once per module). Only the
policy is scripted (`agent.policy.ScriptedPolicy`, no model): retrieve → verify → answer, with a
pause before each decision so the streamed trace and timeline can be seen growing step by step.
Checked at 1400 and 700 px wide: the indexing cards (stages in words, skipped stages say why, a
re-index says so), a non-video refused at upload, Enter asking and a second ask starting nothing, the
player seeking to the first cited moment and playing after an answer and after a replay, citation
links, the evidence frames never cropped, downloads without a prepare step and without server paths,
and the Library tab's Re-index and Delete. Waits are on conditions, never fixed sleeps. Screenshots go
to test-artifacts/; the README's (Library, an answer, Export) to docs/.
"""
from __future__ import annotations

import re
import sqlite3
import time
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("playwright.sync_api")
from playwright.sync_api import Page, expect, sync_playwright  # noqa: E402

from agent import session as agent_session  # noqa: E402
from agent.loop import run as agent_run  # noqa: E402
from memory.library import Library  # noqa: E402
from tests.ui_app import start  # noqa: E402
from tests.ui_page import (PacedScript, click_bar, no_cropped_frames, park_player, pick,  # noqa: E402
                           wait_playing_from, wait_time, wraps_inside_a_word)

DOCS = Path(__file__).resolve().parent.parent / "docs"  # the README's screenshots
WIDTHS = (1400, 700)

pytestmark = [pytest.mark.browser, pytest.mark.timeout(240)]
CHROMIUM = "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--disable-sync", "--no-first-run"]
STEP_PAUSE_S = 1.0  # before each decision: the page must show the steps arriving one by one


@pytest.fixture(scope="module")
def browser():
    if not Path(CHROMIUM).exists():
        pytest.skip("no /usr/bin/chromium")
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
        yield b
        b.close()


@pytest.fixture(scope="module")
def app(tmp_path_factory, narrated):
    tmp = tmp_path_factory.mktemp("browser")
    truth = narrated.copy_to(tmp / "fx")  # the page uploads, links and deletes it: a copy of the session's video
    query = truth.queries[2].text  # an exact name spoken and shown in scene 0 ("Lisbon")
    library = Library(tmp / "data", image_encoder=None)
    r = start(library, lambda: PacedScript(query, STEP_PAUSE_S), replay_step_s=0.05)  # the real agent
    yield {"running": r, "truth": truth, "query": query, "tmp": tmp, "library": library}
    r.close()
    library.close()


def _open(browser, app, width: int) -> tuple[Any, Page]:
    ctx = browser.new_context(viewport={"width": width, "height": 1000}, accept_downloads=True)
    pg = ctx.new_page()
    pg.goto(app["running"].url)
    pg.wait_for_selector("#upload", timeout=60_000)
    return ctx, pg


@pytest.fixture
def page(browser, app):
    ctx, pg = _open(browser, app, 1400)
    yield pg
    ctx.close()


@pytest.fixture(params=WIDTHS, ids=[f"{w}px" for w in WIDTHS])
def any_page(browser, app, request):
    """The page at each width the app must work at."""
    ctx, pg = _open(browser, app, request.param)
    pg.width = request.param  # type: ignore[attr-defined]
    yield pg
    ctx.close()


def _indexed(app) -> int:
    """The fixture video indexed (through the job queue, as an upload would be); returns its id.
    Normally the upload test has done it already (the module indexes the video once)."""
    lib = app["library"]
    for v in lib.store.videos():
        if v.status == "ready":
            return v.id
    app["running"].handlers.jobs.submit(app["truth"].path)
    assert app["running"].handlers.jobs.wait(180)
    return next(v.id for v in lib.store.videos() if v.status == "ready")


def _a_session(app, vid: int) -> int:
    """A saved session of the real agent (the ask test's, or one run here with the same policy)."""
    store = app["library"].store
    sessions = agent_session.list_sessions(store, vid)
    if not sessions:
        list(agent_run(app["library"], vid, "earlier question", PacedScript(app["query"], 0.0)))
        sessions = agent_session.list_sessions(store, vid)
    return sessions[0]["session_id"]


def _ask_video(page: Page, vid: int) -> None:
    page.get_by_role("tab", name="Ask").click()
    pick(page, "ask-video", f"{vid} ·")
    expect(page.locator("#player video")).to_have_count(1, timeout=30_000)
    expect(page.locator("#ask-btn")).to_be_enabled(timeout=15_000)


def test_upload_shows_progress_until_ready(page: Page, app, artifacts):
    # An empty library says so, and its actions wait for a video.
    expect(page.locator("#jobs")).to_contain_text("library is empty", timeout=15_000)
    expect(page.locator("#reindex-btn")).to_be_disabled()
    expect(page.locator("#delete-btn")).to_be_disabled()
    page.locator("#upload input[type=file]").set_input_files(str(app["truth"].path))
    expect(page.locator("#upload-note")).to_contain_text("Queued", timeout=60_000)
    # Progress bars per stage appear while the job runs (polled by the page's timer).
    expect(page.locator("#jobs .cc-stage").first).to_be_visible(timeout=60_000)
    expect(page.locator("#jobs [data-status=done]")).to_be_visible(timeout=180_000)
    card = page.locator("#jobs [data-status=done]").first
    stages = card.locator(".cc-stage").evaluate_all("(els) => els.map((e) => e.dataset.stage)")
    assert {"probe", "shots", "keyframes", "speech", "ocr"} <= set(stages), stages
    names = card.locator(".cc-stage-name").all_inner_texts()
    assert "Reading the video" in names and "Transcribing speech" in names and "probe" not in names, names
    # No image model in this library: that stage is shown as skipped, with why.
    expect(card.locator("[data-stage=image_vectors]")).to_contain_text("skipped: no image model")
    expect(page.locator("#videos")).to_contain_text("ready", timeout=20_000)
    page.screenshot(path=str(artifacts / "library_view.png"), full_page=True)
    page.screenshot(path=str(DOCS / "screenshot-library.png"), full_page=False)
    # Progress is server state: a reload still shows the finished job.
    page.reload()
    expect(page.locator("#jobs [data-status=done]")).to_be_visible(timeout=30_000)


def test_a_file_that_is_not_a_video_is_refused_at_upload(any_page: Page, app, tmp_path):
    page = any_page
    bad = tmp_path / "notavideo.mp4"
    bad.write_bytes(b"this is a text file, not a video " * 200)
    jobs_before = len(app["running"].handlers.jobs.snapshot())
    page.locator("#upload input[type=file]").set_input_files(str(bad))
    note = page.locator("#upload-note")
    expect(note).to_contain_text("is not a video CiteClip can read", timeout=60_000)
    text = note.inner_text()
    assert "Errno" not in text and "/" not in text and "Queued" not in text, text
    assert len(app["running"].handlers.jobs.snapshot()) == jobs_before  # nothing was queued
    expect(page.locator("#jobs")).not_to_contain_text("notavideo")


def test_enter_asks_once_and_the_player_plays_the_answer(any_page: Page, app, artifacts):
    page, wide = any_page, any_page.width == WIDTHS[0]
    vid = _indexed(app)
    store = app["library"].store
    sessions_before = len(agent_session.list_sessions(store, vid))
    _ask_video(page, vid)
    # A poster frame instead of a black first frame, before anything plays.
    page.wait_for_function("() => (document.querySelector('#player video').getAttribute('poster') || '')"
                           ".includes('/thumbs/')", timeout=15_000)
    box = page.locator("#question textarea")
    # Shift+Enter adds a line and asks nothing.
    box.fill("first line")
    box.press("Shift+Enter")
    assert "\n" in box.input_value()
    expect(page.locator("#stop-btn")).to_be_disabled()
    box.fill(f"Where is {app['query']} mentioned?")
    box.press("Enter")
    # While it runs: Ask off, Stop on; Enter and a (forced) Ask press start nothing more.
    expect(page.locator("#ask-btn")).to_be_disabled(timeout=15_000)
    expect(page.locator("#stop-btn")).to_be_enabled()
    box.press("Enter")
    page.locator("#ask-btn").dispatch_event("click")

    lanes_seen, shot_taken = [], False
    deadline = time.time() + 90
    while time.time() < deadline:
        lanes_seen.append(page.locator("#timeline .ytick").count())
        if wide and not shot_taken and page.locator("#trace").get_by_text(re.compile(r"clips? · step \d")).count():
            page.screenshot(path=str(artifacts / "ask_view.png"), full_page=True)  # mid-answer
            shot_taken = True
        if page.locator("#answer a.cc-cite").count() and page.locator("#ask-btn").is_enabled():
            break
        page.wait_for_timeout(250)
    assert page.locator("#answer a.cc-cite").count(), "no answer within 90 s"
    assert lanes_seen[0] < max(lanes_seen), lanes_seen  # the timeline grew while the agent worked
    expect(page.locator("#stop-btn")).to_be_disabled()
    expect(page.locator("#answer")).to_contain_text(f"{app['query']} is mentioned")
    expect(page.locator("#answer .cc-status")).to_contain_text("Checked against")
    expect(page.locator("#timeline")).to_contain_text("cited")
    # One run for the three presses.
    sessions = agent_session.list_sessions(store, vid)
    assert len(sessions) == sessions_before + 1, sessions
    saved = agent_session.load_session(store, sessions[0]["session_id"])
    cites = saved["citations"]
    assert saved["status"] == "answered" and cites, saved
    assert page.locator("#answer a.cc-cite").count() == len(cites)

    # The player went to the first cited moment and plays it; the moments are marked on its own bar.
    wait_playing_from(page, cites[0]["start_s"])
    expect(page.locator("#player .cc-mark")).to_have_count(len(cites), timeout=10_000)
    # The trace is folded once the answer is in.
    expect(page.locator("#trace")).to_be_hidden(timeout=10_000)
    if wide:
        page.screenshot(path=str(artifacts / "ask_view_answered.png"), full_page=True)
        page.screenshot(path=str(DOCS / "screenshot-answer.png"), full_page=False)
    # A citation click seeks and plays.
    for i, c in enumerate(cites):
        park_player(page, 0.0 if c["start_s"] > 1 else c["end_s"] + 2)
        page.locator("#answer a.cc-cite").nth(i).click()
        wait_playing_from(page, c["start_s"])
    if wide:
        _timeline_and_gallery_seek(page, app, vid, saved)
    # The evidence frames load and are whole at this width.
    expect(page.locator("#evidence .thumbnail-item img").first).to_be_visible(timeout=15_000)
    page.wait_for_function("() => [...document.querySelectorAll('#evidence .thumbnail-item img')]"
                           ".every((im) => im.complete)", timeout=15_000)
    assert no_cropped_frames(page) >= 1


def _timeline_and_gallery_seek(page: Page, app, vid: int, saved: dict[str, Any]) -> None:
    """Clicking a bar of the timeline, or an evidence frame, seeks the player to it."""
    page.evaluate("() => document.querySelector('#player video').pause()")
    last_shot = app["library"].shots(vid)[-1]["start_s"]
    click_bar(page, 0, -1)
    t = wait_time(page, last_shot)
    assert abs(t - last_shot) < 0.3, (t, last_shot)
    retrieved = next(s for s in saved["steps"] if s["kind"] == "tool_result" and s.get("clips"))["clips"]
    assert page.locator("#timeline g.trace.bars").nth(1).locator("path").count() == len(retrieved)
    click_bar(page, 1, 0)
    t = wait_time(page, retrieved[0]["start_s"])
    assert abs(t - retrieved[0]["start_s"]) < 0.3, (t, retrieved[0])
    thumbs = page.locator("#evidence button.thumbnail-item")
    captions = thumbs.locator(".caption-label").all_inner_texts()
    assert captions and any("found in" in c for c in captions), captions
    for i in range(len(captions)):
        click_bar(page, 0, -1)
        assert abs(wait_time(page, last_shot) - last_shot) < 0.3
        m, s = captions[i].split(" · ")[0].split(":")
        target = int(m) * 60 + float(s)
        thumbs.nth(i).click()
        t = wait_time(page, target)
        assert abs(t - target) < 1.0, (captions[i], t)  # the caption shows whole seconds


def test_replay_plays_the_first_cited_moment(any_page: Page, app):
    page = any_page
    vid = _indexed(app)
    sid = _a_session(app, vid)
    cites = agent_session.load_session(app["library"].store, sid)["citations"]
    _ask_video(page, vid)
    park_player(page, 0.0 if cites[0]["start_s"] > 1 else cites[0]["end_s"] + 2)
    page.get_by_text("Past sessions").click()
    expect(page.locator("#replay-btn")).to_be_disabled()
    pick(page, "sessions", f"#{sid}")
    expect(page.locator("#replay-btn")).to_be_enabled(timeout=10_000)
    page.locator("#replay-btn").click()
    expect(page.locator("#answer")).to_contain_text(f"{app['query']} is mentioned", timeout=30_000)
    expect(page.locator("#answer a.cc-cite")).to_have_count(len(cites))
    wait_playing_from(page, cites[0]["start_s"])


def test_export_downloads_without_a_prepare_step(any_page: Page, app, tmp_path):
    page, wide = any_page, any_page.width == WIDTHS[0]
    vid = _indexed(app)
    sid = _a_session(app, vid)
    first = agent_session.load_session(app["library"].store, sid)["citations"][0]
    page.get_by_role("tab", name="Export").click()
    expect(page.locator("#dl-srt")).to_be_disabled()  # nothing to download before a session is picked
    pick(page, "export-session", f"#{sid}")
    # Picking the session is all it takes: the downloads that need no cutting are ready at once.
    expect(page.locator("#dl-srt")).to_be_enabled(timeout=30_000)
    expect(page.locator("#export-note")).to_contain_text("ready")
    if wide:
        page.screenshot(path=str(DOCS / "screenshot-export.png"), full_page=False)
    root = str(app["library"].data.root)
    texts = {}
    for fmt in ("json", "csv", "srt", "vtt", "edl"):
        with page.expect_download(timeout=30_000) as dl:
            page.locator(f"#dl-{fmt}").click()
        path = tmp_path / dl.value.suggested_filename
        dl.value.save_as(path)
        texts[fmt] = path.read_text()
        assert root not in texts[fmt] and "/uploads/" not in texts[fmt], (fmt, texts[fmt][:300])
    ms = int(round(first["start_s"] * 1000))
    stamp = f"{ms // 3_600_000:02d}:{ms // 60_000 % 60:02d}:{ms // 1000 % 60:02d},{ms % 1000:03d}"
    assert f"{stamp} --> " in texts["srt"], (stamp, texts["srt"][:200])
    assert "Unverified" not in texts["srt"] and "…" not in texts["srt"], texts["srt"]
    # Cut clips wait for their own button (they re-encode video).
    expect(page.locator("#dl-clips")).to_be_disabled()
    expect(page.locator("#cut-btn")).to_be_enabled()


def test_library_reindex_then_delete(page: Page, app):
    """Runs last: it removes the module's video."""
    vid = _indexed(app)
    lib = app["library"]
    db = lib.data.db_path
    before = {t: _count(db, t, vid) for t in ("shots", "speech", "ocr", "vectors", "stages")}
    assert before["shots"] and before["vectors"], before
    expect(page.locator("#videos")).to_contain_text("ready", timeout=20_000)
    page.set_viewport_size({"width": 700, "height": 1000})
    assert not wraps_inside_a_word(page)  # "duration" stays one word at 700 px
    page.set_viewport_size({"width": 1400, "height": 1000})
    jobs_done = page.locator("#jobs [data-status=done]").count()

    # Re-index: the same video (same id, no duplicate row), indexed again from its file, ends ready;
    # its card says it is a re-index.
    expect(page.locator("#reindex-btn")).to_be_disabled()
    pick(page, "lib-video", f"{vid} ·")
    expect(page.locator("#reindex-btn")).to_be_enabled(timeout=10_000)
    page.locator("#reindex-btn").click()
    expect(page.locator("#lib-note")).to_contain_text("Re-indexing", timeout=15_000)
    expect(page.locator("#jobs [data-reindex='1']").first).to_contain_text("Re-indexing", timeout=30_000)
    expect(page.locator("#jobs [data-status=done]")).to_have_count(jobs_done + 1, timeout=180_000)
    expect(page.locator("#videos")).to_contain_text("ready", timeout=20_000)
    assert app["running"].handlers.jobs.wait(60)
    videos = lib.store.videos()
    assert [v.id for v in videos] == [vid] and videos[0].status == "ready", videos
    after = {t: _count(db, t, vid) for t in before}
    assert after == before, (before, after)  # indexed again in full, nothing doubled

    # Delete (after the page's confirm dialog): rows, vectors, thumbnails and the upload copy go,
    # and the video leaves the table and the pickers.
    thumbs = lib.data.thumbs_dir / str(vid)
    upload = Path(videos[0].path)
    assert thumbs.is_dir() and any(thumbs.iterdir()) and upload.is_file()
    page.once("dialog", lambda d: d.accept())
    page.locator("#delete-btn").click()
    expect(page.locator("#lib-note")).to_contain_text("Deleted", timeout=15_000)
    with sqlite3.connect(db) as con:
        assert con.execute("SELECT COUNT(*) FROM videos WHERE id = ?", [vid]).fetchone()[0] == 0
    for t in ("shots", "frames", "speech", "ocr", "vectors", "stages", "sessions"):
        assert _count(db, t, vid) == 0, t
    assert not thumbs.exists() and not upload.exists()
    assert not list(lib.data.index_dir.glob("*.faiss")), list(lib.data.index_dir.iterdir())
    expect(page.locator("#videos")).not_to_contain_text(app["truth"].path.stem, timeout=15_000)
    page.locator("#lib-video input").click()
    expect(page.locator("[role=option]", has_text=f"{vid} ·")).to_have_count(0)


def _count(db: Path, table: str, vid: int) -> int:
    with sqlite3.connect(db) as con:
        return con.execute(f"SELECT COUNT(*) FROM {table} WHERE video_id = ?", [vid]).fetchone()[0]
