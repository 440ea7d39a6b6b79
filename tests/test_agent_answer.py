"""Answers that read the evidence, one test per failure kind seen on real footage: each runs the whole loop
with a narrow policy (first option every time) over a small memory written directly, and asserts the
answer's text and status."""
from __future__ import annotations

from pathlib import Path

import pytest

from agent.answer import AnswerConfig
from bench.agent_score import absent_words
from tests.fixtures.agent_fake import Row, fake_library
from tests.fixtures.agent_fake import narrow_answer as _answer
from tests.fixtures.agent_fake import narrow_events as _events

NARRATION = [Row(5, 9, "In the middle of a busy city, a surprising neighbour has made itself at home."),
             Row(10, 14, "Flocks of white cockatoos nest in the towers and parks of the old harbour district."),
             Row(20, 24, "People always ask me how they find enough to live on."),
             Row(25, 28, "Mostly they eat seeds from the plane trees in the parks."),
             Row(29, 32, "They also raid the fruit that people leave in open bins."),
             Row(33, 36, "And in winter they strip the soft bark from young branches."),
             Row(40, 44, "Much of this research is supported by the Greenway Trust."),
             Row(45, 49, "The trust hands out free nesting boxes to schools across the region."),
             Row(50, 54, "Children build the boxes, and we count the chicks together every spring.")]
CREDITS = [Row(100, 105, "Narrated by"), Row(100, 105, "Jonas Whitfield"),
           Row(106, 111, "Directed by"), Row(106, 111, "Amara Okafor"),
           Row(112, 118, "Made possible with support from"), Row(112, 118, "Alder Family Foundation"),
           Row(112, 118, "Northwind Arts Council"),
           Row(119, 125, "Licensed under Creative Commons Attribution 4.0")]


@pytest.fixture
def lib(tmp_path: Path):
    lib = fake_library(tmp_path, duration_s=130.0, speech=NARRATION, screen=CREDITS)
    yield lib
    lib.close()


def ask(lib, question: str):
    events = _events(lib, question)
    final = events[-1]
    memory = [r.text for r in NARRATION + CREDITS]
    if final.status != "not_found":
        assert absent_words(final.text.removeprefix("Unverified:"), memory) == []  # every word is memory's
        assert len(final.text) <= AnswerConfig().max_chars
    return final, events


@pytest.mark.parametrize("question,funder,other", [
    ("Which of the funders is an arts council?", "Northwind Arts Council", "Alder Family Foundation"),
    ("Which family foundation helped pay for the film?", "Alder Family Foundation", "Northwind Arts Council"),
])
def test_a_card_with_two_funders_answers_with_the_one_the_question_names(lib, question, funder, other) -> None:
    final, _ = ask(lib, question)
    assert final.status == "answered" and funder in final.text and other not in final.text
    assert [(c["start_s"], c["end_s"]) for c in final.citations] == [(112.0, 118.0)]


def test_a_role_and_its_name_answer_who_with_the_name(lib) -> None:
    final, _ = ask(lib, "Who directed the film?")
    assert final.status == "answered" and final.text.startswith("Amara Okafor")
    assert "Directed by" in final.text and "Jonas" not in final.text


def test_the_end_cards_licence(lib) -> None:
    final, _ = ask(lib, "Can I reuse this video? What licence is it under?")
    assert final.status == "answered"
    assert final.text.startswith("Creative Commons Attribution") and "Licensed under" in final.text


def test_a_list_spoken_over_three_sentences_is_quoted_whole(tmp_path: Path) -> None:
    speech = [Row(30, 33, "The first street took only eleven weeks to finish."),
              Row(34, 37, "We chose three kinds of trees for the new avenue."),
              Row(38, 41, "Along the station road we planted silver birches."),
              Row(42, 45, "Beside the school, a row of red maples went in."),
              Row(46, 49, "And near the library, we put a dozen young oaks."),
              Row(60, 64, "Altogether, the project cost two million euros.")]
    final = _answer(tmp_path, "Which trees went into the new avenue?", speech, duration_s=90.0)
    assert final.status == "answered"
    assert all(item in final.text for item in ("silver birches", "red maples", "young oaks"))
    assert "eleven weeks" not in final.text and "euros" not in final.text


