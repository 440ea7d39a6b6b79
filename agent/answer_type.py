"""What kind of answer a question wants, whether a line holds one, and the short span that is the answer.

Plain English cues, no model: "who" wants a person's name, "how many / when / how long" a number or a
date, "where" a place, "which X ..." the named thing that holds X. Names are runs of capitalised words;
numbers are digits, number words and dates. A line in capitals (as credits often are) is read by the
same rules. The span returned is always a substring of the line, so it is memory's words.
"""
from __future__ import annotations

import re

from agent import textmatch

PERSON, ROLE, NUMBER, PLACE, ENTITY, REASON, RIGHTS, THING = ("person", "role", "number", "place", "entity", "reason",
                                                             "rights", "thing")
# "Can I reuse this footage?", "what licence is it under?": the answer is a licence or copyright notice,
# usually an end card whose words share nothing with the question's.
_USE = r"(share|reuse|use|copy|remix|edit|cut|upload|post|publish|distribute|show)"
_THIS_WORK = r"(this|the|its)\s+(film|video|footage|clip|movie|work|material)"
_RIGHTS_Q = re.compile(r"\b(licen[cs]e[ds]?|copyright\w*|rights|re-?use|re-?share|redistribut\w*|remix\w*|permission|"
                       r"creative commons|public domain|under what terms|(allowed|free) to " + _USE + r")\b"
                       r"|\b(can|could|may)\s+(i|we|you|people|anyone)\b.*(\b" + _USE + r"\b.*\b" + _THIS_WORK
                       + r"|\b" + _THIS_WORK + r"\b.*\b" + _USE + r")\b")
_RIGHTS = re.compile(r"licen[cs]e|copyright|©|\(c\)|all rights reserved|creative commons|\bcc[\s-]?(by|0|o|zero)\b|"
                     r"public domain|attribution|share[\s-]?alike|non-?commercial|no-?deriv", re.I)
# "Who are the regulars?" asks for a group ("nurses and bakers"), not for a person's name.
_GROUP_Q = re.compile(r"^\s*who\s+(are|were)\b")
# Kinds whose answer must hold the cue: a number question is not answered by a line without that number.
REQUIRED = (NUMBER, PERSON, RIGHTS)
# Words that refer to a person without naming one: "the coach told a long story" answers "who".
_PERSON_NOUNS = frozenset("""man woman men women boy girl child children kid kids baby friend friends sister brother
mother father mum mom dad parents uncle aunt grandmother grandfather grandma grandpa granddad neighbour neighbor
neighbours neighbors tourist tourists fisherman wife husband son daughter family team volunteers students student
crew staff doctor farmer police officer mayor pupils visitors passengers riders""".split())
# Kinds whose cue only adds: a person, a place or a thing may well be said without a name ("the students").
BONUS_ONLY = (PERSON, ROLE, PLACE, ENTITY, REASON)
_ROLE_Q = re.compile(r"\b(job title|(his|her|their|[a-z]+'s) (job|role|position|title)|for a living|occupation|"
                     r"profession|works? as)\b")
_REASON_Q = re.compile(r"^\s*why\b|\bwhat (made|makes|caused|causes)\b")
_REASON = re.compile(r"\b(because|since|so that|so \w+ that|due to|as a result|too \w+|that's why|in order to|"
                     r"thanks to)\b", re.IGNORECASE)
_PLACE = re.compile(r"\b(in|on|at|near|inside|outside|under|behind|beside|across|around|from)\s+(the|a|an|their|"
                    r"its|our)\s+\w+", re.IGNORECASE)
# A time or a date: a word alone answers "when" or "which day" ("every Tuesday"), with or without a number.
_WHEN = re.compile(r"\b(1[5-9]\d\d|20\d\d|january|february|march|april|may|june|july|august|september|october|"
                   r"november|december|monday|tuesday|wednesday|thursday|friday|saturday|sunday|yesterday|"
                   r"tomorrow|today|spring|summer|autumn|winter|\d+\s*[ap]\.?m\b|o'clock)\b", re.I)
_DAY = re.compile(r"\b(monday|tuesday|wednesday|thursday|friday|saturday|sunday|weekends?|yesterday|tomorrow|today|"
                  r"\d{1,2}(st|nd|rd|th)|(january|february|march|april|may|june|july|august|september|october|"
                  r"november|december)\s+\d{1,2}|\d{1,2}\s+(of\s+)?(january|february|march|april|may|june|july|"
                  r"august|september|october|november|december))\b", re.I)
