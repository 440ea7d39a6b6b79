"""The gate's pieces on their own: which citations resolve to a returned clip, which times stay, what is quoted."""
from __future__ import annotations

from pathlib import Path

import pytest

from agent.beliefs import Hypothesis
from agent.answer_reader import Reader
from agent.gate import TIME_REMOVED, cited_refs, claim_for, compose, raw_citations, resolve, scrub_times
from tests.fixtures.agent_fake import Row, fake_library

CLIPS = {"c1": {"start_s": 10.0, "end_s": 14.0}, "c2": {"start_s": 40.0, "end_s": 50.0}}


@pytest.mark.parametrize("cite,ref", [
    ("c2", "c2"),
    ({"ref": "c1"}, "c1"),
    ("c9", None),                                  # never returned
    ("10.0-14.0", None),                           # a string that is not a ref
    ({"start_s": 10.2, "end_s": 13.9}, "c1"),     # the same moment, a little off
    ({"start_s": 9.5, "end_s": 11.0}, "c1"),      # inside the clip within the tolerance
    ({"start_s": 41.0, "end_s": 49.0}, "c2"),
    ({"start_s": 20.0, "end_s": 30.0}, None),     # between the clips
    ({"start_s": 14.0, "end_s": 10.0}, None),     # backwards
    ({"start_s": "soon", "end_s": 12}, None),
    ({"end_s": 12}, None),
    (12, None),
])
def test_a_citation_resolves_only_to_a_returned_clip(cite, ref) -> None:
    assert resolve(cite, CLIPS, tolerance_s=1.0) == ref


def test_times_no_clip_covers_are_removed() -> None:
    text, removed = scrub_times("At 0:12, then 0:45.5, then 1:30 and 100 s; also 13 seconds and 1:00:12.", CLIPS, 1.0)
    assert removed == ["1:30", "1:00:12", "100 s"]
    assert "0:12" in text and "0:45.5" in text and "13 seconds" in text and text.count(TIME_REMOVED) == 3


def test_raw_citations_and_the_claim_to_verify() -> None:
    assert raw_citations({"citations": ["c1", "c2"]}) == ["c1", "c2"]
    assert raw_citations({"clip": "c3"}) == ["c3"]                 # a narrow choice names one clip
    assert raw_citations({"citations": "c1"}) == [] and raw_citations({}) == []
    assert claim_for("The umbrella is yellow.", "What colour?") == "The umbrella is yellow."
    assert claim_for("It is at that moment.", "What colour is the umbrella?") == "umbrella"


def test_compose_quotes_the_line_that_answers(tmp_path: Path) -> None:
    lib = fake_library(tmp_path, speech=[Row(10, 12, "we walked to the park"), Row(12, 14, "my umbrella is yellow")],
                       screen=[Row(11, 13, "EXIT")])
    h = Hypothesis(ref="c1", video_id=lib.video_id, start_s=10.0, end_s=14.0, snippet="walked … park", logit=0.0)
    blank = Hypothesis(ref="c2", video_id=lib.video_id, start_s=80.0, end_s=90.0, snippet="", logit=0.0)
    text = compose([h, blank], Reader(lib, lib.video_id, "What colour is the umbrella?"))
    assert text == 'yellow. 0:12.0-0:14.0: "my umbrella is yellow" 1:20.0-1:30.0 (visual match)'  # led by the colour
    lib.close()


def test_citations_of_one_moment_are_cited_once_under_its_first_ref() -> None:
    from agent.beliefs import Beliefs

    beliefs = Beliefs()
    clips = {**CLIPS, "c3": {"start_s": 10.5, "end_s": 14.0}}
    beliefs.add_retrieval(1, [{"ref": r, "video_id": 1, **c} for r, c in CLIPS.items()])
    beliefs.add_retrieval(2, [{"ref": "c3", "video_id": 1, **clips["c3"]}])  # found again by another query
    refs, removed = cited_refs(["c3", "c1", "c7", {"start_s": 40, "end_s": 50}], clips, beliefs, 1.0)
    assert refs == ["c1", "c2"] and removed == ["c7"]


def test_a_card_read_on_one_frame_is_covered_by_its_clip(tmp_path: Path) -> None:
    """A screen line of zero length (one frame) inside a returned clip is cited with that clip, not refused."""
    from agent.answer import Candidate
    from agent.beliefs import Beliefs
    from agent.evidence import Line
    from agent.gate import Gate, GateConfig

    lib = fake_library(tmp_path, screen=[Row(117, 117, "Lantern Media Fund")])
    clips = {"c1": {"start_s": 117.0, "end_s": 117.0}, "c2": {"start_s": 7.0, "end_s": 12.0}}
    beliefs = Beliefs()
    beliefs.add_retrieval(1, [{"ref": r, "video_id": lib.video_id, **c} for r, c in clips.items()])
    gate = Gate(lib, lib.video_id, "Which media fund supported the report?", clips, beliefs, GateConfig(), True)
    card = Candidate((Line(117.0, 117.0, "Lantern Media Fund", "screen"),), 0.8, 0.5)
    assert [h.ref for h in gate._covering(card)] == ["c1"]
    far = Candidate((Line(60.0, 60.0, "Lantern Media Fund", "screen"),), 0.8, 0.5)
    assert gate._covering(far) == []
    lib.close()
