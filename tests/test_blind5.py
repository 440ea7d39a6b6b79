"""The fifth blind set's own checks (bench/blind5.py, tests/fixtures/blind5_scripts.py): what its two films
show only on screen, their cards, the slip the agent corrects and the sentences a "why" needs. The checks every
held-out and blind set passes (every kind, answers inside their spans, films of two to four minutes, nothing
shared with the sets before it) are in tests/test_question_sets.py. Nothing here runs the agent on it."""
from __future__ import annotations

from pathlib import Path

import pytest

from bench import blind4
from bench.agent_dev import question_set
from bench.agent_score import has_phrase
from bench.blind5 import QUESTIONS
from tests.fixtures import blind4_scripts
from tests.fixtures import question_set_checks as check
from tests.fixtures.blind5_scripts import SCRIPTS
from tests.fixtures.devset import DevVideo, build_devset
from tests.test_question_sets import truths as set_truths

FILMS = {s.name for s in SCRIPTS}


def truth(film: str) -> DevVideo:
    """A film's ground truth, built once per test run with the shared checks' (tests/test_question_sets.py)."""
    return set_truths("blind5")[film]


def test_the_set_is_big_enough_and_each_film_on_its_own_is_a_whole_set() -> None:
    assert len(QUESTIONS) >= 60
    check.check_set_shape(QUESTIONS, FILMS, min_unanswerable=8)
    for film in FILMS:  # every kind, four or more unanswerable, for each film alone
        check.check_set_shape([q for q in QUESTIONS if q.video == film], {film}, min_unanswerable=4)


def test_the_bench_runs_it_by_name_and_keeps_the_set_before_it() -> None:
    assert question_set("blind5") == (QUESTIONS, SCRIPTS)
    assert question_set("blind4") == (blind4.QUESTIONS, blind4_scripts.SCRIPTS)


def test_the_people_the_rent_and_the_club_figures_are_only_on_screen() -> None:
    only_on_screen = {"flat_tour": ("marisol", "moyo", "1,150", "1,325", "band b", "3.6", "01632"),
                      "colts_season": ("gareth", "priyanka", "jess farrow", "won 11", "3,460", "164", "mill road",
                                       "30 aug")}
    for film, phrases in only_on_screen.items():
        for phrase in phrases:
            check.check_only_on_screen(truth(film), phrase)


def test_a_details_card_and_a_fundraiser_card_show_their_heading_and_rows_together() -> None:
    for film, heading, rows in (
            ("flat_tour", "THE DETAILS", {"Rent: £1,150 per month", "Deposit: £1,325", "Council tax: Band B",
                                          "Energy rating: C"}),
            ("colts_season", "SPONSORED WALK", {"Raised: £3,460", "Walkers: 112", "Distance: 14 miles"})):
        check.check_card_rows(truth(film), heading, rows)


def test_the_floor_is_said_wrong_first_and_the_question_points_at_the_correction() -> None:
    # A span on the slip alone would give the wrong floor.
    t = truth("flat_tour")
    floor = next(q for q in QUESTIONS if q.question == "Which floor is it on?")
    assert has_phrase(t.sentence("m2").text, "third floor") and not has_phrase(t.sentence("m2").text, "second")
    assert [r.first for r in floor.refs] == ["m3"] and has_phrase(t.sentence("m3").text, "second floor")


def test_every_why_spans_a_fact_and_the_next_sentence_which_alone_holds_the_reason() -> None:
    check.check_whys_span_the_reason(QUESTIONS, set_truths("blind5"))


@pytest.mark.slow
def test_the_fifth_blind_films_are_built_with_their_truth(artifacts: Path) -> None:
    check.check_built_films(build_devset(artifacts / "devset", (), SCRIPTS), SCRIPTS)
