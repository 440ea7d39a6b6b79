"""Quantities: which kind of number a question asks for (an age, a price, a clock time, a date, a share ...),
whether a line holds one, and the span of the line that is it.

Plain English cues, no model. A question naming no kind ("how many", "what number") wants any number; one
naming a kind is answered only by a number carrying its unit in the same clause ("two or three minutes"),
or by a phrase that is the answer by itself ("every other Saturday", "half past five", "a third", "free").
"""
from __future__ import annotations

import re
from functools import lru_cache

from agent import textmatch

_MONTHS = "january february march april may june july august september october november december".split()
_MONTH = r"\b(?:" + "|".join(_MONTHS) + r")\b"
_WEEKDAY = r"(?:monday|tuesday|wednesday|thursday|friday|saturday|sunday)"
WORD_NUM = ("one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen sixteen "
            "seventeen eighteen nineteen twenty thirty forty fifty sixty seventy eighty ninety hundred thousand "
            "million billion dozen half quarter").split()
_SMALL = WORD_NUM[:WORD_NUM.index("hundred")]  # one ... ninety
_HOURS = r"(?:one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|1[0-2]|[1-9])"
_ORDINALS = ("first second third fourth fifth sixth seventh eighth ninth tenth eleventh twelfth thirteenth "
             "fourteenth fifteenth sixteenth seventeenth eighteenth nineteenth twentieth thirtieth").split()
_ORDINAL = r"(?:\d{1,2}(?:st|nd|rd|th)|(?:twenty|thirty)?[\s-]?(?:" + "|".join(_ORDINALS) + r"))"

# A time or a date: a word alone answers "when" ("every Tuesday", "in 2019"), with or without a number.
_WHEN = re.compile(r"\b(1[5-9]\d\d|20\d\d|" + "|".join(_MONTHS) + "|" + _WEEKDAY + r"|yesterday|tomorrow|today|"
                   r"spring|summer|autumn|winter|christmas|easter|new year|midsummer|halloween|"
                   r"(?:next|last) (?:year|month|week)|\d+\s*[ap]\.?m\b|o'clock)\b", re.I)
_DAY = re.compile(r"\b(" + _WEEKDAY + r"|weekends?|yesterday|tomorrow|today|\d{1,2}(st|nd|rd|th)|" + _MONTH +
                  r"\s+\d{1,2}|\d{1,2}\s+(of\s+)?" + _MONTH + r")\b", re.I)
# A date names the day of a month ("the 21st of June", "June 21", "3/5/2024"), not "today".
_DATE = re.compile(r"\b" + _ORDINAL + r"\s+(?:of\s+)?" + _MONTH + r"|" + _MONTH + r"\s+(?:the\s+)?(?:\d{1,2}\b|"
                   + _ORDINAL + r")(?:st|nd|rd|th)?|\b\d{1,2}\s+" + _MONTH + r"|\b\d{1,2}/\d{1,2}(?:/\d{2,4})?\b", re.I)
# A clock time: "ten past eight", "half past five", "8:10", "7.30 pm", "quarter to seven", "noon".
_CLOCK = re.compile(r"\b(?:(?:a\s+)?quarter|half|five|ten|twenty|twenty[\s-]five|\d{1,2})\s+(?:past|to|after)\s+"
                    + _HOURS + r"\b|\b" + _HOURS + r"\s+o'clock\b|\b\d{1,2}[:.]\d{2}\s*[ap]\.?m\b\.?|\b\d{1,2}\s*[ap]\.?m\b\.?"
                    r"|\b\d{1,2}:[0-5]\d\b|\b(?:at|by|from|until|till)\s+\d{1,2}\.[0-5]\d\b|\b(?:noon|midday|midnight)\b"
                    r"|\b" + _HOURS + r"\s+(?:thirty|fifteen|forty[\s-]five|" + "|".join(_SMALL[:9]) + r")\s+(?:in the|at)\s+"
                    r"(?:morning|afternoon|evening|night)\b", re.I)
