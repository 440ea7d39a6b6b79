"""A review's cards: one spec card per product (a heading in capitals, then its figures), a card of rows
("Halden 2: 9 hours"), and a caption printing a discount code that the narration only mentions. A question
about one product is not answered from the other's card or row; a model's number is not a quantity; a code
or a colour question is answered only by a line holding one. Each runs the whole loop with a narrow policy
over a small memory written directly."""
from __future__ import annotations

from pathlib import Path

import pytest

from agent import cards, quantity
from tests.fixtures.agent_fake import Row
from tests.fixtures.agent_fake import narrow_answer as answer

SPEECH = [Row(2, 8, "Two portable speakers today, the Halden and the Mirel, and I've had both for a month."),
          Row(9, 15, "Prices and the full specs are on screen, so I won't read them all out."),
          Row(30, 37, "Battery is where they really differ, and I'll show you the numbers in a second."),
          Row(44, 51, "The shop sent me a discount code for you, it's at the bottom of the screen."),
          Row(52, 57, "They're open until six on weekdays if you'd rather try one in person.")]
CARDS = [Row(16, 21, "HALDEN 2"), Row(16, 21, "£59"), Row(16, 21, "Weight: 540 g"),
         Row(22, 27, "MIREL GO"), Row(22, 27, "£89"), Row(22, 27, "Weight: 720 g"), Row(22, 27, "Waterproof (IPX7)"),
         Row(38, 43, "Battery on one charge"), Row(38, 43, "Halden 2: 9 hours"), Row(38, 43, "Mirel Go: 14 hours"),
         Row(46, 51, "Use code SPEAK10 for 10% off at Tidemark Audio, Quay Street")]


def _ask(tmp_path: Path, question: str):
    return answer(tmp_path, question, SPEECH, CARDS, duration_s=60.0)


@pytest.mark.parametrize("question, lead, wrong", [
    ("How much is the Halden?", "£59", "£89"),
    ("how heavy is the mirel", "720 g", "540 g"),
    ("How long does the Halden battery last?", "9 hours", "14 hours"),
    ("how many hours does the Mirel Go last on a charge", "14 hours", "9 hours"),
])
def test_a_figure_about_one_product_comes_from_its_own_card_or_row(tmp_path, question, lead, wrong) -> None:
    final = _ask(tmp_path, question)
    assert final.status == "answered"
    assert final.text.startswith(lead) and not final.text.startswith(wrong)


def test_the_discount_code_is_read_from_the_caption_that_prints_it(tmp_path) -> None:
    final = _ask(tmp_path, "What's the discount code?")
    assert final.status == "answered" and final.text.startswith("SPEAK10")


@pytest.mark.parametrize("question", ["What colour does the Mirel come in?", "Which company makes the Mirel?"])
def test_a_card_without_the_kind_asked_does_not_answer(tmp_path, question) -> None:
    """No colour is named; "IPX7" is a rating, not a maker."""
    final = _ask(tmp_path, question)
    assert final.status != "answered"


def test_the_things_a_videos_cards_are_about_are_names_it_never_writes_in_lower_case() -> None:
    texts = [r.text for r in SPEECH + CARDS]
    assert cards.things(texts) == {"halden", "mirel"}      # not "battery": the narration says it


def test_a_models_number_is_not_a_quantity() -> None:
    assert quantity.number_spans("How long does it last?", "Halden 2: 9 hours")[0] == "9 hours"
    assert "2" not in quantity.number_spans("How much is it?", "The Halden 2 costs £59")
