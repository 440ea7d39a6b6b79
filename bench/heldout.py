"""The held-out set's questions: two films the agent was not tuned on (tests/fixtures/heldout_scripts.py),
asked as a curious viewer would, in bench/devset.py's format and scored the same way
(`python -m bench agent --set heldout`).

The questions were written from the films alone, paraphrasing the script rather than quoting it, without
looking at how the agent finds or phrases answers. An answer's first alternative is the films' own wording
(tests/test_heldout.py checks it is said or shown inside the question's spans); the others are spellings a
transcript or a reply may use. Unanswerable questions ask what a viewer might plausibly want to know but
the film neither says nor shows. Measure with this set once per change worth reporting; do not tune on it.
"""
from __future__ import annotations

from bench.devset import DevQuestion, none, q, said, shown

F, C = "pan_flatbread", "clock_museum"

QUESTIONS: tuple[DevQuestion, ...] = (
    # A cooking how-to: one presenter named only on screen, ingredients and steps over several sentences.
    q(F, "name", "What's the name of the cook presenting this?", [["nadia karim"]],
      shown("Cook and Food"), shown("Recipe by")),
    q(F, "screen_text", "What is the cooking show called?", [["kitchen table"]], shown("Kitchen Table")),
    q(F, "number", "Which episode of the series is this?", [["12"], ["twelve"]], shown("Episode 12")),
    q(F, "list_over_sentences", "What do I need to make the dough?",
      [["flour", "salt", "baking powder", "yogurt", "water"], ["flour", "salt", "baking powder", "yoghurt", "water"]],
      said("f3", "f7")),
    q(F, "speech", "Why is there yogurt in the dough?", [["soft"]], said("f8", "f9")),
    q(F, "screen_text", "Which type of yogurt does the on-screen tip suggest?", [["greek"]], shown("Tip: Greek")),
    q(F, "number", "How long do I let the dough sit before rolling it?",
      [["quarter of an hour"], ["15 minutes"], ["fifteen minutes"]], said("f11")),
    q(F, "number", "How many breads does one batch of dough make?", [["eight"], ["8"]],
      said("f13"), shown("Makes 8")),
    q(F, "speech", "Do you put oil in the pan?", [["don't", "oil"], ["do not", "oil"], ["no oil"], ["without oil"]],
      said("f14")),
    q(F, "number", "How long does each side need in the pan?",
      [["a minute and a half"], ["1.5 minutes"], ["one and a half minutes"], ["90 seconds"], ["ninety seconds"]],
      said("f15")),
    q(F, "speech", "How do you tell that a flatbread is cooked?", [["bubbles"], ["brown spots"]], said("f16")),
    q(F, "speech", "What do they get brushed with once they're out of the pan?", [["garlic butter"]], said("f17")),
    q(F, "number", "In what year did her grandmother teach her the recipe?", [["ninety-one"], ["1991"]], said("f18")),
    q(F, "number", "How long will the flatbreads stay fresh?", [["two days"], ["2 days"]], said("f19")),
    q(F, "speech", "What does she recommend eating them with?", [["lentil soup", "grilled vegetables"]],
      said("f20")),
    q(F, "number", "According to the caption, how long does the whole recipe take?",
      [["30 minutes"], ["thirty minutes"], ["half an hour"]], shown("ready in about")),
    q(F, "speech", "What will next week's episode be about?", [["crackers"]], said("f21")),
    q(F, "name", "Who was responsible for the food styling?", [["mei lin zhao"]], shown("Food Styling")),
    q(F, "name", "Who was the camera operator?", [["joel pereira"]], shown("Camera Joel")),
    q(F, "screen_text", "Could I share an edited version of this video? What licence is it under?",
      [["noderivatives"], ["no derivatives"], ["cc by-nd"]], shown("Licensed under")),
    none(F, "How many calories does one flatbread have?"),
    none(F, "Can I make these with gluten-free flour?"),
    none(F, "Who composed the music for the show?"),
    none(F, "Which brand of frying pan does she cook with?"),
    # A small museum: two speakers, a name only on screen, a credit roll, funders on one card, a licence.
    q(C, "speech", "What was the museum building used for before?", [["fire station"]], said("c1")),
    q(C, "number", "Since when have the clocks been kept there?", [["two thousand and four"], ["2004"]], said("c2")),
    q(C, "screen_text", "What street is the clock museum on?", [["mill lane"]], shown("Mill Lane")),
    q(C, "name", "Who is the museum's curator?", [["margaret doyle"]], shown("Margaret Doyle")),
    q(C, "number", "How many clocks are in the collection?", [["three hundred"], ["300"]], said("c4")),
    q(C, "number", "How many of the clocks still work?", [["forty"], ["40"]], said("c4")),
    q(C, "name", "Who is the man who winds the big clocks?", [["peter lindgren"]], shown("Peter Lindgren")),
    q(C, "speech", "On which day are the clocks wound?", [["tuesday"]], said("v1")),
    q(C, "number", "How old is the oldest clock, when was it made?", [["seventeen twenty"], ["1720"]], said("c5")),
    q(C, "name", "Who was the maker of the lantern clock?", [["thomas harland"]], shown("Thomas Harland")),
    q(C, "speech", "Where was the lantern clock discovered?", [["attic"]], said("c6")),
    q(C, "number", "When did the railway line shut down?", [["sixty-six"], ["1966"]], said("v4")),
    q(C, "list_over_sentences", "What does restoring a clock involve?", [["clean", "pivots", "month"]],
      said("c7", "c10")),
    q(C, "number", "How young is the youngest volunteer?", [["sixteen"], ["16"]], said("v5")),
    q(C, "speech", "Is there an entrance fee?", [["free"]], said("c11")),
    q(C, "speech", "What else does the town trust pay for?", [["clock-making class"], ["clockmaking class"],
                                                              ["class", "school"]], said("c11", "c12")),
    q(C, "speech", "What day of the week is the museum shut?", [["monday"]], said("c13")),
    q(C, "name", "Who directed the film?", [["ines carvalho"]], shown("Director Ines")),
    q(C, "name", "Who is credited as producer?", [["yuki tanaka"]], shown("Produced by")),
    q(C, "screen_text", "Who did the music?", [["hollow pine quartet"]], shown("Music Hollow")),
    q(C, "screen_text", "Which building society helped fund the film?", [["kestrel building society"]],
      shown("Kestrel")),
    q(C, "screen_text", "Can I use this film in an advert? What's the licence?",
      [["noncommercial"], ["non-commercial"]], shown("Licensed under")),
    none(C, "How many people visit the museum each year?"),
    none(C, "Does the museum have a café?"),
    none(C, "Who founded the clock collection?"),
    none(C, "How much is the lantern clock worth?"),
)
