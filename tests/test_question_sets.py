"""The checks every held-out and blind question set passes (bench/heldout.py, bench/blind*.py and
their films' scripts): its answers are said or shown inside their spans, its unanswerable questions name nothing
the films hold, its list questions need several sentences, a short run still covers every kind, its films are two
to four minutes, and it shares nothing with the sets made before it. Each set's own checks stay in test_<set>.py;
nothing here runs the agent."""
from __future__ import annotations

import pytest

from bench.agent_dev import SETS, question_set, select
from bench.devset import KINDS, DevQuestion
from tests.fixtures import question_set_checks as check
from tests.fixtures.devset import DevVideo, script_truth

ORDER = list(SETS)              # each set was written after those before it, and shares nothing with them
HELD = ORDER[1:]                # the sets held out from tuning (the development set has tests/test_devset.py)
_TRUTHS: dict[str, dict[str, DevVideo]] = {}


def truths(set_name: str) -> dict[str, DevVideo]:
    """The ground truth of a set's films, built from their scripts once per test run."""
    if set_name not in _TRUTHS:
        _TRUTHS[set_name] = {s.name: script_truth(s) for s in question_set(set_name)[1]}
    return _TRUTHS[set_name]


@pytest.mark.parametrize("set_name", HELD)
def test_the_set_has_every_kind_and_shares_nothing_with_the_sets_before_it(set_name: str) -> None:
    questions, scripts = question_set(set_name)
    check.check_set_shape(questions, {s.name for s in scripts})
    earlier = ORDER[: ORDER.index(set_name)]
    check.check_shares_nothing(questions, truths(set_name), [q for e in earlier for q in question_set(e)[0]],
                               [s for e in earlier for s in question_set(e)[1]])


@pytest.mark.parametrize("set_name", HELD)
def test_films_are_two_to_four_minutes_and_speech_never_overlaps(set_name: str) -> None:
    check.check_film_timing(truths(set_name))


@pytest.mark.parametrize("set_name", HELD)
def test_an_unanswerable_question_names_nothing_the_film_holds_and_a_list_needs_sentences(set_name: str) -> None:
    questions = question_set(set_name)[0]
    check.check_unanswerable_names_nothing_held(questions, truths(set_name))
    check.check_lists_span_sentences(questions, truths(set_name))


@pytest.mark.parametrize("set_name", HELD)
def test_a_short_run_still_covers_every_kind(set_name: str) -> None:
    questions = question_set(set_name)[0]
    assert {q.kind for q in select((), len(KINDS), questions)} == set(KINDS)
    assert all(q.kind == "number" for q in select(("number",), 0, questions))


@pytest.mark.parametrize("set_name,q", [(name, q) for name in HELD for q in question_set(name)[0]
                                        if q.kind != "unanswerable"],
                         ids=lambda x: x if isinstance(x, str) else x.question[:40])
def test_the_answer_is_said_or_shown_inside_its_spans(set_name: str, q: DevQuestion) -> None:
    check.check_answer_inside_spans(q, truths(set_name)[q.video])
