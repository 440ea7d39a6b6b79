"""What kind of answer a question wants, whether a line holds one, and the short span that is the answer.

Plain English cues, no model: "who" wants a person's name, "how many / when / how long" a number or a
date, "where" a place, "which X ..." the named thing that holds X. Names are runs of capitalised words;
numbers are digits, number words and dates. A line in capitals (as credits often are) is read by the
same rules. The span returned is always a substring of the line, so it is memory's words.
"""
from __future__ import annotations

import re

from agent import quantity, textmatch

PERSON, ROLE, NUMBER, PLACE, ENTITY, REASON, RIGHTS, WEB, THING = ("person", "role", "number", "place", "entity",
                                                                  "reason", "rights", "web", "thing")
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
# "Website?", "where can I find out more?": a web address answers, usually an end card sharing no word with it.
_WEB_Q = re.compile(r"\b(websites?|web ?(site|address|page)|url|home ?page|online)\b|\bwhere (can|could|do) (i|we|you) "
                    r"(find|read|learn|get|see) (out )?more\b")
URL = re.compile(r"\b(?:https?://|www\.)\S+|\b[a-z0-9-]+(?:\.[a-z0-9-]+)*\.(?:com|org|net|co\.uk|org\.uk|ac\.uk|"
                 r"gov\.uk|uk|io|edu|gov|info|tv|eu|de|fr|ca|au|nz|ie)\b(?:/\S*)?", re.I)
# Kinds answered by a notice, whatever its words: a licence, a web address.
NOTICES = (RIGHTS, WEB)
# "What brand of adhesive", "which shop": a thing's own name answers, not a line that only describes it.
_NAMED_Q = re.compile(r"\b(which|what)(?:'s| is| was)?\s+(?:the\s+|their\s+|its\s+|her\s+|his\s+)?(brand|make|manufacturer|"
                      r"company|firm|shop|store|supplier|label|channel|band|restaurant|cafe|café|pub|hotel|school|"
                      r"model)\b|\b(name of the|called)\b.*\b(channel|brand|company|shop|store|band)\b"
                      r"|\b(channel|brand|company|shop|store|band)\b.*\bcalled\b")
# "Who are the regulars?" asks for a group ("nurses and bakers"), not for a person's name.
_GROUP_Q = re.compile(r"^\s*who\s+(are|were)\b")
# "When does she mention the lighthouse?", "at what point do we see the seals?": the moment of the video is the
# answer (its citation), not a time or a date said in it.
_MOMENT_Q = re.compile(r"^\s*when (do|does|did|is|are|can)\b.*\b(mention\w*|say|says|said|talk\w*|speak\w*|show|shows|shown|showing|appear\w*|"
                       r"see|seen|visible|comes? up|discuss\w*|explain\w*|describe\w*|hear|heard|on screen)\b"
                       r"|\bat what (point|moment|stage)\b|\b(where|when|what point|which part) in the (video|clip|film)\b"
                       r"|\bhow far into\b|\btimestamp\b|\bat what (time|minute) (in|of) the (video|clip|film)\b")
# Kinds whose answer must hold the cue: a number question is not answered by a line without that number.
REQUIRED = (NUMBER, PERSON, RIGHTS, WEB, PLACE)
# Words that refer to a person without naming one: "the coach told a long story" answers "who".
_PERSON_NOUNS = frozenset("""man woman men women boy girl child children kid kids baby friend friends sister brother
mother father mum mom dad parents uncle aunt grandmother grandfather grandma grandpa granddad neighbour neighbor
neighbours neighbors tourist tourists fisherman wife husband son daughter family team volunteers students student
crew staff doctor farmer police officer mayor pupils visitors passengers riders guy lady chap
warden guest""".split())
# Kinds whose cue only adds: a person, a place or a thing may well be said without a name ("the students").
BONUS_ONLY = (PERSON, ROLE, PLACE, ENTITY, REASON)
_ROLE_Q = re.compile(r"\b(job title|(his|her|their|[a-z]+'s) (job|role|position|title)|for a living|occupation|"
                     r"profession|works? as)\b")
