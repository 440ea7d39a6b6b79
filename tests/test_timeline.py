"""The evolving-context timeline: Plotly figures built from event dicts."""
from __future__ import annotations

from tests.ui_events import session_events
from ui import timeline

SHOTS = [{"idx": 0, "start_s": 0.0, "end_s": 20.0}, {"idx": 1, "start_s": 20.0, "end_s": 60.0}]


def _traces(fig, name=None, lane=None):
    out = []
    for tr in fig.data:
        if (name is None or tr.name == name) and (lane is None or lane in tuple(tr.y)):
            out.append(tr)
    return out


def test_lanes_grow_step_by_step():
    events = session_events()
    seen = []
    for i in range(1, len(events) + 1):
        seen.append(timeline.lanes_of(timeline.build_figure(events[:i], 60.0, SHOTS)))
    assert seen[0] == ["shots"]
    assert seen[3] == ["shots", "step 3: red scene", "speech & text hits"]
    assert seen[5][:3] == ["shots", "step 3: red scene", "step 5: word red on screen"]
    assert seen[-1][-2:] == ["verifications", "cited"]
    assert all(len(a) <= len(b) for a, b in zip(seen, seen[1:]))  # never shrinks


def test_bars_carry_span_hover_and_step_colour():
    fig = timeline.build_figure(session_events(), 60.0, SHOTS)
    (step3,) = _traces(fig, name="step 3")
    assert list(step3.base) == [10.0, 30.0] and list(step3.x) == [4.0, 1.0]
    assert [list(c) for c in step3.customdata] == [[10.0, 14.0], [30.0, 31.0]]
    assert "score 0.400" in step3.hovertext[1] and "“the red one”" in step3.hovertext[1]
    assert step3.marker.color == timeline.step_colour(3)
    assert timeline.step_colour(3) != timeline.step_colour(5)
    # The 1 s speech hit and the OCR hit are also on the text lane, coloured by channel.
    assert {t.name for t in _traces(fig, lane="speech & text hits")} == {"speech", "ocr", "fts"}
    (cited,) = _traces(fig, name="cited")
    assert list(cited.base) == [10.0] and "80%" in cited.hovertext[0]
    assert fig.layout.xaxis.range == (0, 60.0)


def test_verification_markers_coloured_by_verdict():
    events = session_events()
    refuted = dict(events[7], n=10, t_s=40.0, verdict="refuted")
    fig = timeline.build_figure(events + [refuted], 60.0)
    marks = {t.name: t for t in _traces(fig, lane="verifications")}
    assert set(marks) == {"supported", "refuted"}
    assert list(marks["refuted"].x) == [40.0]
    assert marks["refuted"].marker.color == timeline.VERDICT_COLOUR["refuted"]
    assert [list(c) for c in marks["supported"].customdata] == [[12.0, 12.0]]


def test_tiny_spans_stay_visible_and_unknown_duration_uses_spans():
    ev = session_events()[:4]
    fig = timeline.build_figure(ev, None)
    assert fig.layout.xaxis.range == (0, 31.0)  # the furthest span touched
    ev[3]["clips"][1]["end_s"] = 30.0  # a zero-length hit
    fig = timeline.build_figure(ev, 1000.0)
    (step3,) = _traces(fig, name="step 3")
    assert step3.x[1] >= 1000.0 * timeline.TimelineConfig().min_width_frac


def test_empty_figure_has_a_hint():
    fig = timeline.build_figure([], None)
    assert timeline.lanes_of(fig) == ["shots"] and "Ask a question" in fig.layout.annotations[0].text
