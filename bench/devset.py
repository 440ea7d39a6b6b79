"""The development set's questions: asked as a viewer would, with the answers a right reply contains and
the moments of the video that answer them (tests/fixtures/devset.py builds the videos).

A question's true spans are not written down as numbers: they point at the script's sentences
(`said("e4", "e6")`: the run of sentences e4 to e6) or at a line of on-screen text (`shown("Northwind")`:
the line holding that text), and are resolved against the built video's ground truth, so they stay
right when a voice or a card's timing changes. An answer is right when one alternative's phrases all
occur in it (case and punctuation aside; see bench/agent_score.py). Unanswerable questions have no
answers and no spans: the video does not say or show what they ask, and the right outcome is not_found.
"""
from __future__ import annotations

from dataclasses import dataclass

KINDS = ("speech", "screen_text", "list_over_sentences", "name", "number", "unanswerable")


@dataclass(frozen=True)
class Ref:
    """A pointer into a video's ground truth."""

    channel: str                 # "speech" (sentences by script key) | "screen" (a line holding `first`)
    first: str
    last: str = ""               # speech only: the last sentence of a run ("" = `first` alone)


@dataclass(frozen=True)
class DevQuestion:
    """One question of the development set."""

    video: str                              # a script name of tests/fixtures/devset_scripts.py
    question: str
    answers: tuple[tuple[str, ...], ...]    # alternatives; each a tuple of phrases that must all occur
    refs: tuple[Ref, ...]                   # where the answer is said or shown (empty: unanswerable)
    kind: str                               # one of KINDS


def said(first: str, last: str = "") -> Ref:
    return Ref("speech", first, last)


def shown(text: str) -> Ref:
    return Ref("screen", text)


def q(video: str, kind: str, question: str, answers: list[list[str]], *refs: Ref) -> DevQuestion:
    return DevQuestion(video, question, tuple(tuple(a) for a in answers), tuple(refs), kind)


def none(video: str, question: str) -> DevQuestion:
    return DevQuestion(video, question, (), (), "unanswerable")


B, G, N = "city_birds", "green_streets", "night_bus"