_YEAR = re.compile(r"\b(1[5-9]\d\d|20\d\d)\b")
# How long something has gone on, said as when it began: "since 1987", "since last spring".
_SINCE = re.compile(r"\bsince\s+(?:(?:the\s+)?(?:1[5-9]\d\d|20\d\d)s?|" + _MONTH + r"(?:\s+\d{4})?|last\s+\w+|"
                    r"(?:i|we|she|he|they)\s+was\s+\w+|(?:i|we|she|he|they)\s+were\s+\w+)", re.I)
_DURATION = re.compile(r"\b(seconds?|minutes?|hours?|days?|nights?|evenings?|mornings?|afternoons?|weekends?|weeks?|"
                       r"months?|years?|decades?|centur(y|ies)|times?)\b", re.I)
_DISTANCE = re.compile(r"\b(kilomet\w*|km|miles?|met(er|re)s?|centimet\w*|feet|foot|inch(es)?|yards?|storeys?|"
                       r"stories|floors)\b|\d\s*(m|cm|ft)\b", re.I)
_HEIGHT = re.compile(r"\b(met(er|re)s?|centimet\w*|feet|foot|inch(es)?|storeys?|stories|floors)\b|\d\s*(m|cm|ft)\b",
                     re.I)
_WEIGHT = re.compile(r"\b(grams?|kilos?|kilograms?|tonnes?|tons?|pounds?|lbs?|ounces?|oz|stone)\b|\d\s*(g|kg)\b", re.I)
# How often: "every month", "twice a week", "on the first Saturday of each month", "weekly".
_ORDINAL_OF = r"(?:(?:the\s+)?(?:first|second|third|fourth|last)\s+\w+\s+of\s+)?"  # "the first Saturday of"
_FREQUENCY = re.compile(r"\b" + _ORDINAL_OF + r"(?:every|each)\s+(?:other\s+|second\s+|few\s+)?\w+"
                        r"|\b(?:once|twice|thrice|\w+\s+times)\s+(?:a|an|per|each|every)\s+\w+"
                        r"|\b(?:daily|nightly|weekly|fortnightly|monthly|yearly|annually|hourly|always)\b"
                        r"|\b(?:a|per)\s+(?:day|night|week|month|year)\b", re.I)
# A share of a whole: "two out of every three", "a third", "40 per cent", "most of them".
_SHARE = re.compile(r"\b(?:\d[\d.]*|" + "|".join(WORD_NUM[:10]) + r")\s+out\s+of\s+(?:every\s+)?\w+"
                    r"|\bone\s+in\s+\w+|[\d.,]+\s*(?:%|per ?cent|percent)"
                    r"|\b(?:(?:a|one|two|three)\s+)?(?:half|halves|thirds?|quarters?|fifths?|tenths?)\b|\b(?:majority|"
                    r"minority|most|all|none)\s+of\b", re.I)
# Nothing to pay is an answer to what it costs: "entry is free", "it costs nothing", "on the house"; not a thing
# given away ("free rides to hospitals" does not say what a ticket costs).
_FREE = re.compile(r"\b((is|are|was|were|it's|that's|be|for|entirely|completely|totally)\s+free"
                   r"|free\s+(of\s+charge|entry|admission|to\s+(enter|join|attend|visit|use))"
                   r"|(costs?|pay|paid|charges?d?)\s+nothing|no\s+(charge|fee|cost)|on\s+the\s+house)\b", re.I)
# Money: a currency, or a large round number said alone ("it cost two million"), not one counting things
# ("90 million litres").
_MONEY = re.compile(r"[$€£¥]|\b(euros?|dollars?|pounds?|quid|bucks|cents?|pence|yen|francs?|crowns?|rupees?)\b|\d\s*p\b(?!\.?m)"
                    r"|\b(thousand|million|billion)\b(?!\s+[a-z])|\b\d+\.\d\d\b(?!\s*(%|[a-z]))", re.I)  # "Tea 2.40"
# An age said bare follows a verb ("the oldest is 81", "she turned 40"), not a noun ("Route 7").
AGE = re.compile(r"\b(years?|months?)[ -]old\b|\baged?\s+\d|\b(is|was|am|are|were|'s|turned|turns|turning|be|in|at)"
                 r"\s+(\d{1,3}|" + "|".join(_SMALL) + r")\b(?!\s*(%|per))|\b1[5-9]\d0s\b", re.I)