def test_what_an_organisation_provides_comes_from_the_sentence_after_its_name(lib) -> None:
    final, events = ask(lib, "What does the Greenway Trust give to schools?")
    assert final.status == "answered" and "free nesting boxes to schools" in final.text
    check = next(e for e in events if e.kind == "verification")
    assert check.verdict == "supported" and check.methods == ["memory", "relevance"]
    assert "nesting boxes" in check.claim  # the answer was verified, not the question


def test_a_question_the_video_cannot_answer_is_not_answered(lib) -> None:
    final, _ = ask(lib, "Who composed the music for this film?")
    assert final.status in ("not_found", "unverified")
    if final.status == "unverified":
        assert final.reason.startswith("nothing supported it")
    else:
        assert final.citations == [] and final.reason


def test_the_check_refutes_a_quote_memory_does_not_hold_at_the_cited_span(lib) -> None:
    from agent.answer import Candidate
    from agent.answer_reader import Reader
    from agent.evidence import Line

    reader = Reader(lib, lib.video_id, "What does the Greenway Trust give to schools?")
    said = (Line(45.0, 49.0, "The trust hands out free nesting boxes to schools across the region.", "speech"),)
    assert reader.check(Candidate(said, 0.9, 0.7), [(45.0, 49.0)], 1.0).verdict == "supported"
    elsewhere = reader.check(Candidate(said, 0.9, 0.7), [(5.0, 9.0)], 1.0)       # held, but not where cited
    invented = reader.check(Candidate((Line(45.0, 49.0, "The trust gives schools a bus.", "speech"),), 0.9, 0.7),
                            [(45.0, 49.0)], 1.0)
    assert (elsewhere.verdict, elsewhere.in_memory) == ("refuted", False)
    assert (invented.verdict, invented.in_memory) == ("refuted", False)
    off_topic = (Line(50.0, 54.0, "Children build the boxes, and we count the chicks together every spring.", "speech"),)
    low = reader.check(Candidate(off_topic, 0.1, 0.1), [(50.0, 54.0)], 1.0)
    assert low.in_memory and low.verdict == "refuted" and low.score < low.floor


BUS = [Row(28, 32, "My name is Mark Bennett, and I've driven the night bus for nine years."),
       Row(33, 37, "Most of my passengers are nurses, cleaners and bakers on their way to work."),
       Row(60, 64, "The service is run by Meadowbank Transit."),
       Row(65, 69, "The company also runs a free bicycle repair workshop every Saturday morning.")]
BUS_CARDS = [Row(29, 33, "Mark Bennett"), Row(29, 33, "Night Bus Driver, Route 7"),
             Row(107, 107, "Omar Haddad"), Row(108, 109, "Produced by")]


def _ask_bus(tmp_path: Path, question: str):
    return _answer(tmp_path, question, BUS, BUS_CARDS)


def test_a_number_question_is_not_answered_by_a_number_of_another_kind(tmp_path: Path) -> None:
    final = _ask_bus(tmp_path, "How old is the bus driver?")  # "Route 7" and "nine years" are not ages
    assert final.status != "answered"
    assert not final.text.removeprefix("Unverified:").strip().startswith("7")


def test_a_role_and_its_name_read_a_second_apart_are_one_card(tmp_path: Path) -> None:
    final = _ask_bus(tmp_path, "Who produced the report?")
    assert final.status == "answered" and final.text.startswith("Omar Haddad") and "Produced by" in final.text


def test_who_are_asks_for_a_group_not_a_name(tmp_path: Path) -> None:
    final = _ask_bus(tmp_path, "Who are the driver's usual passengers?")
    assert final.status == "answered" and "nurses, cleaners and bakers" in final.text
    assert not final.text.startswith("Mark Bennett")


def test_an_answer_is_not_led_by_the_name_the_question_already_holds(tmp_path: Path) -> None:
    final = _ask_bus(tmp_path, "Apart from the buses, what else does Meadowbank Transit provide?")
    assert final.status == "answered" and "bicycle repair workshop" in final.text
    assert not final.text.startswith("Meadowbank Transit")


RIDERS = [Row(40, 44, "We asked riders what they would change."),
          Row(45, 49, "I'd like buses every fifteen minutes after midnight, not every hour."),
          Row(50, 54, "The shelters should be brighter, because some stops are really dark."),
          Row(70, 74, "The council will vote on the new timetable in September.")]
RIDER_CARDS = [Row(45, 51, "Sarah Collins"), Row(45, 51, "Nurse, St. Anne's Hospital"),
               Row(100, 104, "Narrated by Jonas Whitfield")]


