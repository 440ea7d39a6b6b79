"""A "who did it" question asks about a deed: a name card saying only who someone is (their job) does not
answer "who founded the collection", unless it says the deed ("Restored by ...") or is about all that the
deed was done to ("Volunteer Coordinator" for "who organises the volunteers"). Each runs the whole loop with
a narrow policy over a small memory written directly."""
from __future__ import annotations

from pathlib import Path

import pytest

from agent import credits
from tests.fixtures.agent_fake import Row
from tests.fixtures.agent_fake import narrow_answer as answer

SPEECH = [Row(2, 8, "Welcome to the little railway museum on the old station platform."),
          Row(9, 15, "Since nineteen ninety the museum has looked after a collection of lamps and signals."),
          Row(16, 22, "The signal box was found in a scrapyard and brought back here on a lorry."),
          Row(30, 36, "Every Saturday the volunteers polish the brass and oil the levers."),
          Row(40, 46, "Our thanks to Carrick Signalling, who donated the brass lamps.")]
CARDS = [Row(9, 14, "Joan Pemberton"), Row(9, 14, "Curator, Halt Lane Railway Museum"),
         Row(30, 35, "Dev Raman"), Row(30, 35, "Volunteer Coordinator"),
         Row(47, 52, "Lamp room restored by the Friends of Halt Lane")]


def _ask(tmp_path: Path, question: str):
    return answer(tmp_path, question, SPEECH, CARDS, duration_s=60.0)


@pytest.mark.parametrize("question", ["Who founded the lamp collection?", "who set up the lamp room"])
def test_a_card_that_does_not_say_the_deed_does_not_answer_who_did_it(tmp_path, question) -> None:
    """Neither the curator's card nor the restorers' card says who founded or set up anything."""
    final = _ask(tmp_path, question)
    assert final.status != "answered"
    assert not final.text.startswith(("Joan Pemberton", "Friends of Halt Lane"))


def test_a_card_about_what_the_deed_was_done_to_still_answers(tmp_path) -> None:
    final = _ask(tmp_path, "Who organises the volunteers?")
    assert final.status == "answered" and final.text.startswith("Dev Raman")


def test_a_card_saying_the_deed_still_answers(tmp_path) -> None:
    final = _ask(tmp_path, "Who restored the lamp room?")
    assert final.status == "answered" and "Friends of Halt Lane" in final.text


def test_speech_saying_the_deed_still_answers(tmp_path) -> None:
    final = _ask(tmp_path, "Who gave the museum its brass lamps?")
    assert final.status == "answered" and final.text.startswith("Carrick Signalling")


@pytest.mark.parametrize("question, deed", [("Who founded the clock collection?", "founded"),
                                            ("who owns the cinema building now", "owns"),
                                            ("Who is the curator?", ""), ("who filmed it", ""),
                                            ("Who should buy the cheaper one?", "")])
def test_the_deed_asked(question, deed) -> None:
    assert credits.deed(question) == deed
