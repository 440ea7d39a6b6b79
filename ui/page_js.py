"""The page's own script: the player follows the answer, and a few things Gradio has no event for.

- A click on a cited moment (`a.cc-cite` in the answer) seeks the player there and plays; after an
  answer or a replay, `PLAY_FIRST_JS` does the same for the first cited moment.
- The cited spans are marked on the player's own progress bar, and the player shows a poster frame
  (`#cc-poster[data-src]`, set when a video is picked) instead of a black first frame.
- A click on a span of the Plotly timeline writes "seconds|nonce" into a hidden textbox and presses a
  hidden button whose handler seeks the player (gr.Plot has no click event).
Everything is re-attached every half second because Gradio may re-create the elements on update.
"""
from __future__ import annotations

PAGE_JS = """
() => {
  const player = () => document.querySelector('#player video');
  window.ccSeekPlay = (t) => {
    const v = player();
    if (!v || !isFinite(t)) return false;
    const go = () => {
      v.currentTime = t;
      const p = v.play();
      // Autoplay with sound may be refused before the user has touched the page: play muted then.
      if (p) p.catch(() => { v.muted = true; v.play().catch(() => {}); });
    };
    if (v.readyState >= 1) go(); else v.addEventListener('loadedmetadata', go, {once: true});
    return true;
  };
  document.addEventListener('click', (ev) => {
    const a = ev.target.closest && ev.target.closest('a.cc-cite');
    if (!a) return;
    ev.preventDefault();
    window.ccSeekPlay(Number(a.dataset.start));
  });
  const plotClick = (ev) => {
    const p = ev && ev.points && ev.points[0];
    if (!p) return;
    const t = (p.customdata && p.customdata.length) ? p.customdata[0] : p.x;
    const box = document.querySelector('#seek-request textarea, #seek-request input');
    if (!box || t === undefined || t === null) return;
    box.value = `${Number(t)}|${Date.now()}`;
    box.dispatchEvent(new Event('input', {bubbles: true}));
    // Let the textbox's new value reach Gradio's state, then fire the hidden button that sends it.
    setTimeout(() => { const go = document.querySelector('#seek-go'); if (go) go.click(); }, 50);
  };
  const markCites = (v) => {
    const bar = document.querySelector('#player progress');
    if (!bar || !bar.parentElement) return;
    const spans = [...document.querySelectorAll('#answer a.cc-cite')]
      .map((a) => [Number(a.dataset.start), Number(a.dataset.end)]);
    const d = v.duration;
    const key = `${JSON.stringify(spans)}|${d}|${bar.offsetWidth}|${bar.offsetLeft}`;
    let layer = bar.parentElement.querySelector(':scope > .cc-marks');
    if (layer && layer.dataset.key === key) return;
    if (!layer) {
      layer = document.createElement('div');
      layer.className = 'cc-marks';
      bar.parentElement.style.position = 'relative';
      bar.parentElement.appendChild(layer);
    }
    layer.dataset.key = key;
    layer.style.left = `${bar.offsetLeft}px`;
    layer.style.top = `${bar.offsetTop}px`;
    layer.style.width = `${bar.offsetWidth}px`;
    layer.style.height = `${bar.offsetHeight}px`;
    layer.replaceChildren();
    if (!(d > 0)) return;
    spans.forEach(([a, b], i) => {
      const m = document.createElement('span');
      m.className = 'cc-mark';
      m.title = `cited moment ${i + 1}`;
      m.style.left = `${Math.max(0, Math.min(100, 100 * a / d))}%`;
      m.style.width = `${Math.max(0.6, 100 * Math.max(0, b - a) / d)}%`;
      layer.appendChild(m);
    });
  };
  setInterval(() => {
    document.querySelectorAll('#timeline .js-plotly-plot').forEach((gd) => {
      if (!gd.on) return;
      if (gd.removeListener) gd.removeListener('plotly_click', plotClick);
      gd.on('plotly_click', plotClick);
    });
    const v = player();
    if (!v) return;
    const poster = document.querySelector('#cc-poster');
    const src = poster ? poster.dataset.src || '' : '';
    if (src && v.getAttribute('poster') !== src) v.setAttribute('poster', src);
    if (v.getAttribute('preload') !== 'metadata') v.setAttribute('preload', 'metadata');
    markCites(v);
  }, 500);
}
"""

# After an answer or a replay: play the first cited moment (nothing when the answer cites none).
PLAY_FIRST_JS = """
() => {
  const a = document.querySelector('#answer a.cc-cite');
  if (a && window.ccSeekPlay) window.ccSeekPlay(Number(a.dataset.start));
  return [];
}
"""

# Delete asks first; a refused confirm sends no video, which the handler ignores.
DELETE_CONFIRM_JS = "(v) => (v && confirm('Delete this video and everything derived from it?')) ? v : null"
