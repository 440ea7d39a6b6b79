"""The browser tests' helpers: a paced scripted policy, and reading and driving the page's player,
pickers, timeline and evidence gallery (conditions waited for, never fixed sleeps)."""
from __future__ import annotations

import time
from typing import Any

from playwright.sync_api import Page, expect
from playwright.sync_api import TimeoutError as PlaywrightTimeout

from agent.policy import ScriptedPolicy


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



def pick(page: Page, elem_id: str, label_part: str) -> None:
    box = page.locator(f"#{elem_id} input")
    box.click()
    page.locator("[role=option]", has_text=label_part).first.click()



def current_time(page: Page) -> float:
    return page.evaluate("() => { const v = document.querySelector('#player video'); return v ? v.currentTime : -1; }")



def wait_time(page: Page, target: float, timeout_s: float = 20) -> float:
    """Wait until the player is at `target` (±0.3 s); returns where it is."""
    try:
        page.wait_for_function(
            "(t) => { const v = document.querySelector('#player video'); return v && Math.abs(v.currentTime - t) < 0.3; }",
            arg=target, timeout=timeout_s * 1000)
    except PlaywrightTimeout:
        pass
    return current_time(page)



def wait_playing_from(page: Page, start: float, timeout_s: float = 30) -> None:
    """The player is playing, from the cited start (allowing for the time it has played since)."""
    page.wait_for_function(
        "(t) => { const v = document.querySelector('#player video');"
        " return v && !v.paused && v.currentTime >= t - 0.3 && v.currentTime < t + 4; }",
        arg=start, timeout=timeout_s * 1000)



def park_player(page: Page, t: float = 0.0) -> None:
    """Pause the player somewhere else, so that a seek can be told from staying put."""
    page.evaluate("(t) => { const v = document.querySelector('#player video'); v.pause(); v.currentTime = t; }", t)
    page.wait_for_function("(t) => { const v = document.querySelector('#player video');"
                           " return v.paused && Math.abs(v.currentTime - t) < 0.3; }", arg=t, timeout=15_000)



def no_cropped_frames(page: Page) -> int:
    """Every evidence frame shown whole: its box has the picture's own aspect ratio, inside the gallery."""
    frames = page.evaluate("""() => {
      const g = document.querySelector('#evidence').getBoundingClientRect();
      return [...document.querySelectorAll('#evidence .thumbnail-item img')].map((im) => {
        const r = im.getBoundingClientRect();
        return {nat: im.naturalWidth / im.naturalHeight, shown: r.width / r.height,
                fit: getComputedStyle(im).objectFit, inside: r.left >= g.left - 1 && r.right <= g.right + 1,
                complete: im.complete && im.naturalWidth > 0};
      });
    }""")
    for f in frames:
        assert f["complete"] and f["inside"], f
        assert abs(f["shown"] - f["nat"]) / f["nat"] < 0.04 or f["fit"] == "contain", f
    return len(frames)



def click_bar(page: Page, trace_idx: int, bar_idx: int) -> None:
    """Click one bar of one trace of the timeline (index -1: the last bar)."""
    bars = page.locator("#timeline g.trace.bars").nth(trace_idx).locator("path")
    bar = bars.nth(bar_idx if bar_idx >= 0 else bars.count() + bar_idx)
    bar.scroll_into_view_if_needed()
    box = bar.bounding_box()
    x, y = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
    page.mouse.move(x - 3, y)  # Plotly reports a click on the point under the hover
    page.mouse.move(x, y)
    # on a loaded machine the hover can lag the pointer; a click before it lands selects nothing
    expect(page.locator("#timeline .hoverlayer .hovertext").first).to_be_visible(timeout=15_000)
    page.mouse.click(x, y)



def wraps_inside_a_word(page: Page) -> list[str]:
    """Header cells of the videos table whose one-word label is drawn on more than one line."""
    return page.evaluate("""() => [...document.querySelectorAll('#videos thead th')].flatMap((th) => {
      const walker = document.createTreeWalker(th, NodeFilter.SHOW_TEXT);
      const out = [];
      for (let n = walker.nextNode(); n; n = walker.nextNode()) {
        const word = n.textContent.trim();
        if (!word || word.includes(' ')) continue;
        const r = document.createRange(); r.selectNodeContents(n);
        const lines = new Set([...r.getClientRects()].map((x) => Math.round(x.top)));
        if (lines.size > 1) out.push(word);
      }
      return out;
    })""")
