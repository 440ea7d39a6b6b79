"""The blind set: its questions agree with its films' ground truth, it covers every kind of question, and it
shares nothing with the development and held-out sets (bench/blind.py, tests/fixtures/blind_scripts.py).
These tests check the set's mechanics only; nothing here runs the agent on it."""
from __future__ import annotations

from pathlib import Path

import pytest

from bench import devset, heldout
from bench.agent_dev import select
from bench.agent_score import has_phrase
from bench.blind import QUESTIONS
from bench.devset import KINDS
from tests.fixtures import devset_scripts, heldout_scripts
from tests.fixtures import question_set_checks as check
from tests.fixtures.blind_scripts import SCRIPTS
from tests.fixtures.devset import DevVideo, build_devset, script_truth

SCRIPT = {s.name: s for s in SCRIPTS}
ANSWERABLE = [q for q in QUESTIONS if q.kind != "unanswerable"]


@pytest.fixture(scope="module")
def truths() -> dict[str, DevVideo]:
    return {s.name: script_truth(s) for s in SCRIPTS}


def test_the_set_is_big_enough_and_each_film_is_asked_every_kind() -> None:
    check.check_set_shape(QUESTIONS, set(SCRIPT))
    for name in SCRIPT:
        assert {q.kind for q in QUESTIONS if q.video == name} == set(KINDS), name
        assert sum(q.kind == "unanswerable" for q in QUESTIONS if q.video == name) >= 3, name


def test_it_shares_no_film_question_sentence_or_screen_line_with_the_other_sets(
        truths: dict[str, DevVideo]) -> None:
    check.check_shares_nothing(QUESTIONS, truths, devset.QUESTIONS + heldout.QUESTIONS,
                               devset_scripts.SCRIPTS + heldout_scripts.SCRIPTS)


def test_films_are_two_to_four_minutes_and_speech_never_overlaps(truths: dict[str, DevVideo]) -> None:
    assert set(truths) == {"repair_cafe", "hill_harriers"}
    check.check_film_timing(truths)


@pytest.mark.parametrize("q", ANSWERABLE, ids=lambda q: q.question[:40])
def test_the_answer_is_said_or_shown_inside_its_spans(q: devset.DevQuestion, truths: dict[str, DevVideo]) -> None:
    check.check_answer_inside_spans(q, truths[q.video])


def test_an_unanswerable_question_names_nothing_the_film_holds(truths: dict[str, DevVideo]) -> None:
    check.check_unanswerable_names_nothing_held(QUESTIONS, truths)


def test_a_list_question_needs_several_sentences(truths: dict[str, DevVideo]) -> None:
    check.check_lists_span_sentences(QUESTIONS, truths)


def test_a_short_run_still_covers_every_kind() -> None:
    assert {q.kind for q in select((), len(KINDS), QUESTIONS)} == set(KINDS)
    assert all(q.kind == "number" for q in select(("number",), 0, QUESTIONS))


def test_the_coordinator_and_the_captain_are_named_only_on_screen(truths: dict[str, DevVideo]) -> None:
    for film, name in (("repair_cafe", "margit"), ("hill_harriers", "rosalind")):
        t = truths[film]
        assert not any(has_phrase(s.text, name) for s in t.speech), film
        assert any(has_phrase(x.text, name) for x in t.screen), film


def test_the_two_funders_share_one_card(truths: dict[str, DevVideo]) -> None:
    for film, pair in (("repair_cafe", ("Borough Council", "Tinker")), ("hill_harriers", ("Lottery", "Parish"))):
        a, b = (next(x for x in truths[film].screen if text in x.text) for text in pair)
        assert (a.start_s, a.end_s) == (b.start_s, b.end_s), film


@pytest.mark.slow
def test_the_blind_films_are_built_with_their_truth(artifacts: Path) -> None:
    check.check_built_films(build_devset(artifacts / "devset", (), SCRIPTS), SCRIPTS)