_YEAR = re.compile(r"\b(1[5-9]\d\d|20\d\d)\b")
_DURATION = re.compile(r"\b(seconds?|minutes?|hours?|days?|nights?|evenings?|mornings?|afternoons?|weekends?|weeks?|"
                       r"months?|years?|decades?|centur(y|ies)|times?)\b", re.I)
_DISTANCE = re.compile(r"\b(kilomet\w*|km|miles?|met(er|re)s?|feet|foot|yards?)\b", re.I)
_WORD_NUM = ("one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen sixteen "
             "seventeen eighteen nineteen twenty thirty forty fifty sixty seventy eighty ninety hundred thousand "
             "million billion dozen half quarter").split()
# How often: "every month", "twice a week", "on the first Saturday of each month", "weekly".
_ORDINAL_OF = r"(?:(?:the\s+)?(?:first|second|third|fourth|last)\s+\w+\s+of\s+)?"  # "the first Saturday of"
_FREQUENCY = re.compile(r"\b" + _ORDINAL_OF + r"(?:every|each)\s+(?:other\s+)?\w+"
                        r"|\b(?:once|twice|thrice|\w+\s+times)\s+(?:a|an|per|each|every)\s+\w+"
                        r"|\b(?:daily|nightly|weekly|fortnightly|monthly|yearly|annually|hourly|always)\b"
                        r"|\b(?:a|per)\s+(?:day|night|week|month|year)\b", re.I)
# A share of a whole: "two out of every three", "a third", "40 per cent", "most of them".
_SHARE = re.compile(r"\b(?:\d[\d.]*|" + "|".join(_WORD_NUM[:10]) + r")\s+out\s+of\s+(?:every\s+)?\w+"
                    r"|\bone\s+in\s+\w+|[\d.,]+\s*(?:%|per ?cent|percent)"
                    r"|\b(?:(?:a|one|two|three)\s+)?(?:half|halves|thirds?|quarters?|fifths?|tenths?)\b|\b(?:majority|"
                    r"minority|most|all|none)\s+of\b", re.I)
# Nothing to pay is an answer to what it costs: "entry is free", "it costs nothing", "on the house"; not a thing
# given away ("free rides to hospitals" does not say what a ticket costs).
_FREE = re.compile(r"\b((is|are|was|were|it's|that's|be|for|entirely|completely|totally)\s+free"
                   r"|free\s+(of\s+charge|entry|admission|to\s+(enter|join|attend|visit|use))"
                   r"|(costs?|pay|paid|charges?d?)\s+nothing|no\s+(charge|fee|cost)|on\s+the\s+house)\b", re.I)
# An age said bare follows a verb ("the oldest is 81", "she turned 40"), not a noun ("Route 7").
_SMALL_NUMBERS = _WORD_NUM[:_WORD_NUM.index("hundred")]  # one ... ninety
_AGE = re.compile(r"\b(years?|months?)[ -]old\b|\baged?\s+\d|\b(is|was|am|are|were|'s|turned|turns|turning|be|in|at)"
                  r"\s+(\d{1,3}|" + "|".join(_SMALL_NUMBERS) + r")\b(?!\s*(%|per))", re.I)
_COST_Q = re.compile(r"\b(cost|costs|price|pay|paid|paying|charge|charged|fees?|free|money|spend|spent|budget|worth|"
                     r"how much (does|is|was|are))\b")
# "Do you have to pay?", "Is it free?": a yes-or-no question about money wants what it costs.
_PAY_Q = re.compile(r"^\s*(do|does|did|is|are|was|were|will|would|can|could|must|should)\b.*\b(pay|paying|paid|charge|"
                    r"charged|fees?|free|cost|costs)\b")
