"""The app in a real browser: Playwright driving Debian's Chromium (headless), with the REAL agent.

The page talks to the real agent room (`agent.loop.run`, `agent.session`, `agent.export`) over a
real indexed video (the narrated fixture, uploaded through the page once per module). Only the
policy is scripted (`agent.policy.ScriptedPolicy`, no model): retrieve → verify → answer, with a
pause before each decision so the streamed trace and timeline can be seen growing step by step.
Checked: the indexing job and its progress, the trace and timeline, citation chips, timeline and
gallery clicks seeking the player, replay, downloads, and the Library tab's Re-index and Delete.
Screenshots go to test-artifacts/.
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
from agent.policy import ScriptedPolicy  # noqa: E402
from memory.library import Library  # noqa: E402
from tests.ui_app import start  # noqa: E402

pytestmark = [pytest.mark.browser, pytest.mark.timeout(120)]
CHROMIUM = "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--disable-sync", "--no-first-run"]
STEP_PAUSE_S = 1.0  # before each decision: the page must show the steps arriving one by one


class PacedScript(ScriptedPolicy):
    """A ScriptedPolicy that plays the same 3-step plan for every question, pausing before each step.

    The app builds its policy once and asks it every question, so the plan is refilled when spent."""

    def __init__(self, query: str, pause_s: float) -> None:
        self.query, self.pause_s = query, pause_s
        super().__init__(self._plan())

    def _plan(self) -> list[Any]:
        q = self.query
        items = [
            {"thought": "Search the transcript and the screen text for the name.", "action": "retrieve_clip",
             "arguments": {"query": q, "k": 3}},
            {"action": "verify_frame", "arguments": {"clip": "c1", "claim": f"the narrator talks about {q}"}},
            {"action": "answer", "arguments": {"text": f"{q} is mentioned in c1.", "citations": ["c1"]}},
        ]
        return [self._paced(i) for i in items]

    def _paced(self, item: dict[str, Any]) -> Any:
        def decide(_messages: Any, _schema: Any) -> dict[str, Any]:
            time.sleep(self.pause_s)  # stands in for the model's decoding time
            return item
        return decide

    def decide(self, *args: Any, **kwargs: Any) -> Any:
        if not self.script:
            self.script = self._plan()
        return super().decide(*args, **kwargs)


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


@pytest.fixture
def page(browser, app):
    ctx = browser.new_context(viewport={"width": 1400, "height": 1000}, accept_downloads=True)
    pg = ctx.new_page()
    pg.goto(app["running"].url)
    pg.wait_for_selector("#upload", timeout=30_000)
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
    assert app["running"].handlers.jobs.wait(120)
    return next(v.id for v in lib.store.videos() if v.status == "ready")


def _a_session(app, vid: int) -> int:
    """A saved session of the real agent (the ask test's, or one run here with the same policy)."""
    store = app["library"].store
    sessions = agent_session.list_sessions(store, vid)
    if not sessions:
        list(agent_run(app["library"], vid, "earlier question", PacedScript(app["query"], 0.0)))
        sessions = agent_session.list_sessions(store, vid)
    return sessions[0]["session_id"]


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
    page.locator("#upload input[type=file]").set_input_files(str(app["truth"].path))
    expect(page.locator("#upload-note")).to_contain_text("Queued", timeout=30_000)
    # Progress bars per stage appear while the job runs (polled by the page's timer).
    expect(page.locator("#jobs .cc-stage").first).to_be_visible(timeout=30_000)
    expect(page.locator("#jobs [data-status=done]")).to_be_visible(timeout=90_000)
    stages = page.locator("#jobs [data-status=done] .cc-stage-name").all_inner_texts()
    assert {"probe", "shots", "keyframes", "speech", "ocr"} <= set(stages), stages
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
    page.locator("#question textarea").fill(f"Where is {app['query']} mentioned?")
    page.locator("#ask-btn").click()

    lanes_seen, msgs_seen, dots_seen = [], [], []
    deadline = time.time() + 40
    shot_taken = False
    while time.time() < deadline:
        lanes_seen.append(page.locator("#timeline .ytick").count())
        msgs_seen.append(page.locator("#trace .message-wrap .message, #trace [data-testid=bot], "
                                      "#trace [data-testid=user]").count())
        # Gradio's "•••" placeholder bubble must not sit between the trace's messages.
        dots_seen.append(page.locator("#trace [aria-label='Loading response']").count())
        if not shot_taken and page.locator("#trace").get_by_text(re.compile(r"clips? · step \d")).count():
            page.screenshot(path=str(artifacts / "ask_view.png"), full_page=True)  # mid-answer, for the README
            shot_taken = True
        if page.locator("#citations button").count() >= 1 and "Working" not in page.locator("#answer").inner_text():
            break
        time.sleep(0.25)
    assert shot_taken, "never saw the retrieval result while the agent worked"
    assert lanes_seen[0] < max(lanes_seen), lanes_seen  # the timeline grew while the agent worked
    assert len(set(lanes_seen)) >= 3, lanes_seen           # ... step by step, not all at once
    assert msgs_seen[-1] > msgs_seen[0], msgs_seen
    assert not any(dots_seen), dots_seen
    expect(page.locator("#answer")).to_contain_text(f"{app['query']} is mentioned")
    expect(page.locator("#timeline")).to_contain_text("cited")

    # What the real agent saved: the session the page just streamed.
    store = app["library"].store
    sid = agent_session.list_sessions(store, vid)[0]["session_id"]
    saved = agent_session.load_session(store, sid)
    cites = saved["citations"]
    scene0 = app["truth"].scenes[0]
    assert saved["status"] == "answered" and cites, saved
    assert cites[0]["start_s"] < scene0.end_s and cites[0]["end_s"] > scene0.start_s, cites
    assert page.locator("#citations button").count() == len(cites)

    # A chip seeks the player to its citation's start (the player starts at 0; the cited start is not 0).
    assert all(c["start_s"] > 0.3 for c in cites), cites
    for i, c in enumerate(cites):
        page.locator("#citations button").nth(i).click()
        t = _wait_time(page, c["start_s"])
        assert abs(t - c["start_s"]) < 0.3, (i, c, t)
    page.screenshot(path=str(artifacts / "ask_view_answered.png"), full_page=True)

    # Clicking a bar on the timeline seeks to its start: the last shot (shots lane, far from the
    # citation), then a clip of the retrieval step (back to where the agent looked).
    last_shot = app["library"].shots(vid)[-1]["start_s"]
    _click_bar(page, 0, -1)
    t = _wait_time(page, last_shot)
    assert abs(t - last_shot) < 0.3, (t, last_shot)
    retrieved = next(s for s in saved["steps"] if s["kind"] == "tool_result" and s.get("clips"))["clips"]
    assert page.locator("#timeline g.trace.bars").nth(1).locator("path").count() == len(retrieved)
    _click_bar(page, 1, 0)
    t = _wait_time(page, retrieved[0]["start_s"])
    assert abs(t - retrieved[0]["start_s"]) < 0.3, (t, retrieved[0])

    # And so does a frame of the evidence gallery (the verified frame first, then retrieved keyframes);
    # each seeks to the time in its caption. The player is moved away before each click.
    thumbs = page.locator("#evidence button.thumbnail-item")
    captions = thumbs.locator(".caption-label").all_inner_texts()
    assert captions and any("retrieved" in c for c in captions), captions
    for i in range(len(captions)):
        _click_bar(page, 0, -1)
        assert abs(_wait_time(page, last_shot) - last_shot) < 0.3
        m, s = captions[i].split(" · ")[0].split(":")
        target = int(m) * 60 + float(s)
        thumbs.nth(i).click()
        t = _wait_time(page, target)
        assert abs(t - target) < 0.3, (captions[i], t)


def _click_bar(page: Page, trace_idx: int, bar_idx: int) -> None:
    """Click one bar of one trace of the timeline (index -1: the last bar)."""
    bars = page.locator("#timeline g.trace.bars").nth(trace_idx).locator("path")
    bar = bars.nth(bar_idx if bar_idx >= 0 else bars.count() + bar_idx)
    bar.scroll_into_view_if_needed()
    box = bar.bounding_box()
    x, y = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
    page.mouse.move(x - 3, y)  # Plotly reports a click on the point under the hover
    page.mouse.move(x, y)
    # on a loaded machine the hover can lag the pointer; a click before it lands selects nothing
    expect(page.locator("#timeline .hoverlayer .hovertext").first).to_be_visible(timeout=10_000)
    page.mouse.click(x, y)


def test_replay_a_past_session(page: Page, app):
    vid = _indexed(app)
    sid = _a_session(app, vid)
    cites = agent_session.load_session(app["library"].store, sid)["citations"]
    page.get_by_role("tab", name="Ask").click()
    _pick(page, "ask-video", f"{vid} ·")
    page.get_by_text("Past sessions").click()
    _pick(page, "sessions", f"#{sid}")
    page.locator("#replay-btn").click()
    expect(page.locator("#answer")).to_contain_text(f"{app['query']} is mentioned", timeout=20_000)
    expect(page.locator("#citations button")).to_have_count(len(cites))


def test_export_downloads(page: Page, app, tmp_path):
    vid = _indexed(app)
    sid = _a_session(app, vid)
    first = agent_session.load_session(app["library"].store, sid)["citations"][0]
    page.get_by_role("tab", name="Export").click()
    _pick(page, "export-session", f"#{sid}")
    page.locator("#prepare-btn").click()
    expect(page.locator("#dl-srt")).to_be_enabled(timeout=20_000)
    with page.expect_download() as dl:
        page.locator("#dl-srt").click()
    path = tmp_path / dl.value.suggested_filename
    dl.value.save_as(path)
    ms = int(round(first["start_s"] * 1000))
    stamp = f"{ms // 3_600_000:02d}:{ms // 60_000 % 60:02d}:{ms // 1000 % 60:02d},{ms % 1000:03d}"
    assert path.suffix == ".srt" and f"{stamp} --> " in path.read_text(), (stamp, path.read_text()[:200])


def _count(db: Path, table: str, vid: int) -> int:
    with sqlite3.connect(db) as con:
        return con.execute(f"SELECT COUNT(*) FROM {table} WHERE video_id = ?", [vid]).fetchone()[0]


def test_library_reindex_then_delete(page: Page, app):
    """Runs last: it removes the module's video."""
    vid = _indexed(app)
    lib = app["library"]
    db = lib.data.db_path
    before = {t: _count(db, t, vid) for t in ("shots", "speech", "ocr", "vectors", "stages")}
    assert before["shots"] and before["vectors"], before
    expect(page.locator("#jobs [data-status=done]").first).to_be_visible(timeout=15_000)  # the page has polled
    jobs_done = page.locator("#jobs [data-status=done]").count()

    # Re-index: the same video (same id, no duplicate row), indexed again from its file, ends ready.
    _pick(page, "lib-video", f"{vid} ·")
    page.get_by_role("button", name="Re-index").click()
    expect(page.locator("body")).to_contain_text("Re-indexing", timeout=10_000)
    expect(page.locator("#jobs [data-status=done]")).to_have_count(jobs_done + 1, timeout=90_000)
    expect(page.locator("#videos")).to_contain_text("ready", timeout=10_000)
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
    page.get_by_role("button", name="Delete").click()
    expect(page.locator("body")).to_contain_text("Deleted", timeout=10_000)
    with sqlite3.connect(db) as con:
        assert con.execute("SELECT COUNT(*) FROM videos WHERE id = ?", [vid]).fetchone()[0] == 0
    for t in ("shots", "frames", "speech", "ocr", "vectors", "stages", "sessions"):
        assert _count(db, t, vid) == 0, t
    assert not thumbs.exists() and not upload.exists()
    assert not list(lib.data.index_dir.glob("*.faiss")), list(lib.data.index_dir.iterdir())
    expect(page.locator("#videos")).not_to_contain_text(app["truth"].path.stem, timeout=10_000)
    page.locator("#lib-video input").click()
    expect(page.locator("[role=option]", has_text=f"{vid} ·")).to_have_count(0)
