"""Questions a video does not answer, though a line of the right kind is near: a start time for "when does it
finish", a price for "how many members", a name card for "where does she live", a quantity for "what brand",
a number about something else, an "is there ..." about a thing never mentioned. Each runs the whole loop with
a narrow policy over a small memory written directly and asserts the status and what the answer leads with;
the questions each rule must still answer are asked beside it."""
from __future__ import annotations

from pathlib import Path

import pytest

from agent import answer_type, quantity
from tests.fixtures.agent_fake import Row
from tests.fixtures.agent_fake import narrow_answer as answer

GARDEN = [Row(4, 10, "Welcome back to Muddy Boots, where I potter about on my allotment every Sunday."),
          Row(12, 18, "Today the allotment society is holding its open day, and the gates open at ten."),
          Row(20, 27, "First I'm repainting the shed, and this blue paint needs a good four hours to dry."),
          Row(30, 36, "While that dries, the seedlings go in, about thirty centimetres apart."),
          Row(40, 47, "After ten minutes or so, give the whole bed a gentle soak with the watering can."),
          Row(50, 56, "Bernard runs the plant stall, and he's been growing tomatoes here since 1987."),
          Row(60, 66, "The soup tent serves lunch until half past two, so get there early.")]
GARDEN_CARDS = [Row(1, 3, "Sunday on Plot 14"), Row(4, 10, "Hattie Brown"), Row(4, 10, "Allotment holder"),
                Row(14, 19, "Open day: gates from 10 am | Raffle tickets £1"),
                Row(20, 27, "2 tins of shed paint | 1 bag of peat-free compost"),
                Row(57, 61, "Plants 50p each, members and children free"),
                Row(70, 74, "Compost from Greenacre Supplies, Mill Lane"),
                Row(80, 84, "More from the society at hollowayallotments.org.uk")]


def _ask(tmp_path: Path, question: str):
    return answer(tmp_path, question, GARDEN, GARDEN_CARDS, duration_s=90.0)


def _lead(final) -> str:
    return final.text.removeprefix("Unverified: ")


@pytest.mark.parametrize("question", [
    "What time does the open day finish?",   # only times it starts from ("from 10 am", "open at ten")
    "How many members does the society have?",  # "Plants 50p each, members ... free" counts no one
    "Where does Hattie live?",                # her name card names her, not a place
    "What brand of paint did she use?",       # "2 tins of shed paint" names no brand
    "Is there parking at the allotments?",    # parking is never mentioned
    "What colour are the raffle tickets?",    # the card names their price, no colour
])
def test_a_line_of_the_kind_asked_that_does_not_answer_is_not_given_as_the_answer(tmp_path, question) -> None:
    # Without the soup tent's "until half past two": the end of another event would still be taken for the
    # open day's (nothing here tells what a time is the time of).
    speech = [r for r in GARDEN if "soup" not in r.text] if "finish" in question else GARDEN
    final = answer(tmp_path, question, speech, GARDEN_CARDS, duration_s=90.0)
    assert final.status != "answered"
    assert final.status == "not_found" or final.reason.startswith("nothing supported it")


def test_a_number_about_something_else_does_not_answer(tmp_path) -> None:
    """The paint is talked about (four hours); ten minutes is the soak's wait, not the paint's."""
    final = _ask(tmp_path, "How long does the shed paint take to dry?")
    assert _lead(final).startswith("four hours") or final.status != "answered"
    assert not (final.status == "answered" and _lead(final).startswith("ten minutes"))


@pytest.mark.parametrize("question,lead", [
    ("When does the soup tent stop serving lunch?", "half past two"),
    ("what time do the gates open", "10 am"),
    ("Where did the compost come from?", "Greenacre Supplies"),
    ("Which shop supplied the compost?", "Greenacre Supplies"),
    ("website?", "hollowayallotments.org.uk"),
    ("What's the channel called?", "Muddy Boots"),
    ("How long has Bernard been growing tomatoes?", "since 1987"),
])
def test_the_answers_those_rules_must_not_lose(tmp_path, question, lead) -> None:
    final = _ask(tmp_path, question)
    assert final.status == "answered" and final.text.startswith(lead)