@pytest.mark.parametrize("question,lead", [
    ("What does the woman who wants more buses do for a living?", "Nurse, St. Anne's Hospital"),
    ("Who is the woman asking for brighter shelters?", "Sarah Collins"),  # said after the card has gone
    ("Who narrated the film?", "Jonas Whitfield"),
])
def test_a_lower_third_names_whoever_speaks_while_it_is_shown(tmp_path: Path, question: str, lead: str) -> None:
    final = _answer(tmp_path, question, RIDERS, RIDER_CARDS)
    others = {"Nurse, St. Anne's Hospital", "Sarah Collins", "Jonas Whitfield"} - {lead}
    assert final.status == "answered" and lead in final.text
    assert not any(final.text.startswith(o) for o in others)


def test_a_word_speech_recognition_misheard_still_counts_for_its_sound() -> None:
    from agent.textmatch import coverage

    assert coverage("broken fence", "The coach told a long story about the broken fans.", fuzzy=True) == 1.0
    assert coverage("broken fence", "The coach told a long story about the broken fans.") == 0.5
    assert coverage("broken fence", "The coach told a long story about the broken bridge.", fuzzy=True) == 0.5


def test_the_last_item_of_a_spoken_list_brings_the_items_before_it(tmp_path: Path) -> None:
    speech = [Row(10, 14, "Today we bake soft flatbreads in a frying pan."),
              Row(20, 23, "Put two cups of flour in a bowl with a pinch of salt."),
              Row(24, 27, "Then stir in a spoon of baking powder and some yogurt."),
              Row(28, 31, "Finally pour in a splash of warm water until the dough comes together."),
              Row(50, 54, "Cook each one for a minute and a half on each side.")]
    final = _answer(tmp_path, "What do I need to make the dough?", speech, duration_s=90.0)
    assert final.status == "answered"
    assert all(item in final.text for item in ("flour", "baking powder", "warm water"))
    assert "frying pan" not in final.text


@pytest.mark.parametrize("question,line,span", [
    ("How long do I let the dough rest?", "Leave it to rest for a quarter of an hour.", "quarter of an hour"),
    ("How long do I knead it?", "Knead it for two or three minutes, until smooth.", "two or three minutes"),
    ("How many calories does one flatbread have?", "Cook each one for a minute and a half on each side.", ""),
    ("How old is the bus driver?", "Night Bus Driver, Route 7", ""),
    ("When was the first pair seen?", "The first pair was recorded here on the 3rd of May, 1998.", "3rd of May, 1998"),
    ("Where was the lantern clock made?", "Lantern clock by Thomas Harland, London", "London"),
    ("What is the name of the cook?", "Cook and Food Writer", ""),  # a job, not a name
    ("Which brand of frying pan does she cook with?", "Cook and Food Writer", ""),  # nor after a question word
    ("What licence is it under?", "Licensed under Creative Commons Attribution", "Creative Commons Attribution"),
])
def test_the_short_span_that_leads_an_answer(question: str, line: str, span: str) -> None:
    from agent.answer_type import answer_type, short_span

    assert short_span(question, answer_type(question), line) == span


MUSEUM = [Row(20, 24, "I'm the curator here, and these clocks are my life."),
          Row(25, 29, "The secret of a good dough is the yogurt: it keeps the bread soft."),
          Row(30, 34, "We wind the big clocks every Tuesday morning, before the doors open.")]
MUSEUM_CARDS = [Row(20, 34, "Curator, Ashby Clock Museum"), Row(25, 29, "Tip: Greek yogurt makes a richer dough")]


@pytest.mark.parametrize("question,want,avoid", [
    ("On which day are the clocks wound?", "Tuesday", "Curator, Ashby"),       # a label card states no fact
    ("Which type of yogurt does the on-screen tip suggest?", "Greek yogurt", "keeps the bread soft"),
    ("Why is there yogurt in the dough?", "keeps the bread soft", "Greek"),
])
def test_a_fact_comes_from_the_channel_that_states_it(tmp_path: Path, question: str, want: str, avoid: str) -> None:
    final = _answer(tmp_path, question, MUSEUM, MUSEUM_CARDS, duration_s=60.0)
    assert final.status == "answered" and want in final.text and avoid not in final.text


