"""The evolving-context timeline: a Plotly figure built from the context's event dicts.

Video time runs along x. Lanes, bottom to top: the shots, one lane per retrieval step (its clips
coloured by step), the speech / on-screen-text hits, the verifications (markers coloured by
verdict), and the cited spans. Every drawn item carries `customdata = [start_s, end_s]` so the
page's click handler (see `ui/layout.py`, `SEEK_JS`) can seek the player to it.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import plotly.graph_objects as go
from plotly.colors import qualitative

from ui.fmt import fmt_span, fmt_time, shorten

LANE_SHOTS = "shots"
LANE_TEXT = "speech & text hits"
LANE_VERIFY = "verifications"
LANE_CITED = "cited"
TEXT_CHANNELS = ("speech", "ocr", "fts")
VERDICT_COLOUR = {"supported": "#2ca02c", "refuted": "#d62728", "uncertain": "#8c8c8c"}
CHANNEL_COLOUR = {"speech": "#9467bd", "ocr": "#17becf", "fts": "#bcbd22"}


@dataclass(frozen=True)
class TimelineConfig:
    min_width_frac: float = 0.004   # shortest drawn bar as a fraction of the video, so 0.1 s hits stay visible
    lane_px: int = 34               # height of one lane in pixels
    base_px: int = 90               # margins and axis
    palette: tuple[str, ...] = tuple(qualitative.Plotly)  # step colours, cycled


def step_colour(n: int, config: TimelineConfig = TimelineConfig()) -> str:
    """The colour of retrieval step `n` (stable across redraws)."""
    return config.palette[n % len(config.palette)]


def _bars(fig: go.Figure, lane: str, spans: list[tuple[float, float]], hover: list[str], colour: str | list[str],
          name: str, min_w: float, opacity: float = 0.85, legend: bool = True) -> None:
    if not spans:
        return
    widths = [max(b - a, min_w) for a, b in spans]
    fig.add_trace(go.Bar(
        y=[lane] * len(spans), x=widths, base=[a for a, _ in spans], orientation="h",
        marker={"color": colour, "line": {"width": 0.5, "color": "#333"}}, opacity=opacity, name=name,
        hovertext=hover, hovertemplate="%{hovertext}<extra></extra>",
        customdata=[[a, b] for a, b in spans], showlegend=legend, width=0.7,
    ))


def build_figure(events: Sequence[dict[str, Any]], duration_s: float | None,
                 shots: Sequence[dict[str, Any]] = (), config: TimelineConfig = TimelineConfig()) -> go.Figure:
    """The timeline for the events seen so far (call again at every step to redraw)."""
    duration = float(duration_s or 0.0)
    for e in events:  # a video of unknown length still shows what was touched
        for a, b in e.get("spans") or []:
            duration = max(duration, float(b))
    duration = duration or 1.0
    min_w = duration * config.min_width_frac
    fig = go.Figure()
    lanes: list[str] = [LANE_SHOTS]

    if shots:
        spans = [(float(s["start_s"]), float(s["end_s"])) for s in shots]
        hover = [f"shot {s.get('idx', i)} · {fmt_span(a, b)}" for i, (s, (a, b)) in enumerate(zip(shots, spans))]
        colours = ["#c7c7c7" if i % 2 == 0 else "#a6a6a6" for i in range(len(spans))]
        _bars(fig, LANE_SHOTS, spans, hover, colours, "shots", min_w, opacity=1.0, legend=False)

    text_hits: dict[str, tuple[list[tuple[float, float]], list[str]]] = {}
    queries = {int(e["n"]): e.get("arguments") or {} for e in events if e.get("kind") == "tool_call"}
    for e in events:
        if e.get("kind") != "tool_result" or e.get("error") or e.get("tool") not in (None, "retrieve_clip"):
            continue
        n = int(e.get("n", 0))
        args = queries.get(int(e["call"])) if e.get("call") is not None else None
        query = (args or {}).get("query", "")
        lane = f"step {n}: {shorten(query, 22)}" if query else f"step {n}: retrieved"
        lanes.append(lane)
        clips = e.get("clips") or []
        spans = [(float(c["start_s"]), float(c["end_s"])) for c in clips]
        hover = [_clip_hover(n, c) for c in clips]
        _bars(fig, lane, spans, hover, step_colour(n, config), f"step {n}", min_w)
        for c in clips:
            for ch in c.get("sources") or []:
                if ch in TEXT_CHANNELS:
                    sp, hv = text_hits.setdefault(ch, ([], []))
                    sp.append((float(c["start_s"]), float(c["end_s"])))
                    hv.append(_clip_hover(n, c))

    if text_hits:
        lanes.append(LANE_TEXT)
        for ch, (sp, hv) in text_hits.items():
            _bars(fig, LANE_TEXT, sp, hv, CHANNEL_COLOUR.get(ch, "#7f7f7f"), ch, min_w, opacity=0.6)

    verifs = [e for e in events if e.get("kind") == "verification" and not e.get("error")]
    if verifs:
        lanes.append(LANE_VERIFY)
        for verdict, colour in VERDICT_COLOUR.items():
            vs = [v for v in verifs if v.get("verdict", "uncertain") == verdict]
            if not vs:
                continue
            ts = [float(v.get("t_s", 0.0)) for v in vs]
            fig.add_trace(go.Scatter(
                y=[LANE_VERIFY] * len(vs), x=ts, mode="markers", name=verdict,
                marker={"color": colour, "size": 13, "symbol": "diamond", "line": {"width": 1, "color": "#222"}},
                hovertext=[f"step {v.get('n')} · {verdict} at {fmt_time(t)}<br>{shorten(v.get('claim'), 80)}"
                           f"<br>{', '.join(v.get('methods') or [])}: {shorten(v.get('evidence'), 120)}"
                           for v, t in zip(vs, ts)],
                hovertemplate="%{hovertext}<extra></extra>", customdata=[[t, t] for t in ts],
            ))

    answer = next((e for e in reversed(events) if e.get("kind") == "answer"), None)
    cites = (answer or {}).get("citations") or []
    if cites:
        lanes.append(LANE_CITED)
        spans = [(float(c["start_s"]), float(c["end_s"])) for c in cites]
        hover = [f"cited {i + 1} · {fmt_span(a, b)} · confidence {float(c.get('confidence') or 0):.0%}"
                 for i, (c, (a, b)) in enumerate(zip(cites, spans))]
        _bars(fig, LANE_CITED, spans, hover, "#ff9f1c", "cited", min_w, opacity=1.0)

    fig.update_layout(
        barmode="overlay", height=config.base_px + config.lane_px * len(lanes),
        margin={"l": 10, "r": 10, "t": 48, "b": 36}, hovermode="closest", clickmode="event",
        legend={"orientation": "h", "y": 1.02, "yanchor": "bottom", "x": 1, "xanchor": "right", "font": {"size": 10}},
        xaxis={"range": [0, duration], "title": {"text": "video time (s)"}, "showgrid": True, "zeroline": False},
        yaxis={"categoryorder": "array", "categoryarray": lanes, "type": "category", "automargin": True,
               "range": [-0.5, len(lanes) - 0.5]},
        plot_bgcolor="#fafafa",
    )
    if not events:
        fig.add_annotation(text="Ask a question: each step of the agent will appear here.", showarrow=False,
                           x=duration / 2, y=LANE_SHOTS, yshift=20)
    return fig


def lanes_of(fig: go.Figure) -> list[str]:
    """The lane names of a figure, bottom to top (for tests and the page)."""
    return list(fig.layout.yaxis.categoryarray or [])


def _clip_hover(n: int, c: dict[str, Any]) -> str:
    ref = f"{c['ref']} · " if c.get("ref") else ""
    score = c.get("score")
    score_txt = f" · score {float(score):.3f}" if score is not None else ""
    snippet = f"<br>“{shorten(c.get('snippet'), 100)}”" if c.get("snippet") else ""
    return (f"step {n} · {ref}{fmt_span(c['start_s'], c['end_s'])}{score_txt}"
            f"<br>{'+'.join(c.get('sources') or [])}{snippet}")