# Quantity questions and the units their answers carry; a question matching none wants any number.
_UNITS = ((re.compile(r"\bhow old\b|\bwhat age\b"), _AGE),
          (_COST_Q, re.compile(r"[$€£¥]|\b(euros?|dollars?|pounds?|quid|bucks|cents?|pence|yen|francs?|crowns?|"
                               r"rupees?|thousand|million|billion)\b", re.I)),
          (_COST_Q, _FREE),
          (re.compile(r"\bhow (often|frequently|regularly)\b"), _FREQUENCY),
          (re.compile(r"\b(what|which) (proportion|percentage|share|fraction|portion)\b"), _SHARE),
          (re.compile(r"\bhow long\b"), _DURATION),
          (re.compile(r"\bhow long\b|\bhow far\b|\bdistance\b"), _DISTANCE),
          (re.compile(r"\bhow (fast|quick|quickly)\b|\b(his|her|their|'s) (\w+ )?time\b"),
           re.compile(r"\b(km/h|kph|mph|miles an hour|kilomet\w* an hour|seconds?|minutes?|hours?)\b", re.I)),
          (re.compile(r"\bhow (much )?(cooler|warmer|colder|hotter)\b|\btemperature\b"),
           re.compile(r"\b(degrees?|°)", re.I)),
          (re.compile(r"\b(what|which) (day|night|evening|morning|afternoon)\b"), _DAY),
          (re.compile(r"\b(what|which|in what|in which) year\b"), _YEAR),
          (re.compile(r"\bwhen\b|\b(what|which) (date|month)\b"), _WHEN))
# units a word alone can answer ("every Tuesday", "once a month", "a third", "it's free"), no number needed
_DATES = (_DAY, _YEAR, _WHEN, _FREQUENCY, _SHARE, _FREE)
_PHRASES = (_FREQUENCY, _SHARE, _FREE)  # units whose whole match is the answer's span
_TIME_UNITS = re.compile(r"^(seconds?|minutes?|hours?|days?|weeks?|months?|years?|ago|times?)$")
# Jobs and credit roles: words of a name card that are not the name ("Director Ines Carvalho").
_ROLES = frozenset("""writer cook chef curator restorer volunteer reporter presenter host director producer editor
manager head officer driver nurse teacher professor baker cleaner gardener coach captain chair president secretary
founder owner artist designer photographer camera sound music design editing narrator narration animation
production recordist recording mixer composer researcher consultant assistant executive""".split())
_ROLE_FORMS = frozenset("reported produced directed edited filmed narrated written composed".split())
# Words that make a run of capitals an organisation, a place, a sign or a job rather than a person.
_NOT_PERSON = frozenset("""news university college school council foundation fund trust bank society hospital city
town street road avenue route station company transit media arts family community civic centre center
institute museum library park district council ministry department agency studio studios films productions
commons creative attribution licence license
lane square place bridge market hall house garden gardens harbour harbor port bay beach island river lake hill
valley north south east west episode chapter part level exit room table locker aisle tip""".split()) | _ROLES

_NUMBER_Q = re.compile(r"\b(how (many|much|long|far|big|old|often|frequently|regularly|fast|quick|quickly|high|tall|"
                       r"large|cool|cold|hot|warm)|(what|which) (year|date|day|night|evening|month|time|age|percentage|"
                       r"proportion|share|fraction|portion)|when)\b|\bcost\b|\bworth\b"
                       r"|\b(his|her|their|'s) (\w+ )?time\b|" + _PAY_Q.pattern)
_PERSON_Q = re.compile(r"^\s*(who|whom|whose)\b|\b(who|whom)\s+(is|was|did|does|directed|made|wrote)\b"
                       r"|\bwhat(?:'s| is| was)\s+(?:the\s+)?(?:[\w']+\s+)?name\b|\bname of the (?:\w+\s+)?"
                       r"(?:person|man|woman|reporter|presenter|narrator|director|speaker|scientist|host)\b")
_ENTITY_Q = re.compile(r"\b(which|what)\s+(?!(is|are|was|were|do|does|did|can|could|will|would|kind|kinds|"
                       r"type|types|sort|else)\b)\w+|\bwhich of\b|^\s*what(?:'s| is| was)\b.*\bcalled\b"
                       r"|\bwhat(?:'s| is| was)\s+(?:the|its|this|their)\s+\w+\s*\?")  # "what's the licence?"