# "on a charge", "to charge it" speak of a battery, not of money.
_COST_Q = re.compile(r"\b(cost|costs|price|pay|paid|paying|(?<!a )(?<!one )(?<!full )(?<!per )(?<!to )charge|charged|"
                     r"fees?|free|money|spend|spent|budget|worth|"
                     r"how much (does|is|was|are|did|do|will)(?!.*\bweigh))\b")  # "how much does it weigh": no price
# "Do you have to pay?", "Is it free?": a yes-or-no question about money wants what it costs.
PAY_Q = re.compile(r"^\s*(do|does|did|is|are|was|were|will|would|can|could|must|should)\b.*\b(pay|paying|paid|charge|"
                   r"charged|fees?|free|cost|costs)\b")
_SCHEDULED = (r"\b(leaves?|left|depart\w*|go|goes|went|starts?|started|opens?|opened|close[sd]?|begins?|began|arrives?|"
              r"arrived|finish\w*|ends?|ended|sail\w*|kick\w* off|set off|get up|got up|wake|woke|back|stop\w*|serv\w*)\b")
# "What time ...", "when does the ferry leave": a clock time answers, "today" does not. "When did the cafe
# open" may want a clock time or a date.
_CLOCK_Q = re.compile(r"\bwhat time\b|\bhow (early|late)\b|\b(opening|closing) (time|hours)\b"
                      r"|\bwhen (does|do|is|are)\b.*" + _SCHEDULED)
_CLOCK_MAYBE_Q = re.compile(r"\bwhen\b.*" + _SCHEDULED)
# "What time does it finish?" is not answered by a time something starts from ("from 6.45 pm"), nor "when do
# the doors open?" by one it lasts until: the words just before a time say which end of a stretch it is.
_END_Q = re.compile(r"\b(finish\w*|ends?|ended|ending|close[sd]?|closing|shut\w*|over|until|till|wrap\w* up|stop\w*)\b")
_START_Q = re.compile(r"\b(starts?|started|starting|begins?|began|beginning|opens?|opened|opening|leaves?|left|"
                      r"depart\w*|kick\w* off|set off|arrive\w*|doors)\b")
_FROM = re.compile(r"\b(from|after|starts?|starting|begins?|opens?|doors)\s+(at\s+)?$", re.I)
_UNTIL = re.compile(r"\b(until|till|to|by|ends?|ending|finish\w*|close[sd]?|closing|before|latest)\s+(at\s+)?$|[-–]\s*$",
                    re.I)


def wrong_end(question: str, line: str, start: int) -> bool:
    """Whether the time at line[start:] is the other end of a stretch than the question asks for: a start
    ("from 6.45") for a question about the end, an end ("until ten") for one about the start."""
    q = question.lower()
    head = re.match(r"(from|after|until|till|by)\s+", line[start:], re.I)  # the time's own first word
    before = line[max(0, start - 20):start] + (head.group(0) if head else "")
    # the question's last word of either kind is its verb ("when does the open night finish": the end)
    ends = [(m.start(), _FROM, _END_Q) for m in _END_Q.finditer(q)] + \
        [(m.start(), _UNTIL, _START_Q) for m in _START_Q.finditer(q)]
    if not ends:
        return False
    _, other_before, asked = max(ends, key=lambda e: e[0])
    # a board's row names its event after the time ("6:45 Doors open"): an event of the other end is wrong too
    row = re.split(r"\s\|\s|[.;]", line[start:], maxsplit=1)[0]
    after = re.sub(r"^\S+(\s*[ap]\.?m\b\.?)?", "", row, flags=re.I).strip().lower()
    other_after = (_START_Q if asked is _END_Q else _END_Q).match(after)
    return bool(other_before.search(before)) or bool(other_after) and not asked.match(after)


def _found(question: str, unit: re.Pattern[str], line: str) -> list[re.Match[str]]:
    """The unit's matches in the line, times at the wrong end of a stretch left out (`wrong_end`)."""
    return [m for m in unit.finditer(line) if unit is not _CLOCK or not wrong_end(question, line, m.start())]


