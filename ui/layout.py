"""The page: Library, Ask and Export tabs wired to `ui.handlers.Handlers`, and a safe launcher.

`build_app(library, policy_factory)` is the app factory (tests call it with a fake or scripted
policy); `launch(demo, handlers, ...)` applies the serving rules: only uploads/, thumbs/ and
exports/ are reachable, library.db / index/ / models/ are blocked, uploads are capped, and questions
go through one queue slot so two users never run the model at once.
"""
from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import gradio as gr

from ui import timeline
from ui.config import UIConfig
from ui.handlers import EXPORT_LABELS, LIBRARY_HEADERS, AgentAPI, Handlers

ASSETS = Path(__file__).resolve().parent.parent / "assets"

# Clicking a span of the Plotly timeline writes "seconds|nonce" into a hidden textbox and presses a
# hidden button whose handler seeks the player through `playback_position` (gr.Plot has no click event). The
# listener is re-attached every half second because Gradio may re-create the plot's div on update.
SEEK_JS = """
() => {
  const handler = (ev) => {
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
  setInterval(() => {
    document.querySelectorAll('#timeline .js-plotly-plot').forEach((gd) => {
      if (!gd.on) return;
      if (gd.removeListener) gd.removeListener('plotly_click', handler);
      gd.on('plotly_click', handler);
    });
  }, 500);
}
"""


def _examples() -> list[str]:
    try:
        return [e["question"] if isinstance(e, dict) else str(e)
                for e in json.loads((ASSETS / "examples.json").read_text())]
    except (OSError, ValueError, KeyError):
        return []


