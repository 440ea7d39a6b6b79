"""The third blind set's own checks (bench/blind3.py, tests/fixtures/blind3_scripts.py); the checks every
held-out and blind set passes (every kind, answers inside their spans, films of two to four minutes, nothing
shared with the sets before it) are in tests/test_question_sets.py. Nothing here runs the agent on it."""
from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from bench import blind2
from bench.agent_dev import question_set
from bench.agent_score import has_phrase
from bench.blind3 import QUESTIONS
from bench.devset import KINDS
from tests.fixtures import blind2_scripts
from tests.fixtures import question_set_checks as check
from tests.fixtures.blind3_scripts import SCRIPTS
from tests.fixtures.devset import DevVideo, build_devset
from tests.test_question_sets import truths as set_truths

SCRIPT = {s.name: s for s in SCRIPTS}


def truth(film: str) -> DevVideo:
    """A film's ground truth, built once per test run with the shared checks' (tests/test_question_sets.py)."""
    return set_truths("blind3")[film]


def test_the_set_is_big_enough_and_each_film_is_asked_every_kind() -> None:
    check.check_set_shape(QUESTIONS, set(SCRIPT), min_unanswerable=8)
    assert len(QUESTIONS) >= 50
    per_film = {name: Counter(q.kind for q in QUESTIONS if q.video == name) for name in SCRIPT}
    assert all(set(kinds) == set(KINDS) and kinds["unanswerable"] >= 4 for kinds in per_film.values()), per_film


def test_the_bench_runs_it_by_name_and_keeps_the_set_before_it() -> None:
    assert question_set("blind3") == (QUESTIONS, SCRIPTS)
    assert question_set("blind2") == (blind2.QUESTIONS, blind2_scripts.SCRIPTS)


def test_the_host_and_the_reporter_are_named_only_on_screen() -> None:
    for film, name in (("tile_weekend", "nadia"), ("tile_weekend", "gerry"), ("open_night", "maeve")):
        check.check_only_on_screen(truth(film), name)


def test_some_numbers_and_times_are_only_on_screen() -> None:
    for film, number in (("tile_weekend", "48"), ("tile_weekend", "75 mm"), ("tile_weekend", "87.40"),
                         ("open_night", "9:30"), ("open_night", "8:00")):
        check.check_only_on_screen(truth(film), number)


def test_the_timetable_board_shows_its_heading_and_rows_together() -> None:
    screen = truth("open_night").screen
    heading = next(x for x in screen if x.text == "TONIGHT")
    rows = {x.text for x in screen if (x.start_s, x.end_s) == (heading.start_s, heading.end_s)}
    assert rows == {"TONIGHT", "6:45 Doors open", "7:15 Talk: The Giant Planets", "8:00 Telescope viewing",
                    "9:30 Last entry to the dome"}


def test_a_fact_and_its_reason_are_said_in_consecutive_sentences() -> None:
    # The answer to "why" lies in the sentence after the one that states the fact, so a one-sentence span misses it.
    for question in ("why not spread all the adhesive in one go", "Why does the dome have to be kept cold?"):
        q = next(x for x in QUESTIONS if x.question == question)
        (ref,) = q.refs
        t = truth(q.video)
        assert t.keys[ref.last] == t.keys[ref.first] + 1
        assert not any(has_phrase(t.sentence(ref.first).text, p) for p in q.answers[0]), question


@pytest.mark.slow
def test_the_third_blind_films_are_built_with_their_truth(artifacts: Path) -> None:
    check.check_built_films(build_devset(artifacts / "devset", (), SCRIPTS), SCRIPTS)