_PLACE_Q = re.compile(r"^\s*where\b|\bwhere (was|is|did|does|were|are)\b|\bwhat (city|town|country|place)\b")
_MONTHS = ("january february march april may june july august september october november december").split()
_NUMBER = re.compile(r"\d|\b(" + "|".join(_WORD_NUM + _MONTHS) + r")\b", re.IGNORECASE)
# A run of capitalised words (a name, a place, an organisation); "St." and "O'Brien" are words too.
_CAPS = re.compile(r"\b[A-Z][\w'’.-]*(?:[ \t]+(?:of|de|van|von|da|la|the)?[ \t]?[A-Z][\w'’.-]*)*")
_MONTH = r"\b(?:" + "|".join(_MONTHS) + r")\b"
_NUM_SPAN = re.compile(r"(?:\b(?:about|over|up to|more than|almost|nearly)\s+)?(?:" + _MONTH + r"(?:\s+\d{1,4})?"
                       r"|[$€£¥]?(?:\d[\d,.]*\d|\d)(?:\s*%|st|nd|rd|th)?|\b(?:" + "|".join(_WORD_NUM) + r")\b)"
                       r"(?:[\s-]+(?:(?:of\s+)?" + _MONTH + r"|\d[\d,.]*|[a-z]+))?(?:,?\s+\d{4})?", re.IGNORECASE)
_NOT_NAME_START = {"i", "i'm", "im", "hello", "hi", "good", "my", "we", "our", "and", "but", "so", "the", "a",
                   "this", "that", "it", "for", "from", "in", "on", "at", "with", "by", "mostly", "today",
                   "tomorrow", "when", "if", "as", "since", "then", "there", "they", "he", "she", "you",
                   # words that open a sentence, capitalised only for that: "Last month I ran ..." names nothing
                   "last", "next", "first", "every", "each", "some", "most", "many", "after", "before", "during",
                   "once", "now", "here", "yes", "no", "well", "oh", "also", "still", "just", "even", "only", "all",
                   "both", "one", "two", "three", "what", "where", "why", "how", "who", "yesterday", "tonight",
                   "finally", "later", "soon", "please", "thanks", "thank", "let's", "lets", "sometimes", "usually"}


TITLE_S = 20.0  # a card shown in the video's first seconds is its title card
_TITLE_Q = re.compile(r"\b(called|title|titled|name)\b")
_WORK = re.compile(r"\b(show|film|video|documentary|programme|program|series|episode|movie|report|clip|channel)\b")


def asks_title(question: str) -> bool:
    """Whether the question asks what the video itself is called ("What is the cooking show called?")."""
    q = question.lower()
    return bool(_TITLE_Q.search(q) and _WORK.search(q)) and answer_type(question) != PERSON


def counted(question: str) -> list[str]:
    """The words naming what a "how many" question counts ("how many extra buses" -> extra, buses)."""
    m = re.search(r"\bhow many\s+(\w+)(?:\s+(\w+))?", question.lower())
    return [w for w in (m.groups() if m else ()) if w and w not in textmatch.STOP]


def label(text: str) -> bool:
    """A line of capitalised words only (a name, a title, a job): it labels, it states no fact."""
    long = [w for w in re.findall(r"[^\W\d_][\w'’-]*", text) if len(w) >= 4]
    return bool(long) and all(w[0].isupper() for w in long)


def answer_type(question: str) -> str:
    """What kind of answer the question wants: the first kind whose question cue it has, else THING."""
    q = question.lower()
    if _GROUP_Q.search(q):
        return THING
    cues = ((_RIGHTS_Q, RIGHTS), (_ROLE_Q, ROLE), (_PERSON_Q, PERSON), (_NUMBER_Q, NUMBER), (_PLACE_Q, PLACE),
            (_REASON_Q, REASON), (_ENTITY_Q, ENTITY))
    return next((kind for cue, kind in cues if cue.search(q)), THING)


def _cased(line: str) -> str:
    """The line with words in capitals title-cased (same length), so capitals read as names."""
    if not line.isupper():
        return line
    return re.sub(r"[A-Za-z']+", lambda m: m.group(0).lower() if m.group(0).lower() in textmatch.STOP
                  else m.group(0), line.title())


def names(line: str) -> list[str]:
    """Runs of capitalised words in the line (function words and greetings at their start dropped)."""
    text = _cased(line)
    out = []
    for m in _CAPS.finditer(text):
        start, words = m.start(), m.group(0).split()
        while words and words[0].lower().strip(",.") in _NOT_NAME_START:
            start = text.index(words[1], start + len(words[0])) if len(words) > 1 else m.end()
            words = words[1:]
        if words:
            span = line[start:start + len(" ".join(words))].strip(" ,.")
            out.append(span)
    return out


