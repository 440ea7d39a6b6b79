"""The agent benchmark's scoring (bench/agent_score.py, bench/agent_dev.py) on hand-made answers."""
from __future__ import annotations

import pytest

from bench.agent_dev import select, totals
from bench.agent_score import (Status, absent_words, answer_right, citation_hit, has_phrase, not_found_outcome,
                               read_status, score)
from bench.devset import QUESTIONS

MEMORY = ["Made possible with support from", "Alder Family Foundation", "Northwind Arts Council",
          "Mostly they eat seeds from the plane trees in the parks.",
          "They also raid the fruit that people leave in open bins.",
          "And in winter they strip the soft bark from young branches."]
FUNDER = ((("northwind arts council",),), [(118.2, 124.2)])
DIET = ((("seed", "fruit", "bark"),), [(47.0, 58.1)])


def test_phrases_match_case_punctuation_and_word_starts() -> None:
    assert has_phrase("Supported by the NORTHWIND ARTS-COUNCIL.", "northwind arts council")
    assert has_phrase("silver birches and red maples", "birch")
    assert has_phrase("St Anne's Hospital", "anne's hospital") and not has_phrase("Anne", "")
    assert not has_phrase("research", "search")           # a phrase starts at a word boundary
    assert answer_right("It is 2.4 million euros", [("2,4 million",), ("2.4 million",)])
    assert not answer_right("seeds and fruit", [("seed", "fruit", "bark")])
    assert not answer_right("anything", [])


def test_citation_hit_needs_an_overlap() -> None:
    assert citation_hit([(10.0, 20.0)], [(19.0, 25.0)])
    assert not citation_hit([(10.0, 19.0)], [(19.0, 25.0)])   # touching is not overlapping
    assert not citation_hit([], [(0.0, 5.0)])


def test_read_status_takes_the_reason_from_a_field_or_the_label() -> None:
    st = read_status("unverified", "Unverified (budget reached before verification): Alder Family Foundation")
    assert st == Status("unverified", "budget reached before verification")
    assert read_status("Unverified", "Unverified: x", reason="nothing supported it") == \
        Status("unverified", "nothing supported it")
    assert read_status("verified", "text").status == "answered"
    assert read_status("not_found", "I found no evidence").reason == ""


def test_right_answer_verified() -> None:
    s = score(*FUNDER, "Northwind Arts Council", Status("answered", ""), [(117.0, 121.0)], MEMORY)
    assert (s.hit, s.right, s.verified_but_wrong, s.right_but_unverified, s.absent) == (True, True, False, False, ())


def test_the_other_funder_on_the_same_card_is_verified_but_wrong() -> None:
    s = score(*FUNDER, "Alder Family Foundation", Status("answered", ""), [(117.0, 121.0)], MEMORY)
    assert s.hit and not s.right and s.verified_but_wrong and not s.right_but_unverified


def test_right_but_unverified_and_the_label_is_not_part_of_the_answer() -> None:
    text = "Unverified (budget reached before verification): Mostly they eat seeds ... fruit ... soft bark"
    s = score(*DIET, text, read_status("unverified", text), [(40.0, 50.0)], MEMORY)
    assert s.right and s.right_but_unverified and not s.verified_but_wrong
    assert s.absent == ()            # "unverified", "budget", "reached" are the label, not the answer


def test_one_sentence_of_a_three_sentence_list_is_wrong() -> None:
    s = score(*DIET, "Mostly they eat seeds from the plane trees", Status("answered", ""), [(47.0, 50.0)], MEMORY)
    assert s.hit and not s.right and s.verified_but_wrong


def test_words_absent_from_memory_are_listed_once() -> None:
    assert absent_words("The Northwind Arts Council funds birds, birds", MEMORY) == ["funds", "birds"]
    assert absent_words('0:30.8-0:35.6: "Northwind Arts Council" grants 1:02:03 7', MEMORY) == ["grants", "7"]
    s = score(*FUNDER, "Northwind Arts Council grants", Status("answered", ""), [(118.0, 119.0)], MEMORY)
    assert s.absent == ("grants",)