_REASON_Q = re.compile(r"^\s*why\b|\bwhat (made|makes|caused|causes)\b")
_REASON = re.compile(r"\b(because|since|so that|so \w+ that|due to|as a result|too \w+|that's why|in order to|"
                     r"thanks to|otherwise|to (kill|stop|prevent|protect|avoid|keep|make sure|get rid of))\b",
                     re.IGNORECASE)
_PLACE = re.compile(r"\b(in|on|at|near|inside|outside|under|behind|beside|across|around|from)\s+(the|a|an|their|"
                    r"its|our)\s+\w+", re.IGNORECASE)
# Jobs and credit roles: words of a name card that are not the name ("Director Ines Carvalho").
_ROLES = frozenset("""writer cook chef curator restorer volunteer reporter presenter host director producer editor
manager head officer driver nurse teacher professor baker cleaner gardener coach captain chair president secretary
founder owner artist designer photographer camera sound music design editing narrator narration animation
production recordist recording mixer composer researcher consultant assistant executive graphics
cinematography cinematographer animator illustrator videographer drone aerial""".split())
_ROLE_FORMS = frozenset("reported produced directed edited filmed narrated written composed".split())
# Words that make a run of capitals an organisation, a place, a sign or a job rather than a person.
NOT_PERSON = frozenset("""news university college school council foundation fund trust bank society hospital city
town street road avenue route station company transit media arts family community civic centre center
institute museum library park district council ministry department agency studio studios films productions
commons creative attribution licence license
lane square place bridge market hall house garden gardens harbour harbor port bay beach island river lake hill
valley north south east west episode chapter part level exit room table locker aisle tip academy gazette herald
observatory association club radio network charity cove quay pier lighthouse church chapel abbey castle cathedral""".split()) | _ROLES

_PERSON_Q = re.compile(r"^\s*(who|whom|whose)\b|\b(who|whom)\s+(is|was|did|does|directed|made|wrote)\b"
                       r"|\bwhat(?:'s| is| was)\s+(?:the\s+)?(?:[\w']+\s+)?name\b|\bname of the (?:\w+\s+)?"
                       r"(?:person|man|woman|reporter|presenter|narrator|director|speaker|scientist|host)\b")
_NAME_OF = re.compile(r"\bname of (?:the|this|that|her|his|their|its)\s+((?:(?!who\b|that\b|which\b|in\b|at\b|on\b|"
                      r"of\b|from\b)\w+\s*){1,3})(who\b)?")
# Nouns for people beyond the person words above: "the name of the runner who ...", "the record holder".
_PEOPLE_Q = frozenset("""person people runner walker rider player member winner owner holder worker teacher singer
speaker guest warden keeper leader organiser organizer founder""".split())
_ENTITY_Q = re.compile(r"\b(which|what)\s+(?!(is|are|was|were|do|does|did|can|could|will|would|kind|kinds|"
                       r"type|types|sort|else)\b)\w+|\bwhich of\b|^\s*what(?:'s| is| was)\b.*\bcalled\b"
                       r"|\bwhat(?:'s| is| was)\s+(?:the|its|this|their)\s+\w+\s*\?")  # "what's the licence?"
_PLACE_Q = re.compile(r"^\s*where\b|\bwhere (was|is|did|does|were|are)\b|\bwhat (city|town|country|place)\b")
# A run of capitalised words (a name, a place, an organisation); "St." and "O'Brien" are words too.
_CAPS = re.compile(r"\b[A-Z][\w'’.-]*(?:[ \t]+(?:of|de|van|von|da|la|the)?[ \t]?[A-Z][\w'’.-]*)*")
NOT_NAME_START = {"i", "i'm", "im", "hello", "hi", "good", "my", "we", "our", "and", "but", "so", "the", "a",
                   "this", "that", "it", "for", "from", "in", "on", "at", "with", "by", "mostly", "today",
                   "tomorrow", "when", "if", "as", "since", "then", "there", "they", "he", "she", "you",
                   # words that open a sentence, capitalised only for that: "Last month I ran ..." names nothing
                   "last", "next", "first", "every", "each", "some", "most", "many", "after", "before", "during",
                   "once", "now", "here", "yes", "no", "well", "oh", "also", "still", "just", "even", "only", "all",
                   "both", "one", "two", "three", "what", "where", "why", "how", "who", "yesterday", "tonight",
                   "finally", "later", "soon", "please", "thanks", "thank", "let's", "lets", "sometimes", "usually",
                  # spoken openers: "Right, we've landed", "Okay, so ...", "Sadly, not every drop ..."
                  "right", "okay", "ok", "alright", "anyway", "actually", "honestly", "basically", "look", "sadly",
                  "luckily", "unfortunately", "hopefully", "apparently", "obviously", "welcome", "morning",
                  "evening", "hey", "cheers", "sorry", "wow", "quick", "another", "meanwhile"}


