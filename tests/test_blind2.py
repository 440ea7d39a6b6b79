"""The second blind set's own checks (bench/blind2.py, tests/fixtures/blind2_scripts.py); the checks every
held-out and blind set passes are in tests/test_question_sets.py. Nothing here runs the agent on it."""
from __future__ import annotations

from pathlib import Path

import pytest

from bench import blind, devset
from bench.agent_dev import question_set
from bench.agent_score import has_phrase
from bench.blind2 import QUESTIONS
from bench.devset import KINDS
from tests.fixtures import blind_scripts, devset_scripts
from tests.fixtures import question_set_checks as check
from tests.fixtures.blind2_scripts import SCRIPTS
from tests.fixtures.devset import DevVideo, build_devset, script_truth

SCRIPT = {s.name: s for s in SCRIPTS}


@pytest.fixture(scope="module")
def truths() -> dict[str, DevVideo]:
    return {s.name: script_truth(s) for s in SCRIPTS}


def test_the_set_is_big_enough_and_each_film_is_asked_every_kind() -> None:
    check.check_set_shape(QUESTIONS, set(SCRIPT), min_unanswerable=8)
    assert len(QUESTIONS) >= 50
    for name in SCRIPT:
        assert {q.kind for q in QUESTIONS if q.video == name} == set(KINDS), name
        assert sum(q.kind == "unanswerable" for q in QUESTIONS if q.video == name) >= 4, name


def test_the_bench_runs_it_by_name_and_keeps_the_other_sets() -> None:
    assert question_set("blind2") == (QUESTIONS, SCRIPTS)
    assert question_set("blind") == (blind.QUESTIONS, blind_scripts.SCRIPTS)
    assert question_set("dev") == (devset.QUESTIONS, devset_scripts.SCRIPTS)


def test_the_vlogger_and_the_presenter_are_named_only_on_screen(truths: dict[str, DevVideo]) -> None:
    for film, name in (("island_day", "tess"), ("river_to_tap", "leonie")):
        t = truths[film]
        assert not any(has_phrase(s.text, name) for s in t.speech), film
        assert any(has_phrase(x.text, name) for x in t.screen), film


def test_some_numbers_are_only_on_screen(truths: dict[str, DevVideo]) -> None:
    for film, number in (("island_day", "5.75"), ("island_day", "8.50"), ("river_to_tap", "11%")):
        t = truths[film]
        assert not any(has_phrase(s.text, number) for s in t.speech), (film, number)
        assert any(has_phrase(x.text, number) for x in t.screen), (film, number)


def test_a_slide_shows_its_heading_and_lines_together(truths: dict[str, DevVideo]) -> None:
    lines = [x for x in truths["river_to_tap"].screen if (x.start_s, x.end_s) == next(
        (y.start_s, y.end_s) for y in truths["river_to_tap"].screen if y.text == "Where the water goes")]
    assert {x.text for x in lines} == {"Where the water goes", "Homes 68%", "Farms and industry 21%",
                                        "Lost to leaks 11%"}


@pytest.mark.slow
def test_the_second_blind_films_are_built_with_their_truth(artifacts: Path) -> None:
    check.check_built_films(build_devset(artifacts / "devset", (), SCRIPTS), SCRIPTS)