@pytest.mark.parametrize("status,text,reason,outcome", [
    ("not_found", "I found no evidence in this video that answers the question.", None, "not_found"),
    ("unverified", "Unverified (nothing supported it): Alder Family Foundation", None, "unverified_unsupported"),
    ("unverified", "Unverified (budget reached before verification): Alder Family Foundation", None, None),
    ("answered", "Alder Family Foundation", None, None),
])
def test_unanswerable_outcomes(status: str, text: str, reason: str | None, outcome: str | None) -> None:
    st = read_status(status, text, reason)
    assert not_found_outcome(st) == outcome
    s = score((), [], text, st, [(118.0, 119.0)], MEMORY)
    assert s.right == (outcome is not None) and s.not_found_outcome == outcome and not s.hit
    assert s.verified_but_wrong == (status == "answered")
    if status == "not_found":
        assert s.absent == ()        # the fixed not-found sentence is not an answer from memory


def test_totals_count_answerable_and_unanswerable_apart() -> None:
    def row(kind: str, hit: bool, right: bool, status: str, secs: float, **kw: object) -> dict[str, object]:
        return {"kind": kind, "hit": hit, "right": right, "status": status, "seconds": secs,
                "verified_but_wrong": kw.get("vbw", False), "right_but_unverified": kw.get("rbu", False),
                "not_found_outcome": kw.get("nfo"), "absent_words": kw.get("absent", [])}

    rows = [row("name", True, True, "answered", 5.0), row("speech", True, False, "answered", 30.0, vbw=True),
            row("number", False, True, "unverified", 7.0, rbu=True, absent=["x"]),
            row("unanswerable", False, True, "not_found", 3.0, nfo="not_found"),
            row("unanswerable", False, False, "answered", 4.0, vbw=True)]
    t = totals(rows)
    assert (t["answerable"], t["unanswerable"]) == (3, 2)
    assert t["citation_hit_rate"] == round(2 / 3, 4) and t["answer_right_rate"] == round(2 / 3, 4)
    assert t["not_found_correct_rate"] == 0.5
    assert t["not_found_outcomes"] == {"not_found": 1, "unverified_unsupported": 0, "gave_an_answer": 1}
    assert (t["verified_but_wrong"], t["right_but_unverified"], t["answers_with_absent_words"]) == (2, 1, 1)
    assert (t["median_seconds"], t["max_seconds"], t["over_20_seconds"]) == (5.0, 30.0, 1)
    assert t["by_kind"]["unanswerable"] == {"questions": 2, "right": 1, "hit": 0}


def test_select_filters_by_kind_then_limits() -> None:
    some = select(("unanswerable", "number"), 5)
    assert len(some) == 5 and {q.kind for q in some} <= {"unanswerable", "number"}
    assert len(select()) == len(QUESTIONS)


def test_a_zero_length_citation_hits_only_inside_a_true_span() -> None:
    from bench.agent_score import citation_hit

    assert citation_hit([(117.0, 117.0)], [(111.5, 117.5)])
    assert not citation_hit([(118.0, 118.0)], [(111.5, 117.5)])
    assert not citation_hit([(100.0, 111.5)], [(111.5, 117.5)])  # touching ends share no time


def test_a_time_code_is_not_an_answer_number() -> None:
    from bench.agent_score import answer_right

    assert not answer_right('1:17.8-1:20.0: "Each batch makes enough for the family."', [["8"], ["eight"]])
    assert answer_right('8 breads. 1:17.8-1:20.0: "Each batch makes 8 breads."', [["8"], ["eight"]])
    assert answer_right('6:30 pm. 1:17.8-1:20.0: "We meet at 6:30 pm."', [["6:30"]])  # a time said, kept
