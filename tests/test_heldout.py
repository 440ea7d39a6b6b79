"""The held-out set: its questions agree with its films' ground truth, it covers every kind of question, and
it shares nothing with the development set it is held out from (bench/heldout.py,
tests/fixtures/heldout_scripts.py)."""
from __future__ import annotations

from pathlib import Path

import pytest

from bench import devset
from bench.agent_dev import select
from bench.agent_score import has_phrase
from bench.devset import KINDS
from bench.heldout import QUESTIONS
from tests.fixtures import devset_scripts
from tests.fixtures import question_set_checks as check
from tests.fixtures.devset import DevVideo, build_devset, script_truth
from tests.fixtures.heldout_scripts import SCRIPTS

SCRIPT = {s.name: s for s in SCRIPTS}
ANSWERABLE = [q for q in QUESTIONS if q.kind != "unanswerable"]


@pytest.fixture(scope="module")
def truths() -> dict[str, DevVideo]:
    return {s.name: script_truth(s) for s in SCRIPTS}


def test_the_set_is_big_enough_has_every_kind_and_six_unanswerable() -> None:
    check.check_set_shape(QUESTIONS, set(SCRIPT))
    for name in SCRIPT:  # each film is asked about, and asked something it cannot answer
        assert {q.kind for q in QUESTIONS if q.video == name} >= {"name", "number", "unanswerable"}, name


def test_it_shares_no_film_question_sentence_or_screen_line_with_the_dev_set(truths: dict[str, DevVideo]) -> None:
    check.check_shares_nothing(QUESTIONS, truths, devset.QUESTIONS, devset_scripts.SCRIPTS)


def test_films_are_two_to_four_minutes_and_speech_never_overlaps(truths: dict[str, DevVideo]) -> None:
    assert set(truths) == {"pan_flatbread", "clock_museum"}
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


def test_the_two_funders_share_one_card_and_the_presenter_is_named_only_on_screen(
        truths: dict[str, DevVideo]) -> None:
    museum = truths["clock_museum"]
    a, b = (next(x for x in museum.screen if name in x.text) for name in ("Dales Heritage", "Kestrel"))
    assert (a.start_s, a.end_s) == (b.start_s, b.end_s)
    cook = truths["pan_flatbread"]
    assert not any(has_phrase(s.text, "karim") for s in cook.speech)
    assert any(has_phrase(x.text, "nadia karim") for x in cook.screen)


@pytest.mark.slow
def test_the_heldout_films_are_built_with_their_truth(artifacts: Path) -> None:
    check.check_built_films(build_devset(artifacts / "devset", (), SCRIPTS), SCRIPTS)