def people(line: str, terms: set[str] = frozenset()) -> list[str]:
    """Names of persons in the line: runs of two to four capitalised words, the question's own words at
    their start dropped ("Sound Design Kofi Mensah" -> "Kofi Mensah"), organisations left out."""
    out = []
    for n in names(line):
        words = n.split()
        # A credit's role before its name ("Director Ines Carvalho", "Sound Recordist Farah Siddiqui").
        while words and (set(textmatch.content_tokens(words[0])) & terms or _role_word(words[0])):
            words = words[1:]
        low = {w.lower().strip(",.'’") for w in words}
        if 2 <= len(words) <= 4 and not low & _NOT_PERSON and "of" not in low \
                and not set(textmatch.content_tokens(" ".join(words))) & terms:
            out.append(" ".join(words))
    return out


def _role_word(word: str) -> bool:
    """A credit's role, or the start of one the reading cut short ("Produ Yuki Tanaka", "Report Ines ...")."""
    w = word.lower().strip(":,.")
    return w in _ROLES or len(w) >= 4 and any(r.startswith(w) for r in _ROLES | _ROLE_FORMS)


def role_named(question: str, text: str) -> bool:
    """Whether the text names the role the question asks about: "narrator" -> "Narrated by", "director" ->
    "Directed by", "driver" -> "Bus Driver" (the role noun's root begins a word of the text)."""
    roots = {w[:-2] for w in textmatch.words(question) if w.endswith(("or", "er")) and len(w) >= 6}
    return any(t.startswith(r) for r in roots for t in textmatch.words(text))


def _number_spans(question: str, line: str) -> list[str]:
    """The line's numbers as answers to the question, nearest the question's own words first ("the oldest
    is 81" before "the youngest 17" for "how old is the oldest"): a phrase of the kind asked ("every month",
    "two out of every three"), else a number reaching to the unit asked for ("two or three minutes") within
    its clause, numbers without that unit left out; a trailing function word dropped ("2000 and" -> "2000")."""
    q = question.lower()
    units = [u for asks, u in _UNITS if asks.search(q)]
    found = [(m.start(), m.group(0).strip(" ,.")) for u in units if u in _PHRASES for m in u.finditer(line)]
    for m in _NUM_SPAN.finditer(line):
        span = m.group(0).strip(" ,.")
        if not _NUMBER.search(span):
            continue
        # a unit in the words just before it, in its clause: "a minute and a half", "the oldest is 81"
        before = " ".join(re.split(r"[,;:.]", line[:m.start()])[-1].split()[-3:] + [span])
        unit_before = next((u.search(before) for u in units if not u.search(span) and u.search(before)), None)
        if unit_before and unit_before.re is not _AGE:
            span = before[unit_before.start():]  # "minute and a half"
        elif units and not unit_before and not any(u.search(span) for u in units):
            ahead = re.split(r"(?<=[,;.:])\s", line[m.start():], maxsplit=1)[0].split()[:5]  # within its clause
            span = next((" ".join(ahead[:k]).strip(" ,.") for k in range(1, len(ahead) + 1)
                         if any(u.search(" ".join(ahead[:k])) for u in units)), "")
        words = span.split()
        while len(words) > 1 and words[-1].lower().strip(",.") in textmatch.STOP:
            words = words[:-1]
        if words:
            found.append((m.start(), " ".join(words)))
    asked = set(textmatch.content_tokens(question))
    near = [m.span() for m in re.finditer(r"[\w'’-]+", line) if set(textmatch.content_tokens(m.group(0))) & asked]
    found.sort(key=lambda f: min((max(0, a - f[0] - len(f[1]), f[0] - b) for a, b in near), default=0))
    return list(dict.fromkeys(span for _, span in found))


def _quantity(question: str, text: str) -> bool:
    """Whether the text holds a number of the kind the question asks (its unit, or a count of things)."""
    q = question.lower()
    units = [unit for asks, unit in _UNITS if asks.search(q)]  # "how old is it, when was it made": either
    if units:  # a word alone ("every Tuesday"), else a number carrying the unit in its clause ("three evenings")
        return any(unit.search(text) for unit in units if unit in _DATES) or bool(_number_spans(question, text))
    if "how many" in q:  # a count: a number followed by the things counted, not a time ("ten years ago")
        for m in re.finditer(r"(?:\d[\d,.]*|\b(?:" + "|".join(_WORD_NUM) + r"))[\s-]+(\w+)(?:\s+(\w+))?", text, re.I):
            things = [w.lower() for w in m.groups() if w]
            if things[0] in textmatch.STOP:  # "a minute and a half on each side" counts nothing
                continue
            if not any(_TIME_UNITS.match(w) for w in things):
                return True
        return False
    return bool(_NUMBER.search(text))


