"""The held-out set's own checks (bench/heldout.py, tests/fixtures/heldout_scripts.py); the checks every held-out
and blind set passes are in tests/test_question_sets.py."""
from __future__ import annotations

from pathlib import Path

import pytest

from bench.agent_score import has_phrase
from bench.heldout import QUESTIONS
from tests.fixtures import question_set_checks as check
from tests.fixtures.devset import DevVideo, build_devset, script_truth
from tests.fixtures.heldout_scripts import SCRIPTS

SCRIPT = {s.name: s for s in SCRIPTS}


@pytest.fixture(scope="module")
def truths() -> dict[str, DevVideo]:
    return {s.name: script_truth(s) for s in SCRIPTS}


def test_the_set_is_big_enough_has_every_kind_and_six_unanswerable() -> None:
    check.check_set_shape(QUESTIONS, set(SCRIPT))
    for name in SCRIPT:  # each film is asked about, and asked something it cannot answer
        assert {q.kind for q in QUESTIONS if q.video == name} >= {"name", "number", "unanswerable"}, name


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