# Quantity questions and the units their answers carry; a question matching none wants any number.
_UNITS = ((re.compile(r"\bhow old\b|\bwhat age\b"), AGE),
          (_COST_Q, _MONEY),
          (_COST_Q, _FREE),
          (re.compile(r"\bhow (often|frequently|regularly)\b"), _FREQUENCY),
          (re.compile(r"\b(what|which) (proportion|percentage|share|fraction|portion|part)\b|\bhow much of\b"), _SHARE),
          (re.compile(r"\bhow long\b"), _DURATION),
          (re.compile(r"\bhow long (has|have|had)\b"), _SINCE),
          (re.compile(r"\bhow (long|far|close|near)\b|\bdistance\b"), _DISTANCE),
          (re.compile(r"\bhow (tall|high|deep|wide)\b|\b(height|width|depth)\b"), _HEIGHT),
          (re.compile(r"\bhow (heavy|light)\b|\bweigh\w*\b"), _WEIGHT),
          (re.compile(r"\bhow (fast|quick|quickly)\b|\b(his|her|their|'s) (\w+ )?time\b"),
           re.compile(r"\b(km/h|kph|mph|miles an hour|kilomet\w* an hour|seconds?|minutes?|hours?)\b", re.I)),
          (re.compile(r"\bhow (much )?(cooler|warmer|colder|hotter)\b|\btemperature\b"),
           re.compile(r"\b(degrees?|°)", re.I)),
          (re.compile(r"\b(what|which) (day|night|evening|morning|afternoon)\b"), _DAY),
          (re.compile(r"\b(what|which) (year|decade)\b|\bin what year\b"), _YEAR),
          (_CLOCK_Q, _CLOCK),
          (_CLOCK_MAYBE_Q, _CLOCK),
          (re.compile(r"\b(what|which) date\b|\bwhat day of the month\b"), _DATE),
          (re.compile(r"\bwhen\b|\b(what|which) month\b"), _WHEN))
# Units a word alone can answer ("every Tuesday", "once a month", "a third", "it's free", "noon").
_DATES = (_DAY, _YEAR, _WHEN, _FREQUENCY, _SHARE, _FREE, _CLOCK, _DATE, _SINCE)
_PHRASES = (_FREQUENCY, _SHARE, _FREE, _CLOCK, _DATE, _SINCE)  # units whose whole match is the answer's span
# Units that, after a number, say it measures rather than counts ("90 million litres" counts no staff).
_MEASURES = re.compile(r"^(seconds?|minutes?|hours?|days?|weeks?|months?|years?|ago|times?|litres?|liters?|"
                       r"kilomet\w*|km|miles?|met(er|re)s?|kilos?|kilograms?|grams?|tonnes?|tons?|percent|per|"
                       r"degrees?|feet|foot|inch(es)?|pounds?|euros?|dollars?|pence|quid)$")

# A number and the one or two words after it: what it counts ("11 seals") or measures ("90 million litres").
# A sum of money ("£5, members ...") and a number ending its list item ("5, members") count nothing.
_COUNT = re.compile(r"(?:(?<![$€£¥\d.,])\d(?:[\d,.]*\d)?|\b(?:" + "|".join(WORD_NUM) + r"))[\s-]+(\w+)(?:\s+(\w+))?",
                    re.I)
NUMBER_Q = re.compile(r"\b(how (many|much|long|far|big|old|heavy|light|often|frequently|regularly|fast|quick|quickly|"
                      r"high|tall|large|cool|cold|hot|warm|early|late|close|near|deep|wide)|"
                      r"(what|which) (year|date|day|night|"
                      r"evening|month|time|age|percentage|proportion|share|fraction|portion|decade)|when)\b|\bcost\b|\bprices?\b"
                      r"|\bworth\b|\b(his|her|their|'s) (\w+ )?time\b|" + PAY_Q.pattern)