@pytest.mark.parametrize("question,line,span", [
    ("What time does it finish?", "Open nights: alternate Wednesdays from 6.45 pm", ""),
    ("What time does it finish?", "Open nights from 6.45 pm until 10.30 pm", "until 10.30"),
    ("What time does it finish?", "We open at 7 and finish at half past ten", "half past ten"),
    ("When do the doors open?", "We open at 7 and finish at half past ten", ""),
    ("When do the doors open?", "Open 10am to 4pm", "10am"),
    ("What time does the open night finish?", "Open 10am-4pm", "4pm"),   # "open" names the night, "finish" asks
    ("What time does it finish?", "6:45 Doors open", ""),                # a board row of the other end
])
def test_a_time_is_the_end_of_the_stretch_the_question_asks_for(question, line, span) -> None:
    assert quantity.span(question, line) == span
    assert quantity.holds(question, line, []) is bool(span)


@pytest.mark.parametrize("question,kind,named", [
    ("website?", answer_type.WEB, False), ("Where can I find out more?", answer_type.WEB, False),
    ("What brand of glue is it?", answer_type.ENTITY, True), ("name of the channel?", answer_type.ENTITY, True),
    ("Which tool does she use first?", answer_type.ENTITY, False),   # "a spirit level" answers: no name needed
])
def test_which_questions_only_a_name_or_an_address_answers(question, kind, named) -> None:
    assert answer_type.answer_type(question) == kind and answer_type.needs_name(question) is named


def test_the_channel_is_not_the_video_s_title() -> None:
    assert not answer_type.asks_title("What's the name of the channel?")
    assert answer_type.asks_title("What is this episode called?")


SHED = [Row(10, 15, "Now, here's where it all went wrong last spring."),
        Row(15.5, 21, "I planted the beans far too early, and one frost killed every single one of them."),
        Row(30, 36, "This year I'm waiting until the middle of May before anything tender goes out."),
        Row(50, 55, "Thanks for watching, and I'll see you next Sunday.")]
SHED_CARDS = [Row(1, 4, "Plot Diaries"), Row(40, 46, "THIS WEEK"),
              Row(40, 46, "Saturday: seed swap in the village hall")]


def test_a_sentence_that_only_echoes_the_question_is_answered_by_the_one_after_it(tmp_path) -> None:
    """"Here's where it all went wrong" says nothing the question does not; the next sentence says what went wrong."""
    final = answer(tmp_path, "What went wrong last spring?", SHED, SHED_CARDS, duration_s=60.0)
    assert final.status == "answered" and "frost" in final.text


def test_a_card_holding_only_the_question_s_words_is_not_the_answer(tmp_path) -> None:
    final = answer(tmp_path, "what's on this week?", SHED, SHED_CARDS, duration_s=60.0)
    assert final.status == "answered" and "seed swap" in final.text



def test_a_number_is_quoted_as_the_whole_word_memory_holds() -> None:
    """"1950s" is one word of memory: an answer led by "1950" would hold a word memory does not."""
    assert quantity.span("How many shows a day were there in the fifties?",
                         "By the 1950s, they were showing films again, six days a week.") != "1950"
    assert quantity.span("How heavy is the bag?", "It was 2.5kg when we weighed it.") == "2.5kg"


def test_a_colour_the_video_names_answers_a_colour_question(tmp_path) -> None:
    final = _ask(tmp_path, "what colour is she painting the shed")
    assert final.status == "answered" and "blue paint" in final.text


@pytest.mark.parametrize("line,counts", [
    ("First match: Sat 6 September", False),   # a date counts no matches
    ("Trials: 30 Aug - 3 Sept", False),
    ("We played 18 matches", True),
    ("Ten mayors came to the final", True),      # "mayors" is no month
])
def test_a_date_is_not_a_count(line: str, counts: bool) -> None:
    question = "How many matches did they lose?"
    assert quantity.holds(question, line, answer_type.counted(question)) is counts