@pytest.mark.parametrize("question,line,holds", [
    ("Who founded the clock collection?", "Since 2004 it has housed a collection of clocks and watches.", False),
    ("Who told a long story about the fence?", "The coach told a long story about the broken fence.", True),
    ("Who is the man who winds the clocks?", "The man winds them by hand.", False),   # the question's own word
    ("On which day are the clocks wound?", "It kept time for the trains until 1966.", False),  # a year, not a day
    ("On which day are the clocks wound?", "Every Tuesday morning, I wind the big ones by hand.", True),
])
def test_an_answer_holds_the_kind_of_answer_asked_for(question: str, line: str, holds: bool) -> None:
    from agent.answer_type import answer_type, has_answer

    assert has_answer(answer_type(question), line, question) is holds


def test_irregular_verb_forms_match() -> None:
    from agent.textmatch import coverage

    assert coverage("clocks wound", "I wind the clocks by hand.") == 1.0
    assert coverage("kept fresh", "They keep fresh for two days.") == 1.0


def test_what_the_show_is_called_is_its_opening_title_card(tmp_path: Path) -> None:
    speech = [Row(6, 10, "Hi everyone and welcome back to the show."),
              Row(40, 44, "Today we are making soft flatbreads in a frying pan.")]
    cards = [Row(2, 5, "Kitchen Table"), Row(7, 12, "Nadia Karim"), Row(7, 12, "Cook and Food Writer"),
             Row(40, 44, "Episode 12: Pan Flatbreads")]
    final = _answer(tmp_path, "What is the cooking show called?", speech, cards, duration_s=60.0)
    assert final.status == "answered" and "Kitchen Table" in final.text and "Food Writer" not in final.text


def test_a_persons_name_card_names_no_brand(tmp_path: Path) -> None:
    speech = [Row(6, 10, "Hi everyone and welcome back to the show."),
              Row(40, 44, "Today we are making soft flatbreads in a frying pan.")]
    cards = [Row(2, 5, "Kitchen Table"), Row(7, 12, "Nadia Karim"), Row(7, 12, "Cook and Food Writer")]
    final = _answer(tmp_path, "Which brand of frying pan does she cook with?", speech, cards, duration_s=60.0)
    assert final.status != "answered" and not final.text.startswith(("Nadia Karim", "Food Writer"))


def test_a_count_of_something_the_video_never_mentions_is_not_an_answer(tmp_path: Path) -> None:
    speech = [Row(10, 14, "This recipe makes eight flatbreads, ready in about thirty minutes."),
              Row(20, 24, "They keep for two days wrapped in a cloth.")]
    with fake_library(tmp_path, duration_s=40.0, speech=speech) as lib:
        calories = _events(lib, "How many calories does one flatbread have?")[-1]
        breads = _events(lib, "How many flatbreads does the recipe make?")[-1]
    assert calories.status != "answered"
    assert breads.status == "answered" and "eight flatbreads" in breads.text


def test_a_word_capitalised_because_it_opens_a_sentence_is_not_a_place() -> None:
    from agent.answer_type import answer_type, short_span

    question = "Where do the runners go once they've finished?"
    assert short_span(question, answer_type(question), "Last month I finished my first race.") == ""
    assert short_span(question, answer_type(question), "Afterwards we all go to the Drover Inn.") == "Drover Inn"


def test_a_budget_stop_checks_the_quote_that_answers_before_calling_it_unverified(tmp_path: Path) -> None:
    """The loop stops after one search (a step budget of one) with the answer in hand but unchecked: the
    check needs no tool call, so the answer is verified and given, not labelled unverified."""
    from agent.loop import Budget, run
    from agent.planners import first_choice
    from agent.policy import ScriptedPolicy

    speech = [Row(2, 6, "We started planting on the high street in the spring."),
              Row(7, 11, "The first street took only eleven weeks to finish."),
              Row(12, 16, "Local schools helped water the young trees.")]
    with fake_library(tmp_path, duration_s=30.0, speech=speech) as lib:
        events = list(run(lib, lib.video_id, "How long did it take to finish the first street?",
                          ScriptedPolicy([first_choice] * 12, narrow=True), Budget(max_steps=1)))
    final = events[-1]
    assert any(e.kind == "observation" and "step budget (1)" in e.text for e in events)
    assert final.status == "answered" and final.text.startswith("eleven weeks"), final
    assert any(e.kind == "verification" and e.verdict == "supported" for e in events)
