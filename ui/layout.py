"""The page: Library, Ask and Export tabs wired to `ui.handlers.Handlers`, and a safe launcher.

`build_app(library, policy_factory)` is the app factory (tests call it with a fake or scripted
policy); `launch(demo, handlers, ...)` applies the serving rules: only uploads/, thumbs/ and
exports/ are reachable, library.db / index/ / models/ are blocked, uploads are capped, and questions
go through one queue slot so two users never run the model at once.
"""
from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import gradio as gr

from ui import guard, timeline
from ui.config import UIConfig
from ui.context import AgentAPI
from ui.export_tab import EXPORT_LABELS, ExportTab
from ui.handlers import Handlers
from ui.library_tab import LIBRARY_HEADERS, LibraryTab
from ui.page_js import DELETE_CONFIRM_JS, PAGE_JS, PLAY_FIRST_JS

if TYPE_CHECKING:
    from fastapi import FastAPI

    from agent.policy import Policy
    from memory.library import Library

STATIC = Path(__file__).resolve().parent / "static"  # the page's style sheet


def _library_tab(lib: LibraryTab, config: UIConfig) -> dict[str, Any]:
    with gr.Row():
        with gr.Column(scale=1, min_width=280):
            upload = gr.File(label=f"Upload a video (max {config.max_upload_mb} MB)",
                             file_types=list(config.video_exts), file_count="single",
                             type="filepath", elem_id="upload")
            gr.Markdown(f"Types: {' '.join(e.lstrip('.') for e in config.video_exts)}. "
                        f"Size limit: **{config.max_upload_mb} MB**. Indexing runs in the "
                        f"background; you can reload the page.", elem_classes=["cc-note"])
            upload_note = gr.Markdown(elem_id="upload-note")
        with gr.Column(scale=2, min_width=280):
            jobs_html = gr.HTML(lib.jobs_html(), elem_id="jobs", label="Indexing")
    table = gr.Dataframe(headers=LIBRARY_HEADERS, value=[], interactive=False, wrap=True,
                         label="Videos", elem_id="videos")
    with gr.Row():
        lib_video = gr.Dropdown(label="Video", choices=[], scale=3, elem_id="lib-video",
                                allow_custom_value=True)
        reindex_btn = gr.Button("Re-index", scale=1, interactive=False, elem_id="reindex-btn")
        delete_btn = gr.Button("Delete", variant="stop", scale=1, interactive=False, elem_id="delete-btn")
    lib_note = gr.Markdown(elem_id="lib-note")
    return locals()


def _ask_tab() -> dict[str, Any]:
    with gr.Row():
        with gr.Column(scale=5, min_width=320):
            ask_video = gr.Dropdown(label="Video", choices=[], elem_id="ask-video", allow_custom_value=True)
            video_note = gr.Markdown()
            player = gr.Video(label="Player", interactive=False, elem_id="player", height=340)
            poster = gr.HTML("", elem_id="poster-holder", visible="hidden")
            question = gr.Textbox(label="Question (Enter asks, Shift+Enter adds a line)",
                                  placeholder="When does …? What is written on …?",
                                  lines=1, max_lines=6, elem_id="question")
            with gr.Row():
                ask_btn = gr.Button("Ask", variant="primary", elem_id="ask-btn", interactive=False)
                stop_btn = gr.Button("Stop", elem_id="stop-btn", interactive=False)
            answer = gr.HTML("", elem_id="answer", js_on_load=None)
            examples = gr.Dataset(components=["textbox"], samples=[], label="Questions about this video",
                                  elem_id="examples", visible=False, samples_per_page=8)
            with gr.Accordion("Past sessions", open=False):
                with gr.Row():
                    sessions = gr.Dropdown(label="Session", choices=[], scale=3, elem_id="sessions",
                                           allow_custom_value=True)
                    replay_btn = gr.Button("Replay", scale=1, elem_id="replay-btn", interactive=False)
        with gr.Column(scale=6, min_width=320):
            with gr.Accordion("How it found this", open=False, elem_id="how") as how:
                chat = gr.Chatbot(label="Agent trace", height=430, elem_id="trace",
                                  group_consecutive_messages=False, buttons=["copy_all"])
    plot = gr.Plot(value=timeline.build_figure([], None),
                   label="Evolving context — click a span to play it", elem_id="timeline")
    gallery = gr.Gallery(label="Evidence: frames the agent looked at (click to play)", columns=4,
                         height="auto", object_fit="contain", elem_id="evidence", allow_preview=False)
    with gr.Accordion("Answer JSON", open=False):
        answer_json = gr.JSON(elem_id="answer-json")
    seek_box = gr.Textbox(visible="hidden", elem_id="seek-request")
    seek_go = gr.Button("seek", visible="hidden", elem_id="seek-go")
    return locals()