NUMBER = re.compile(r"\d|\b(" + "|".join(WORD_NUM + _MONTHS) + r"|noon|midday|midnight)\b", re.IGNORECASE)
_NUM_SPAN = re.compile(r"(?:\b(?:about|over|up to|more than|almost|nearly)\s+)?(?:" + _MONTH + r"(?:\s+\d{1,4})?"
                       r"|[$€£¥]?(?:\d[\d,.]*\d|\d)(?:\s*%|st|nd|rd|th)?|\b(?:" + "|".join(WORD_NUM) + r")\b)"
                       r"(?:[\s-]+(?:(?:of\s+)?" + _MONTH + r"|\d[\d,.]*|[a-z]+))?(?:,?\s+\d{4})?", re.IGNORECASE)


@lru_cache(maxsize=64)  # asked once per line scored, of one question
def units(question: str) -> tuple[re.Pattern[str], ...]:
    """The units the question's answer carries (none: any number). A clock time or a date asked for is
    not answered by any word for a time ("today" does not say when the last ferry goes)."""
    q = question.lower()
    found = [unit for asks, unit in _UNITS if asks.search(q)]
    if _CLOCK_Q.search(q) or _DATE in found:
        found = [u for u in found if u is not _WHEN]
    return tuple(dict.fromkeys(found))


# The verbs a duration question asks with; the answer's line need not say them ("Built in 11 months").
_DURATION_VERBS = frozenset("take takes took taken taking last lasts lasted lasting".split())


def cue_words(question: str) -> set[str]:
    """The words that ask for a quantity's kind ("which day", "how often"): they name the kind of answer,
    not what the answer is about ("every day except Monday" shares "day" with "on which day ...")."""
    q = question.lower()
    found = {w for asks, _ in _UNITS for m in asks.finditer(q) for w in textmatch.words(m.group(0))}
    if found & {"long", "hours", "minutes", "days", "weeks"}:  # "how long did it take", "how many hours does it last"
        found |= _DURATION_VERBS & set(textmatch.words(q))
    return found


def _within(unit: re.Pattern[str], line: str, start: int, end: int) -> bool:
    """Whether the unit is read inside line[start:end], in the context of the whole line ("90 million" is
    a sum of money alone, not before "litres")."""
    return any(m.end() <= end for m in unit.finditer(line, start))


def _names_part(line: str, start: int, span: str) -> bool:
    """Whether the number at line[start:] ends a name, as a model's number does ("Aurion Pods 3: 6 hours",
    "the Kestrel Buds 2"): a small whole number after two capitalised words, in a line not set in capitals."""
    if not re.fullmatch(r"\d{1,3}", span) or line.upper() == line:
        return False
    before = re.split(r"[.;:|,]", line[:start])[-1].split()
    return len(before) >= 2 and all(w[:1].isupper() for w in before[-2:])