TITLE_S = 20.0  # a card shown in the video's first seconds is its title card
# "What's the channel called?": vloggers greet with it ("Welcome back to Muddy Boots"); the episode's title is not it.
_CHANNEL_Q = re.compile(r"\b(channel|podcast)\b|\b(show|series|vlog)\b.*\b(called|name)\b|\b(called|name)\b.*\b(show|series|vlog)\b")
WELCOME = re.compile(r"\b(?i:welcome(?: back)? to|you're watching|you are watching)\s+(?:the\s+)?([A-Z][\w'’-]*(?:\s+[A-Z][\w'’-]*){0,3})")
# ... or print it on the host's lower third after the role ("Host, Pocket Audio", "Presenter | The Long Walk").
_HOST_CARD = re.compile(r"^\s*(?i:(?:your\s+)?(?:host|presenter|creator|vlogger|youtuber)(?:\s+of)?)\s*[,:|–—-]?\s+"
                        r"((?:the\s+)?[A-Z][\w'’&-]*(?:\s+[A-Z][\w'’&-]*){0,3})\s*$")


def channel_named(line: str) -> str:
    """The channel or show a line names as the video's own: the greeting's name ("Welcome back to Muddy
    Boots") or the show on the host's card ("Host, Pocket Audio"); "" when it names none."""
    m = WELCOME.search(line) or _HOST_CARD.match(line)
    return m.group(1) if m else ""


_TITLE_Q = re.compile(r"\b(called|title|titled|name)\b")
_WORK = re.compile(r"\b(show|film|video|vlog|documentary|programme|program|series|episode|movie|report|clip|"
                   r"talk|lecture|presentation|podcast|tutorial|lesson|webinar)\b")


def asks_channel(question: str) -> bool:
    """Whether the question asks the name of the channel or show the video belongs to."""
    return bool(_CHANNEL_Q.search(question.lower())) and answer_type(question) in (ENTITY, THING)


def asks_title(question: str) -> bool:
    """Whether the question asks what the video itself is called ("What is the cooking show called?")."""
    q = question.lower()
    return bool(_TITLE_Q.search(q) and _WORK.search(q)) and answer_type(question) != PERSON


_COUNTED = re.compile(r"\bhow many\s+(\w+)(?:\s+(\w+))?|\bhow much (?:is|was|are|were|does|did|do|will)\s+(?:(?:a|an|the|one)"
                      r"\s+)?(\w+)(?:\s+(\w+))?|\b(?:price|cost) of (?:(?:a|an|the|one)\s+)?(\w+)(?:\s+(\w+))?")
_MONEY_WORDS = frozenset("cost costs price pay paid charge charged fee fees it".split())


def counted(question: str) -> list[str]:
    """The words naming what a "how many" question counts ("how many extra buses" -> extra, buses), or what a
    "how much is" question prices ("how much was a coffee" -> coffee)."""
    m = _COUNTED.search(question.lower())
    return [w for w in (m.groups() if m else ()) if w and w not in textmatch.STOP and w not in _MONEY_WORDS]


# "Is there parking?", "do they sell maps?": the thing whose being there is asked about.
_THERE_Q = re.compile(r"^\s*(?:is|are|was|were)\s+there\s+(?:a|an|any|some|enough)?\s*(\w+)(?:\s+(\w+))?"
                      r"|^\s*(?:do|does|did|can|could|will)\s+(?:they|you|we|i|it|she|he|visitors|people|the\s+\w+)\s+"
                      r"(?:have|has|sell|serve|offer|provide|need|bring|get|hire|rent)\s+(?:a|an|any|some)?\s*(\w+)"
                      r"(?:\s+(\w+))?")


