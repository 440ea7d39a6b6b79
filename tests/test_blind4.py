"""The fourth blind set's own checks (bench/blind4.py, tests/fixtures/blind4_scripts.py): what its two films
show only on screen, their cards, and the sentences a "why" needs. The checks every held-out and blind set passes
(every kind, answers inside their spans, films of two to four minutes, nothing shared with the sets before it)
are in tests/test_question_sets.py. Nothing here runs the agent on it."""
from __future__ import annotations

from pathlib import Path

import pytest

from bench import blind3
from bench.agent_dev import question_set
from bench.blind4 import QUESTIONS
from tests.fixtures import blind3_scripts
from tests.fixtures import question_set_checks as check
from tests.fixtures.blind4_scripts import SCRIPTS
from tests.fixtures.devset import DevVideo, build_devset
from tests.test_question_sets import truths as set_truths

FILMS = {s.name for s in SCRIPTS}


def truth(film: str) -> DevVideo:
    """A film's ground truth, built once per test run with the shared checks' (tests/test_question_sets.py)."""
    return set_truths("blind4")[film]


def test_the_set_is_big_enough_and_each_film_on_its_own_is_a_whole_set() -> None:
    assert len(QUESTIONS) >= 50
    check.check_set_shape(QUESTIONS, FILMS, min_unanswerable=8)
    for film in FILMS:  # every kind, four or more unanswerable, for each film alone
        check.check_set_shape([q for q in QUESTIONS if q.video == film], {film}, min_unanswerable=4)


def test_the_bench_runs_it_by_name_and_keeps_the_set_before_it() -> None:
    assert question_set("blind4") == (QUESTIONS, SCRIPTS)
    assert question_set("blind3") == (blind3.QUESTIONS, blind3_scripts.SCRIPTS)


def test_the_people_and_the_prices_specs_and_slide_figures_are_only_on_screen() -> None:
    only_on_screen = {"earbuds_review": ("rhys", "79", "129", "4.1", "12 hours", "POCKET15"),
                      "cinema_talk": ("hester", "alun", "vera lund", "1,180", "11 months", "1996", "5 March")}
    for film, phrases in only_on_screen.items():
        for phrase in phrases:
            check.check_only_on_screen(truth(film), phrase)


def test_a_spec_card_and_a_slide_show_their_heading_and_rows_together() -> None:
    for film, heading, rows in (
            ("earbuds_review", "KESTREL BUDS S", {"£129", "Weight: 6.3 g per bud", "Waterproof (IPX7)",
                                                 "Active noise cancelling"}),
            ("cinema_talk", "THE REGAL IN 1936", {"1,180 seats", "Built in 11 months",
                                                  "Tickets: 6d stalls, 1s 3d circle", "Architect: Vera Lund"})):
        check.check_card_rows(truth(film), heading, rows)


def test_every_why_spans_a_fact_and_the_next_sentence_which_alone_holds_the_reason() -> None:
    check.check_whys_span_the_reason(QUESTIONS, set_truths("blind4"))


@pytest.mark.slow
def test_the_fourth_blind_films_are_built_with_their_truth(artifacts: Path) -> None:
    check.check_built_films(build_devset(artifacts / "devset", (), SCRIPTS), SCRIPTS)