def number_spans(question: str, line: str) -> list[str]:
    """The line's numbers as answers to the question, nearest the question's own words first ("the oldest
    is 81" before "the youngest 17" for "how old is the oldest"): a phrase of the kind asked ("every month",
    "two out of every three"), else a number reaching to the unit asked for ("two or three minutes") within
    its clause, numbers without that unit left out; a trailing function word dropped ("2000 and" -> "2000")."""
    wanted = units(question)
    found = [(m.start(), m.group(0).strip(" ,.")) for u in wanted if u in _PHRASES for m in _found(question, u, line)]
    for m in _NUM_SPAN.finditer(line):
        span = m.group(0).strip(" ,.")
        if not NUMBER.search(span) or any(a <= m.start() < a + len(s) for a, s in found) \
                or _names_part(line, m.start(), span):
            continue  # inside a phrase already found ("ten past eight"), or a model's number ("Aurion Pods 3")
        # a unit in the words just before it, in its clause: "a minute and a half", "the oldest is 81"
        before = " ".join(re.split(r"[,;:.|]", line[:m.start()])[-1].split()[-3:] + [span])
        unit_before = next((u.search(before) for u in wanted if not u.search(span) and u.search(before)), None)
        if unit_before and unit_before.re is not AGE:
            span = before[unit_before.start():]  # "minute and a half"
        elif wanted and not unit_before and not any(_within(u, line, m.start(), m.start() + len(span))
                                                    for u in wanted):
            clause = " ".join(re.split(r"(?<=[,;.:])\s|\s\|\s", line[m.start():], maxsplit=1)[0].split()[:5])
            ends = [u.end() for u in (w.search(clause) for w in wanted) if u]  # the unit read in its context
            cut = min(ends, default=0)  # ("90 million litres" is no sum of money)
            span = (clause[:cut] + re.match(r"\S*", clause[cut:]).group(0)).strip(" ,.") if ends else ""
        words = span.split()
        while len(words) > 1 and words[-1].lower().strip(",.") in textmatch.STOP:
            words = words[:-1]
        start = line.find(words[0], max(0, m.start() - 30)) if words else -1  # where the span (reaching back) begins
        if words and not (_CLOCK in wanted and wrong_end(question, line, max(start, 0))):
            whole = " ".join(words)
            at = line.find(whole, max(start, 0))
            cut = re.match(r"[\w'’]*", line[at + len(whole):]).group(0) if at >= 0 else ""
            found.append((m.start(), whole + cut))  # a word is quoted whole: "1950s", never "1950"
    asked = textmatch.content_tokens(question)
    near = [m.span() for m in re.finditer(r"[\w'’-]+", line) if any(_alike(t, a) for t in
                                                                   textmatch.content_tokens(m.group(0)) for a in asked)]
    cells = [m.end() for m in re.finditer(r"\s\|\s", line)]  # a board's rows ("Adults 6.50 | Children 3.20")

    def cell(at: int) -> int:
        return sum(end <= at for end in cells)

    def held(f: tuple[int, str]) -> int:  # the question's words in the number's own row
        return -sum(cell(a) == cell(f[0]) for a, _ in near)

    found.sort(key=lambda f: (held(f), min((max(0, a - f[0] - len(f[1]), f[0] - b) for a, b in near), default=0)))
    return list(dict.fromkeys(span for _, span in found))


def _alike(word: str, asked: str) -> bool:
    """The same word, or one a form of the other ("children" for "child")."""
    return word == asked or min(len(word), len(asked)) >= 4 and (word.startswith(asked) or asked.startswith(word))


def _month(word: str) -> bool:
    """Whether the word is a month's name or its short form ("Sept", "Aug"; not "mayors")."""
    return len(word) >= 3 and any(m.startswith(word) for m in _MONTHS)


def holds(question: str, text: str, counted: list[str]) -> bool:
    """Whether the text holds a number of the kind the question asks (its unit, or a count of the things
    `counted`, the words a "how many" question counts)."""
    wanted = units(question)  # "how old is it, when was it made": either
    if wanted:  # a word alone ("every Tuesday"), else a number carrying the unit in its clause ("three evenings")
        return any(_found(question, unit, text) for unit in wanted if unit in _DATES) or bool(number_spans(question, text))
    if "how many" in question.lower():  # a count: a number followed by things, not a measure ("ten years ago")
        for m in _COUNT.finditer(text):
            things = [w.lower() for w in m.groups() if w]
            if things[0] in textmatch.STOP or _month(things[0]):  # "a minute and a half on each side"
                continue                                           # counts nothing, "Sat 6 Sept" is a date
            measured = [w for w in things if _MEASURES.match(w)]
            if not measured or any(textmatch.stem(w) in map(textmatch.stem, counted) for w in measured):
                return True
        return False
    return bool(NUMBER.search(text))


def span(question: str, line: str) -> str:
    """The number of the line answering the question ("" when none): never one the question holds itself
    ("route 7"), else the first word alone of the kind asked ("every Tuesday")."""
    asked = set(textmatch.words(question))
    found = [n for n in number_spans(question, line) if not {w for w in textmatch.words(n) if NUMBER.search(w)} <= asked]
    if found:
        return found[0]
    when = next((m for u in units(question) if u in _DATES for m in _found(question, u, line)[:1]), None)
    return when.group(0) if when else ""


def scans(question: str) -> bool:
    """Whether the question names a kind of quantity (how often, how old, what share, what time)."""
    return bool(units(question))
