"""Who paid for the video: its funders are credited on a card ("Supported by" and a name per line, fading in
one after another), while the narration speaks of who paid for what the video is about. A question about the
film's funding is answered from the card; one about the thing the narration describes, from the narration."""
from __future__ import annotations

import pytest

from agent import credits
from tests.fixtures.agent_fake import Row
from tests.fixtures.agent_fake import narrow_answer as answer

SPEECH = [Row(3, 9, "Five years ago this corner of Ashdown was a car park full of potholes."),
          Row(10, 17, "The new pocket park was paid for by the Alder Bank Civic Fund, and it opened in June."),
          Row(18, 25, "The fund also pays for a gardener two mornings a week."),
          Row(26, 33, "Neighbours planted forty fruit trees along the old kerb.")]
# The card's lines are read over different spans: each fades in after the one above it.
CARDS = [Row(1, 3, "A Park Where the Cars Were"), Row(40, 44, "Camera Ruth Okoye"),
         Row(47, 52, "Supported by"), Row(48, 52, "Harbour Building Society"),
         Row(50, 52, "Northgate Savings Bank"), Row(55, 58, "Licensed under CC BY 4.0")]


def _ask(tmp_path, question: str):
    return answer(tmp_path, question, SPEECH, CARDS, duration_s=60.0)


@pytest.mark.parametrize("question, funder", [
    ("Which bank helped pay for the film?", "Northgate Savings Bank"),   # the narration's "Bank" funds the park
    ("which building society supported the video", "Harbour Building Society"),
])
def test_the_films_funder_is_read_from_its_credit_card(tmp_path, question, funder) -> None:
    final = _ask(tmp_path, question)
    assert final.status == "answered"
    assert funder in final.text
    assert "Alder" not in final.text


def test_who_paid_for_what_the_video_is_about_is_read_from_the_narration(tmp_path) -> None:
    final = _ask(tmp_path, "Who paid for the pocket park?")
    assert "Alder Bank Civic Fund" in final.text
    assert "Northgate" not in final.text


@pytest.mark.parametrize("question, asks", [
    ("Which bank helped pay for the film?", True),
    ("who sponsored the talk", True),
    ("Which foundation is listed as a supporter?", True),
    ("Who paid for the refreshments?", False),       # something the video shows, not the video
    ("What does the fund pay for besides the trees?", False),
])
def test_a_question_about_funding_the_video_itself_is_told_apart(question, asks) -> None:
    assert credits.asks_funder(question) is asks