QUESTIONS: tuple[DevQuestion, ...] = (
    # A nature documentary: an interviewee, a list over three sentences, credits with two funders.
    q(B, "number", "When was the first breeding pair seen in the city?", [["1998"]], said("n3")),
    q(B, "number", "How big can one flock get?", [["420"], ["four hundred"]], said("n4")),
    q(B, "list_over_sentences", "What do the cockatoos feed on?", [["seed", "fruit", "bark"]], said("e3", "e6")),
    q(B, "name", "Who is the scientist interviewed in the film?", [["elena marsh"]],
      said("e1"), shown("Elena Marsh")),
    q(B, "screen_text", "Which university is the bird expert from?", [["harbour university"], ["harbor university"]],
      shown("Harbour University")),
    q(B, "number", "How long has she been studying urban birds?", [["12 years"], ["twelve years"]], said("e1")),
    q(B, "speech", "What does the Greenway Trust give to schools?", [["nesting box"], ["nest box"]], said("n7")),
    q(B, "name", "Who is the narrator of this documentary?", [["jonas whitfield"]], shown("Narrated by")),
    q(B, "name", "Who was the director?", [["amara okafor"]], shown("Directed by")),
    q(B, "screen_text", "Which of the funders is an arts council?", [["northwind arts council"]], shown("Northwind")),
    q(B, "screen_text", "Which family foundation helped pay for the film?", [["alder family foundation"]],
      shown("Alder Family")),
    q(B, "screen_text", "Can I reuse this video? What licence is it under?",
      [["creative commons", "attribution"], ["cc by"]], shown("Licensed under")),
    q(B, "screen_text", "Where was this filmed?", [["port merrin"]], shown("Port Merrin")),
    q(B, "number", "From how far away can you hear the birds calling?",
      [["2 kilomet"], ["two kilomet"], ["2 km"]], said("n5")),
    q(B, "speech", "What kind of damage do the birds cause?", [["window", "cable"]], said("n9")),
    q(B, "speech", "How can people stop the cockatoos chewing things?", [["fresh branches"]], said("e8")),
    q(B, "speech", "Where does the flock meet in the evening?", [["tallest tower"]], said("n10")),
    none(B, "What is the name of the oldest cockatoo in the flock?"),
    none(B, "How much money did the trust give to the research?"),
    none(B, "Who composed the music for this film?"),
    # A city-greening documentary: a speaker who introduces himself, a credit roll, a number on screen.
    q(G, "name", "Who is in charge of the city's trees?", [["daniel osei"]], said("d1"), shown("Daniel Osei")),
    q(G, "number", "When did they start planting?", [["march", "2019"]], said("d2")),
    q(G, "list_over_sentences", "What kinds of trees went into the new avenue?", [["birch", "maple", "oak"]],
      said("d3", "d6")),
    q(G, "number", "What did the whole project cost?", [["2.4 million"], ["2,4 million"], ["2.4m"]], said("a4")),
    q(G, "speech", "Besides the trees, what does the Meadowbank fund pay for?", [["bicycle repair"], ["bike repair"]],
      said("a6")),
    q(G, "number", "How much cooler are the shaded streets on hot days?", [["4 degrees"], ["four degrees"]],
      said("d7")),
    q(G, "speech", "Who waters the young trees over the summer?", [["students"]], said("a7")),
    q(G, "number", "How many more trees does the city want?", [["500"], ["five hundred"]], said("a8")),
    q(G, "screen_text", "What is Daniel's job title?", [["urban forestry"]], shown("Urban Forestry")),
    q(G, "number", "According to the caption, how many trees have been planted so far?", [["1,250"], ["1250"]],
      shown("1,250")),
    q(G, "name", "Who did the sound design?", [["kofi mensah"]], shown("Kofi Mensah")),
    q(G, "name", "Who directed the documentary?", [["hannah lindqvist"]], shown("Directed by")),
    q(G, "screen_text", "Which bank helped pay for the film?", [["riverstone community bank"]], shown("Riverstone")),
    q(G, "screen_text", "What licence is the film released under?",
      [["creative commons", "sharealike"], ["creative commons", "share alike"], ["cc by-sa"]], shown("Licensed under")),
    q(G, "speech", "Why did people stay away from those streets at midday?", [["hot"]], said("a2")),
    q(G, "number", "How long did it take to finish the first street?", [["11 weeks"], ["eleven weeks"]], said("a3")),
    none(G, "Who narrated this film?"),
    none(G, "How many people live in Brookfield?"),
    none(G, "Which nursery supplied the young trees?"),
    # A local news report: several speakers, a passenger named only on screen, a list over three sentences.
    q(N, "name", "What's the reporter's name?", [["priya raman"]], said("u1"), shown("Priya Raman")),
    q(N, "number", "How many people ride route 7 each night?", [["3,500"], ["3500"], ["three thousand five hundred"]],
      said("u3")),
    q(N, "number", "How long has Mark been driving the night bus?", [["9 years"], ["nine years"]], said("m1")),
    q(N, "speech", "Who are the driver's usual passengers?", [["nurses", "cleaners", "bakers"]], said("m2")),
    q(N, "speech", "What does the bus company give hospital workers?", [["free ride"]], said("u4", "u5")),
    q(N, "list_over_sentences", "What improvements did the passenger ask for?",
      [["15 minutes", "bright", "live map"], ["fifteen minutes", "bright", "live map"]], said("s1", "s3")),
    q(N, "number", "When will the council decide on the timetable?", [["14", "september"]],
      said("u7"), shown("Council vote")),
    q(N, "number", "How many extra buses could join the route?", [["two extra buses"], ["2 extra buses"]], said("u8")),
    q(N, "screen_text", "What does the woman who wants more buses do for a living?", [["nurse"]],
      shown("Nurse, St. Anne")),
    q(N, "screen_text", "Which hospital does she work at?", [["anne's hospital"], ["annes hospital"]],
      shown("Nurse, St. Anne")),
    q(N, "name", "Who produced the report?", [["omar haddad"]], shown("Produced by")),
    q(N, "screen_text", "Which media fund supported the report?", [["lantern media fund"]], shown("Lantern")),
    q(N, "screen_text", "Which foundation is listed as a supporter?", [["civic light foundation"]],
      shown("Civic Light")),
    q(N, "screen_text", "Can this video be used commercially? What is its licence?",
      [["noncommercial"], ["non-commercial"], ["non commercial"]], shown("Licensed under")),
    q(N, "name", "Which news channel made this report?", [["city seven news"]], said("u9"), shown("City Seven News")),
    q(N, "speech", "What does the driver enjoy most about the job?", [["people"]], said("m3")),
    none(N, "How much does a ticket on the night bus cost?"),
    none(N, "Who is the chief executive of the bus company?"),
    none(N, "How old is the bus driver?"),
)