def has_answer(kind: str, text: str, question: str = "") -> bool:
    """Whether the text holds the kind of answer wanted (a THING question: always)."""
    if kind == ENTITY:
        return bool(short_span(question, kind, text))
    if kind == PERSON:  # a name, or a sentence's word for a person the question does not hold ("the coach")
        asked = set(textmatch.words(question))
        return bool(people(text, set(textmatch.content_tokens(" ".join(textmatch.key_terms(question)))))) or \
            not label(text) and any((w in _PERSON_NOUNS or w in _ROLES) and w not in asked
                                    for w in textmatch.words(text))
    if kind == ROLE:
        return bool(people(text)) and " | " in text
    if kind == NUMBER:
        return _quantity(question, text)
    if kind == PLACE:
        return bool(names(text)) or bool(_PLACE.search(text))
    if kind == REASON:
        return bool(_REASON.search(text))
    if kind == RIGHTS:
        return bool(_RIGHTS.search(text))
    return True


def cue_words(question: str) -> set[str]:
    """The words that ask for a quantity's kind ("which day", "how often"): they name the kind of answer,
    not what the answer is about ("every day except Monday" shares "day" with "on which day ...")."""
    q = question.lower()
    return {w for asks, _ in _UNITS for m in asks.finditer(q) for w in textmatch.words(m.group(0))}


def scans(question: str) -> bool:
    """Whether the whole video is worth scanning for lines holding this question's kind of answer: a licence,
    or a quantity of a named kind (how often, how old, what share), rare enough that each such line counts."""
    kind, q = answer_type(question), question.lower()
    return kind == RIGHTS or kind == NUMBER and any(asks.search(q) for asks, _ in _UNITS)


def short_span(question: str, kind: str, line: str) -> str:
    """The short span of the line that answers (a name, a number, the named thing holding a question's
    word), or "" when there is none; always a substring of the line."""
    terms = set(textmatch.content_tokens(" ".join(textmatch.key_terms(question))))
    if kind == NUMBER:  # a number the question itself holds ("route 7") is not its answer
        if not _quantity(question, line):  # "how old": "Route 7" holds a number but not an age
            return ""
        asked = set(textmatch.words(question))
        found = [n for n in _number_spans(question, line)
                 if not {w for w in textmatch.words(n) if _NUMBER.search(w)} <= asked]
        when = next((m for asks, u in _UNITS if u in _DATES and asks.search(question.lower())
                     for m in [u.search(line)] if m), None)
        return found[0] if found else when.group(0) if when else ""
    if kind == PERSON:
        found = people(line, terms)
        return found[0] if found else ""
    if kind == ROLE:  # a lower third: the line of the card that is not the name
        return "" if people(line) else line.split(" | ")[0] if " | " not in line else ""
    if kind == RIGHTS:  # the licence's name ("Creative Commons Attribution"), else the notice ("public domain")
        found = [n for n in names(line) if _RIGHTS.search(n)] + [m.group(0) for m in _RIGHTS.finditer(line)]
        return max(found, key=len, default="")
    if kind not in (ENTITY, PLACE):  # "what does the X fund pay for": a name there is the question's own subject
        return ""
    asked = set(textmatch.content_tokens(question))
    found = [n for n in names(line) if not set(textmatch.content_tokens(n)) <= asked]  # not the question's own
    holding = [n for n in found if terms & set(textmatch.content_tokens(n)) and len(n.split()) >= 2]
    if holding:
        return holding[0]
    if kind == PLACE:
        # A name after "in", "at", "near"... ("Filmed in Port Merrin"), else one that names no person.
        after = [n for n in found if re.search(r"\b(in|at|near|from|to|on)\s+(the\s+)?$", line[: line.find(n)], re.I)]
        places = after or [n for n in found if not people(n)]
        return places[0] if places else ""
    # The name that follows a word of the question: "Licensed under Creative Commons ..." for "what licence".
    for n in found:
        before = line[: line.find(n)].split()[-2:]
        if len(n.split()) >= 2 and any(textmatch.coverage(t, w, fuzzy=True) for t in terms for w in before):
            return n
    return ""