def _export_tab(exp: ExportTab) -> dict[str, Any]:
    exp_session = gr.Dropdown(label="Session", choices=[], elem_id="export-session", allow_custom_value=True)
    exp_note = gr.Markdown("Pick a session: its downloads are written at once.", elem_id="export-note")
    with gr.Row(elem_id="downloads"):
        dl_buttons = [gr.DownloadButton(EXPORT_LABELS.get(f, f), interactive=False, elem_id=f"dl-{f}")
                      for f in exp.formats()]
    clips_btn = gr.Button("Cut clips", elem_id="cut-btn", interactive=False)
    gr.Button(visible=False).click(exp.prepare_exports, [exp_session], [*dl_buttons, exp_note], api_name="export")
    return locals()


def build_app(library: Library, policy_factory: Callable[[], Policy], config: UIConfig = UIConfig(),
              agent_api: AgentAPI | None = None) -> tuple[gr.Blocks, Handlers]:
    """The Blocks app and its handlers for one Library; the policy is built on the first question."""
    h = Handlers(library, policy_factory, config, agent_api)
    lib, ask, exp = h.library_tab, h.ask_tab, h.export_tab
    with gr.Blocks(title=config.title, analytics_enabled=False) as demo:
        gr.Markdown("# CiteClip\nAsk your long videos questions; every answer cites the moments that show it.",
                    elem_id="cc-header")
        lib_sig = gr.State(None)
        ask_state = gr.State({})
        run_token = gr.State(None)
        with gr.Tabs():
            with gr.Tab("Library", id="library"):
                L = _library_tab(lib, config)
            with gr.Tab("Ask", id="ask"):
                A = _ask_tab()
            with gr.Tab("Export", id="export"):
                E = _export_tab(exp)

        # -- Library -------------------------------------------------------------------------------
        poll_outputs = [L["jobs_html"], L["table"], L["lib_video"], A["ask_video"], lib_sig]
        timer = gr.Timer(config.poll_s)
        timer.tick(lib.poll, [lib_sig], poll_outputs, show_progress="hidden", queue=False, api_visibility="private")
        demo.load(lib.poll, [gr.State(None)], poll_outputs, show_progress="hidden", api_visibility="private")
        demo.load(exp.export_choices, None, E["exp_session"], show_progress="hidden", api_visibility="private")
        L["upload"].upload(lib.upload, [L["upload"]], [L["upload_note"]], api_name="upload").then(
            lambda: None, None, L["upload"], show_progress="hidden", api_visibility="private")
        gr.Button(visible=False).click(lib.library_table, None, L["table"], api_name="library")
        L["lib_video"].change(lib.picked_actions, [L["lib_video"]], [L["reindex_btn"], L["delete_btn"]],
                              show_progress="hidden", queue=False, api_visibility="private")
        L["reindex_btn"].click(lib.reindex, [L["lib_video"]], [L["lib_note"]], api_name="reindex")
        L["delete_btn"].click(lib.delete, [L["lib_video"]], [L["lib_note"]], api_name="delete", js=DELETE_CONFIRM_JS)

        # -- Ask -----------------------------------------------------------------------------------
        A["ask_video"].change(ask.select_video, [A["ask_video"]],
                              [A["player"], A["sessions"], A["video_note"], A["examples"], A["poster"], A["ask_btn"]],
                              api_name="select_video")
        A["examples"].click(ask.use_example, [A["examples"]], [A["question"]], show_progress="hidden",
                            queue=False, api_visibility="private")
        view_outputs = [A["chat"], A["plot"], A["answer"], A["gallery"], ask_state, A["answer_json"]]
        run_outputs = [A["ask_btn"], A["stop_btn"], A["how"]]
        runs = []
        for trigger, api in ((A["ask_btn"].click, "ask"), (A["question"].submit, None)):
            # Ask and Enter: `begin` refuses a second run while one is going (Ask is disabled too), the run
            # streams its steps, `finish` re-enables Ask and folds the trace, then the player plays the answer.
            run = trigger(ask.begin, [A["ask_video"], A["question"]],
                          [A["ask_btn"], A["stop_btn"], A["answer"], A["how"], run_token],
                          show_progress="hidden", queue=False, api_visibility="private").then(
                ask.ask, [A["ask_video"], A["question"], run_token], view_outputs,
                api_name=api, api_visibility="public" if api else "private",
                concurrency_limit=config.model_concurrency, concurrency_id="model", show_progress_on=[A["answer"]])
            runs.append(run)
            run.then(ask.finish, None, run_outputs, show_progress="hidden", queue=False,
                     api_visibility="private").then(
                None, None, None, js=PLAY_FIRST_JS, api_visibility="private").then(
                exp.after_answer, [ask_state], [A["sessions"], E["exp_session"]], show_progress="hidden",
                api_visibility="private")
        A["stop_btn"].click(ask.stop, None, [A["ask_btn"], A["stop_btn"]], cancels=runs, queue=False,
                            api_visibility="private")
        A["sessions"].change(lambda s: gr.update(interactive=bool(s)), [A["sessions"]], [A["replay_btn"]],
                             show_progress="hidden", queue=False, api_visibility="private")
        A["replay_btn"].click(ask.replay, [A["sessions"]], view_outputs, api_name="replay",
                              show_progress_on=[A["answer"]]).then(
            None, None, None, js=PLAY_FIRST_JS, api_visibility="private")
        A["gallery"].select(ask.seek_gallery, [ask_state], [A["player"]], show_progress="hidden", queue=False,
                            api_visibility="private")
        A["seek_go"].click(ask.seek_request, [A["seek_box"]], [A["player"]], show_progress="hidden", queue=False,
                           api_visibility="private")

        # -- Export: a picked session's downloads are written at once; cut clips on request -----------
        downloads = [*E["dl_buttons"], E["exp_note"]]
        E["exp_session"].change(exp.prepare_quick, [E["exp_session"]], downloads, show_progress="hidden",
                                api_visibility="private").then(
            lambda s: gr.update(interactive=bool(s)), [E["exp_session"]], [E["clips_btn"]],
            show_progress="hidden", queue=False, api_visibility="private")
        E["clips_btn"].click(exp.prepare_clips, [E["exp_session"]], downloads, api_visibility="private",
                             show_progress_on=[E["exp_note"]])
    return demo, h


def launch(demo: gr.Blocks, h: Handlers, host: str = "127.0.0.1", port: int | None = None,
           auth: list[tuple[str, str]] | None = None, share: bool = False,
           prevent_thread_lock: bool = False, quiet: bool = False) -> tuple[FastAPI, str, str]:
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
        css_paths=[STATIC / "style.css"], js=PAGE_JS, footer_links=["api"],
        auth_message="CiteClip: sign in to reach your video library." if auth else None,
        app_kwargs=guard.app_kwargs(demo, h),  # the library's serving rules and private events (ui/guard.py)
    )
