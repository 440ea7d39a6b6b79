"""The held-out set: its questions agree with its films' ground truth, it covers every kind of question, and
it shares nothing with the development set it is held out from (bench/heldout.py,
tests/fixtures/heldout_scripts.py)."""
from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from bench import devset
from bench.agent_dev import select, true_spans
from bench.agent_score import has_phrase
from bench.devset import KINDS
from bench.heldout import QUESTIONS
from tests.fixtures import devset_scripts
from tests.fixtures.devset import DevVideo, build_devset, script_truth
from tests.fixtures.heldout_scripts import SCRIPTS

SCRIPT = {s.name: s for s in SCRIPTS}
ANSWERABLE = [q for q in QUESTIONS if q.kind != "unanswerable"]


@pytest.fixture(scope="module")
def truths() -> dict[str, DevVideo]:
    return {s.name: script_truth(s) for s in SCRIPTS}


def _within(t: DevVideo, spans: list[tuple[float, float]]) -> str:
    """Everything said or shown wholly inside one of `spans`."""
    return " ".join(x.text for x in t.speech + t.screen
                    if any(a - 1e-6 <= x.start_s and x.end_s <= b + 1e-6 for a, b in spans))


def test_the_set_is_big_enough_has_every_kind_and_six_unanswerable() -> None:
    assert len(QUESTIONS) >= 30 and len({q.question for q in QUESTIONS}) == len(QUESTIONS)
    assert {q.kind for q in QUESTIONS} == set(KINDS)
    assert sum(q.kind == "unanswerable" for q in QUESTIONS) >= 6
    for name in SCRIPT:  # each film is asked about, and asked something it cannot answer
        assert {q.kind for q in QUESTIONS if q.video == name} >= {"name", "number", "unanswerable"}
    for q in QUESTIONS:
        assert q.video in SCRIPT
        assert (q.kind == "unanswerable") == (not q.answers) == (not q.refs), q.question


def test_it_shares_no_film_question_sentence_or_screen_line_with_the_dev_set(truths: dict[str, DevVideo]) -> None:
    assert not set(SCRIPT) & {s.name for s in devset_scripts.SCRIPTS}
    assert not {q.question for q in QUESTIONS} & {q.question for q in devset.QUESTIONS}
    dev = [script_truth(s) for s in devset_scripts.SCRIPTS]
    assert not {x.text for t in truths.values() for x in t.speech + t.screen} & {
        x.text for t in dev for x in t.speech + t.screen}


def test_films_are_two_to_four_minutes_and_speech_never_overlaps(truths: dict[str, DevVideo]) -> None:
    assert set(truths) == {"pan_flatbread", "clock_museum"}
    for t in truths.values():
        assert 120.0 <= t.duration_s <= 240.0, (t.name, t.duration_s)
        assert all(a.start_s < a.end_s <= b.start_s for a, b in zip(t.speech, t.speech[1:])), t.name
        assert all(0.0 <= x.start_s < x.end_s <= t.duration_s for x in t.speech + t.screen), t.name


@pytest.mark.parametrize("q", ANSWERABLE, ids=lambda q: q.question[:40])
def test_the_answer_is_said_or_shown_inside_its_spans(q: devset.DevQuestion, truths: dict[str, DevVideo]) -> None:
    t = truths[q.video]
    spans = true_spans(q, t)
    assert spans and all(0.0 <= a < b <= t.duration_s for a, b in spans)
    # The first alternative is the film's own wording; the others are spellings a transcript may use.
    inside = _within(t, spans)
    assert all(has_phrase(inside, p) for p in q.answers[0]), inside


def test_an_unanswerable_question_names_nothing_the_film_holds(truths: dict[str, DevVideo]) -> None:
    # A weak guard against writing a question the film does answer: its longer words are not all in the film.
    for q in QUESTIONS:
        if q.kind == "unanswerable":
            words = [w for w in q.question.lower().rstrip("?").split() if len(w) >= 4]
            assert words and not all(has_phrase(truths[q.video].text(), w) for w in words), q.question


def test_a_list_question_needs_several_sentences(truths: dict[str, DevVideo]) -> None:
    lists = [q for q in QUESTIONS if q.kind == "list_over_sentences"]
    assert {q.video for q in lists} == set(SCRIPT)
    for q in lists:
        t = truths[q.video]
        (a, b), = true_spans(q, t)
        sentences = [s.text for s in t.speech if a <= s.start_s and s.end_s <= b]
        assert len(sentences) >= 3
        assert not any(all(has_phrase(s, p) for p in q.answers[0]) for s in sentences), q.question


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
    built = build_devset(artifacts / "devset", (), SCRIPTS)
    assert set(built) == set(SCRIPT)
    for name, video in built.items():
        assert video.to_dict() | {"path": ""} == script_truth(SCRIPT[name]).to_dict() | {"path": ""}
        probe = subprocess.run(["ffprobe", "-v", "error", "-show_entries", "format=duration", "-of",
                                "default=nw=1:nk=1", str(video.path)], capture_output=True, text=True, check=True)
        assert abs(float(probe.stdout) - video.duration_s) < 0.2, name