def asked_thing(question: str) -> list[str]:
    """The words naming what a question asks is there or to be had ("is there parking" -> parking)."""
    m = _THERE_Q.search(question.lower())
    return [w for w in (m.groups() if m else ()) if w and w not in textmatch.STOP]


def label(text: str) -> bool:
    """A line of capitalised words only (a name, a title, a job): it labels, it states no fact."""
    long = [w for w in re.findall(r"[^\W\d_][\w'’-]*", text) if len(w) >= 4]
    return bool(long) and all(w[0].isupper() for w in long)


def answer_type(question: str) -> str:
    """What kind of answer the question wants: the first kind whose question cue it has, else THING."""
    q = question.lower()
    if _GROUP_Q.search(q) or _MOMENT_Q.search(q):
        return THING
    named = _NAME_OF.search(q)  # "the name of the treatment works" names a thing, "of the reporter" a person
    nouns = set(named.group(1).split()) if named else set()
    if named and not named.group(2) and not nouns & (_PERSON_NOUNS | _ROLES | _PEOPLE_Q) \
            and not any(w.endswith(("ist", "ian")) for w in nouns):
        return PLACE if nouns & NOT_PERSON else ENTITY
    cues = ((_RIGHTS_Q, RIGHTS), (_WEB_Q, WEB), (_ROLE_Q, ROLE), (_PERSON_Q, PERSON), (quantity.NUMBER_Q, NUMBER), (_PLACE_Q, PLACE),
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
        while words and words[0].lower().strip(",.") in NOT_NAME_START:
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
        while words and (set(textmatch.content_tokens(words[0])) & terms or is_role_word(words[0])):
            words = words[1:]
        low = {w.lower().strip(",.'’") for w in words}
        if 2 <= len(words) <= 4 and not low & NOT_PERSON and "of" not in low \
                and not set(textmatch.content_tokens(" ".join(words))) & terms:
            out.append(" ".join(words))
    return out


def is_role_word(word: str) -> bool:
    """A credit's role, or the start of one the reading cut short ("Produ Yuki Tanaka", "Report Ines ...")."""
    w = word.lower().strip(":,.")
    return w in _ROLES or len(w) >= 4 and any(r.startswith(w) for r in _ROLES | _ROLE_FORMS)


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
        return quantity.holds(question, text, counted(question))
    if kind == PLACE:  # a place's name (not a person's), or a place said without one ("behind the cooker")
        return bool(short_span(question, kind, text)) or bool(_PLACE.search(text))
    if kind == REASON:
        return bool(_REASON.search(text))
    if kind == RIGHTS:
        return bool(_RIGHTS.search(text))
    if kind == WEB:
        return bool(URL.search(text))
    return True


# "What colour do they come in?": only a line naming a colour answers ("Waterproof (IPX7)" does not).
_COLOUR_Q = re.compile(r"\b(what|which)\s+colou?rs?\b|\bcolou?rs?\s+(is|are|was|were|do|does|did)\b")
_COLOUR = re.compile(r"\b(black|white|grey|gray|silver|gold|golden|red|orange|yellow|green|blue|navy|purple|violet|"
                     r"pink|brown|beige|cream|teal|turquoise|maroon|crimson|scarlet)\b", re.I)


# "What's the discount code?": only a line printing a code answers ("POCKET15", "SAVE-20"), not one about it.
_CODE_Q = re.compile(r"\b(discount|promo|promotion|promotional|voucher|coupon|referral|offer|affiliate)\s+codes?\b"
                     r"|^\s*(what|which)(?:'s| is| was)?\s+(?:the\s+)?codes?\b")
_CODE_TOKEN = re.compile(r"\b(?=[A-Z0-9-]*[A-Z])(?=[A-Z0-9-]*\d)[A-Z0-9-]{4,}\b|\b[A-Z]{5,}\b")


def token_asked(question: str) -> re.Pattern[str] | None:
    """The words a colour or a code question needs its answer to hold (a colour, a code); None for others."""
    q = question.lower()
    return _COLOUR if _COLOUR_Q.search(q) else _CODE_TOKEN if _CODE_Q.search(q) else None


def needs_name(question: str) -> bool:
    """Whether only a thing's own name answers ("what brand of adhesive": not "ready-mixed adhesive")."""
    return answer_type(question) == ENTITY and bool(_NAMED_Q.search(question.lower()))


def scans(question: str) -> bool:
    """Whether the whole video is worth scanning for lines holding this question's kind of answer: a licence,
    or a quantity of a named kind (how often, how old, what share), rare enough that each such line counts."""
    kind, q = answer_type(question), question.lower()
    return kind in NOTICES or kind == NUMBER and quantity.scans(q)


def short_span(question: str, kind: str, line: str) -> str:
    """The short span of the line that answers (a name, a number, the named thing holding a question's
    word), or "" when there is none; always a substring of the line."""
    terms = set(textmatch.content_tokens(" ".join(textmatch.key_terms(question))))
    if kind == NUMBER:  # a number the question itself holds ("route 7") is not its answer
        return quantity.span(question, line) if quantity.holds(question, line, counted(question)) else ""
    if kind == PERSON:
        found = people(line, terms)
        return found[0] if found else ""
    if kind == ROLE:  # a lower third: the line of the card that is not the name
        return "" if people(line) else line.split(" | ")[0] if " | " not in line else ""
    if kind == WEB:
        m = URL.search(line)
        return m.group(0).rstrip(".,") if m else ""
    if kind == RIGHTS:  # the licence's name ("Creative Commons Attribution"), else the notice ("public domain")
        found = [n for n in names(line) if _RIGHTS.search(n)] + [m.group(0) for m in _RIGHTS.finditer(line)]
        return max(found, key=len, default="")
    if kind not in (ENTITY, PLACE):  # "what does the X fund pay for": a name there is the question's own subject
        return ""
    channel = kind == ENTITY and asks_channel(question)
    greeting = channel_named(line) if channel else ""
    if greeting:  # "Welcome back to Muddy Boots, where ..." names the channel
        return greeting
    asked = set(textmatch.content_tokens(question))
    found = [n for n in names(line) if not set(textmatch.content_tokens(n)) <= asked]  # not the question's own
    holding = [n for n in found if terms & set(textmatch.content_tokens(n)) and len(n.split()) >= 2
               and not (kind == PLACE and people(n))]  # "where does Nadia live": not "Nadia Quist"
    if holding:
        return holding[0]
    if kind == PLACE:
        # A name after "in", "at", "near"... ("Filmed in Port Merrin"), else one that names no person.
        # ... or after a comma ("Lantern clock by Thomas Harland, London")
        after = [n for n in found if re.search(r"(\b(in|at|near|from|to|on)\s+(the\s+)?|\w,\s*)$", line[: line.find(n)], re.I)]
        # a bare name is a place when it names no person and is more than a word a line opens with ("DIY")
        places = after or [n for n in found if not people(n) and (len(n.split()) >= 2 or n.lower() in NOT_PERSON)]
        return places[0] if places else ""
    # The name that follows a word of the question: "Licensed under Creative Commons ..." for "what licence";
    # not a job ("Cook and Food Writer" for "which brand of pan does she cook with")
    for n in found:
        before = line[: line.find(n)].split()[-2:]
        if len(n.split()) >= 2 and any(textmatch.coverage(t, w, fuzzy=True) for t in terms for w in before) \
                and not _job(n):
            return n
    # "which shop": a name the question does not hold ("Barrow & Pike"); not a word a line opens with
    # ("Retired plasterer") nor a job ("Food Writer"); a channel only by its greeting or its own word
    own = [n for n in found if (len(n.split()) >= 2 or not _opens(line, n)) and not _job(n) and not _CODE.fullmatch(n)]
    return own[0] if own and not channel and _NAMED_Q.search(question.lower()) else ""


# A rating or a format is no maker's or shop's name: "IPX7", "4K", "MP3".
_CODE = re.compile(r"[A-Z0-9-]*\d[A-Z0-9-]*")


def _job(name: str) -> bool:
    """Whether a run of capitalised words names a job ("Food Writer", "Club Treasurer"), not a thing."""
    return bool({w.lower() for w in name.split()} & _ROLES)


def _opens(line: str, name: str) -> bool:
    """Whether the name is the first word of the line or of one of its cells or sentences (capitalised for that)."""
    before = line[: line.find(name)].rstrip()
    return not before or before.endswith(("|", ".", "!", "?", ":"))