def build_app(library: Any, policy_factory: Callable[[], Any], config: UIConfig = UIConfig(),
              agent_api: AgentAPI | None = None) -> tuple[gr.Blocks, Handlers]:
    """The Blocks app and its handlers for one Library; the policy is built on the first question."""
    h = Handlers(library, policy_factory, config, agent_api)
    with gr.Blocks(title=config.title, analytics_enabled=False) as demo:
        gr.Markdown("# CiteClip\nAsk your long videos questions; every answer cites the moments that show it.",
                    elem_id="cc-header")
        lib_sig = gr.State(None)
        ask_state = gr.State({})
        with gr.Tabs():
            # -- Library ----------------------------------------------------------------------------
            with gr.Tab("Library", id="library"):
                with gr.Row():
                    with gr.Column(scale=1):
                        upload = gr.File(label=f"Upload a video (max {config.max_upload_mb} MB)",
                                         file_types=list(config.video_exts), file_count="single",
                                         type="filepath", elem_id="upload")
                        gr.Markdown(f"Types: {' '.join(e.lstrip('.') for e in config.video_exts)}. "
                                    f"Size limit: **{config.max_upload_mb} MB**. Indexing runs in the "
                                    f"background; you can reload the page.", elem_classes=["cc-note"])
                        upload_note = gr.Markdown(elem_id="upload-note")
                    with gr.Column(scale=2):
                        jobs_html = gr.HTML(h.jobs_html(), elem_id="jobs", label="Indexing")
                table = gr.Dataframe(headers=LIBRARY_HEADERS, value=[], interactive=False, wrap=True,
                                     label="Videos", elem_id="videos")
                with gr.Row():
                    lib_video = gr.Dropdown(label="Video", choices=[], scale=3, elem_id="lib-video",
                                            allow_custom_value=True)
                    reindex_btn = gr.Button("Re-index", scale=1)
                    delete_btn = gr.Button("Delete", variant="stop", scale=1)
                lib_note = gr.Markdown()
            # -- Ask --------------------------------------------------------------------------------
            with gr.Tab("Ask", id="ask"):
                with gr.Row():
                    with gr.Column(scale=5):
                        ask_video = gr.Dropdown(label="Video", choices=[], elem_id="ask-video", allow_custom_value=True)
                        video_note = gr.Markdown()
                        player = gr.Video(label="Player", interactive=False, elem_id="player", height=340)
                        question = gr.Textbox(label="Question", placeholder="When does …? What is written on …?",
                                              lines=2, elem_id="question")
                        examples = _examples()
                        if examples:
                            gr.Examples(examples=[[q] for q in examples], inputs=[question], label="Examples")
                        with gr.Row():
                            ask_btn = gr.Button("Ask", variant="primary", elem_id="ask-btn")
                            stop_btn = gr.Button("Stop", elem_id="stop-btn")
                        answer_md = gr.Markdown(elem_id="answer")
                        chips = gr.Dataset(components=["textbox"], samples=[], type="index",
                                           label="Citations (click to play)", layout="gallery",
                                           elem_id="citations", visible=False, samples_per_page=50)
                        with gr.Accordion("Past sessions", open=False):
                            with gr.Row():
                                sessions = gr.Dropdown(label="Session", choices=[], scale=3, elem_id="sessions",
                                                       allow_custom_value=True)
                                replay_btn = gr.Button("Replay", scale=1, elem_id="replay-btn")
                    with gr.Column(scale=6):
                        chat = gr.Chatbot(label="Agent trace", height=430, elem_id="trace",
                                          group_consecutive_messages=False, buttons=["copy_all"])
                plot = gr.Plot(value=timeline.build_figure([], None),
                               label="Evolving context — click a span to play it", elem_id="timeline")
                gallery = gr.Gallery(label="Evidence: frames the agent looked at (click to play)", columns=6,
                                     height=240, elem_id="evidence", allow_preview=False)
                with gr.Accordion("Answer JSON", open=False):
                    answer_json = gr.JSON(elem_id="answer-json")
                seek_box = gr.Textbox(visible="hidden", elem_id="seek-request")
                seek_go = gr.Button("seek", visible="hidden", elem_id="seek-go")
            # -- Export -----------------------------------------------------------------------------
            with gr.Tab("Export", id="export"):
                with gr.Row():
                    exp_session = gr.Dropdown(label="Session", choices=[], scale=3, elem_id="export-session",
                                              allow_custom_value=True)
                    prep_btn = gr.Button("Prepare downloads", scale=1, elem_id="prepare-btn")
                exp_note = gr.Markdown()
                with gr.Row(elem_id="downloads"):
                    dl_buttons = [gr.DownloadButton(EXPORT_LABELS.get(f, f), interactive=False,
                                                    elem_id=f"dl-{f}") for f in _formats(h)]

        # -- wiring --------------------------------------------------------------------------------
        poll_outputs = [jobs_html, table, lib_video, ask_video, lib_sig]
        timer = gr.Timer(config.poll_s)
        timer.tick(h.poll, [lib_sig], poll_outputs, show_progress="hidden", queue=False, api_visibility="private")
        demo.load(h.poll, [gr.State(None)], poll_outputs, show_progress="hidden", api_visibility="private")
        demo.load(h.export_choices, None, exp_session, show_progress="hidden", api_visibility="private")

        upload.upload(h.upload, [upload], [upload_note], api_name="upload").then(
            lambda: None, None, upload, show_progress="hidden", api_visibility="private")
        gr.Button(visible=False).click(h.library_table, None, table, api_name="library")
        reindex_btn.click(h.reindex, [lib_video], [lib_note], api_name="reindex")
        delete_btn.click(h.delete, [lib_video], [lib_note], api_name="delete",
                         js="(v) => (v && confirm('Delete this video and everything derived from it?')) ? v : null")

        ask_video.change(h.select_video, [ask_video], [player, sessions, video_note], api_name="select_video")
        view_outputs = [chat, plot, answer_md, chips, gallery, ask_state, answer_json]
        # Progress shows on the answer panel only: on the Chatbot, Gradio draws a "•••" bubble after every
        # finished trace message while the event streams (the trace has its own "Working…" line).
        ask_evt = ask_btn.click(h.ask, [ask_video, question], view_outputs, api_name="ask",
                                concurrency_limit=config.model_concurrency, concurrency_id="model",
                                show_progress_on=[answer_md])
        submit_evt = question.submit(h.ask, [ask_video, question], view_outputs,
                                     concurrency_limit=config.model_concurrency, concurrency_id="model",
                                     api_visibility="private", show_progress_on=[answer_md])
        stop_btn.click(None, None, None, cancels=[ask_evt, submit_evt])
        for evt in (ask_evt, submit_evt):
            evt.then(h.after_answer, [ask_state], [sessions, exp_session], show_progress="hidden",
                     api_visibility="private")
        replay_btn.click(h.replay, [sessions], view_outputs, api_name="replay", show_progress_on=[answer_md])

        chips.click(h.seek_citation, [chips, ask_state], [player], show_progress="hidden", queue=False)
        gallery.select(h.seek_gallery, [ask_state], [player], show_progress="hidden", queue=False,
                       api_visibility="private")
        seek_go.click(h.seek_request, [seek_box], [player], show_progress="hidden", queue=False,
                      api_visibility="private")

        prep_btn.click(h.prepare_exports, [exp_session], [*dl_buttons, exp_note], api_name="export")
        # Picking a session only disables the previous session's downloads; the button prepares them, once.
        exp_session.input(h.clear_exports, [exp_session], [*dl_buttons, exp_note], show_progress="hidden",
                          queue=False, api_visibility="private")
    return demo, h


def _formats(h: Handlers) -> tuple[str, ...]:
    try:
        return h.agent.formats
    except ImportError:  # the agent room is missing: the page still opens, exports say why
        return tuple(EXPORT_LABELS)


def launch(demo: gr.Blocks, h: Handlers, host: str = "127.0.0.1", port: int | None = None,
           auth: list[tuple[str, str]] | None = None, share: bool = False,
           prevent_thread_lock: bool = False, quiet: bool = False) -> Any:
    """Launch with CiteClip's serving rules (see the module docstring)."""
    served = [str(p) for p in h.served_dirs()]
    for p in h.served_dirs():
        p.mkdir(parents=True, exist_ok=True)
    # Static, so that a multi-GB video is served in place instead of copied into Gradio's cache.
    gr.set_static_paths(served)
    demo.queue(default_concurrency_limit=4)
    return demo.launch(
        server_name=host, server_port=port, auth=auth, share=share, prevent_thread_lock=prevent_thread_lock,
        quiet=quiet, allowed_paths=served, blocked_paths=[str(p) for p in h.blocked_paths()],
        max_file_size=h.config.max_upload_bytes, ssr_mode=False, show_error=True,
        css_paths=[ASSETS / "style.css"], js=SEEK_JS, footer_links=["api"],
        auth_message="CiteClip: sign in to reach your video library." if auth else None,
    )
