"""The blind set's own checks (bench/blind.py, tests/fixtures/blind_scripts.py); the checks every held-out and
blind set passes are in tests/test_question_sets.py. Nothing here runs the agent on it."""
from __future__ import annotations

from pathlib import Path

import pytest

from bench.agent_score import has_phrase
from bench.blind import QUESTIONS
from bench.devset import KINDS
from tests.fixtures import question_set_checks as check
from tests.fixtures.blind_scripts import SCRIPTS
from tests.fixtures.devset import DevVideo, build_devset, script_truth

SCRIPT = {s.name: s for s in SCRIPTS}


@pytest.fixture(scope="module")
def truths() -> dict[str, DevVideo]:
    return {s.name: script_truth(s) for s in SCRIPTS}


def test_the_set_is_big_enough_and_each_film_is_asked_every_kind() -> None:
    check.check_set_shape(QUESTIONS, set(SCRIPT))
    for name in SCRIPT:
        assert {q.kind for q in QUESTIONS if q.video == name} == set(KINDS), name
        assert sum(q.kind == "unanswerable" for q in QUESTIONS if q.video == name) >= 3, name


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
