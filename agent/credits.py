"""Who made the video and who is in it: the credit a role question asks for, and the video's host.

"Who filmed it" is answered by a credit that prints "Camera" or "Cinematography", a word the question does
not hold; "what's the vlogger's name" and "who is giving the talk" by the person the video opens with (a
name card, or "Hi, I'm ..."), whose name no line shares a word with the question. Plain English cues, no
model; every name returned is a substring of a memory line.
"""
from __future__ import annotations

import re
from functools import lru_cache

from agent import answer_type as at
from agent import textmatch
from agent.evidence import Line

# A role asked by a verb or a noun, and the words credits print it with (prefixes of a credit's words).
_CREDIT_ROLES: tuple[tuple[re.Pattern[str], tuple[str, ...]], ...] = tuple((re.compile(r"\b(" + asks + r")\b"), prints)
                                                                          for asks, prints in (
    (r"filmed|filming|shot|shoots?|camera\w*|cinematograph\w*|videograph\w*|photograph\w*",
     ("camera", "cinematograph", "filmed", "shot", "videograph", "photograph")),
    (r"produc\w*", ("produc",)),
    (r"edit\w*", ("edit",)),
    (r"direct\w*", ("direct",)),
    (r"wr[io]te|written|writer|script\w*", ("writ", "script")),
    (r"music|songs?|tunes?|soundtrack|compos\w*|score", ("music", "compos", "song", "score")),
    (r"narrat\w*|voiced?|voice-?over", ("narrat", "voice")),
    (r"animat\w*|graphics?|illustrat\w*|drawings?|design\w*", ("animat", "graphic", "illustrat", "design")),
    (r"sound|audio|recorded|recording|recordist|mixed|mixing", ("sound", "audio", "record", "mix")),
    (r"drone|aerials?", ("drone", "aerial")),
))
# Words that make a credited run of capitals an organisation ("Graphics by Halden Studios").
_ORGS = frozenset("""university college school council foundation fund trust bank society hospital company media arts
studio studios films productions pictures records ltd inc council ministry department agency academy post times
gazette herald observatory association club radio network group charity""".split())
# Words for the person a video is by or about, when the question names nobody else.
_HOST = frozenset("""vlogger youtuber blogger streamer reviewer presenter host speaker narrator lecturer creator
interviewer reporter guide she he her his him woman man lady guy person giving talking speaking presenting narrating
hosting introducing doing making name call called video vlog channel talk lecture tour film episode show
camera""".split())
_HOST_Q = re.compile(r"\b(vlogger|youtuber|blogger|streamer|reviewer|presenter|host|speaker|narrator|lecturer|creator|"
                     r"reporter|guide|she|he|her|"
                     r"his|giving|talking|speaking|presenting|narrating|hosting|introducing)\b")
# "Hi, I'm Tess", "my name is Leonie Fairbairn", "this is Tomasz Nowak": a person introduced in speech.
_INTRODUCES = re.compile(r"\b(?i:i'm|i am|my name is|my name's|name's)\s+((?:[A-Z][\w'’-]+\s?){1,3})")


@lru_cache(maxsize=64)  # asked once per line scored, of one question
def roles(question: str) -> tuple[str, ...]:
    """Prefixes of the credit words that print the role the question asks about ("who filmed it" ->
    camera, cinematograph, ...; "the narrator" -> narrat), none when it asks no role."""
    q = question.lower()
    out = [p for asks, prints in _CREDIT_ROLES if asks.search(q) for p in prints]
    out += [w[:-2] for w in textmatch.words(q) if w.endswith(("or", "er")) and len(w) >= 6]  # "director" -> direct
    return tuple(dict.fromkeys(out))


def role_named(question: str, text: str) -> bool:
    """Whether the text names the role the question asks about: "narrator" -> "Narrated by", "who filmed it"
    -> "Camera", "driver" -> "Bus Driver" (a credit word for the role begins a word of the text)."""
    wanted = roles(question)
    return any(t.startswith(p) for p in wanted for t in textmatch.words(text))


# Words after "who" that ask who someone is or what should happen, not who did a deed.
_NOT_DEEDS = frozenset("""is was are were does did do will would can could has have had should shall may might must
else exactly""".split())
_DEED_Q = re.compile(r"^\s*who\s+(?:first\s+|originally\s+|actually\s+)?([a-z]+)\b")


def deed(question: str) -> str:
    """The deed a "who did it" question asks about ("who founded the collection" -> "founded"), "" when it asks
    a role a credit prints (`roles`), who someone is, or no deed."""
    m = _DEED_Q.match(question.lower())
    if not m or m.group(1) in _NOT_DEEDS or roles(question) or at.answer_type(question) != at.PERSON:
        return ""
    return m.group(1)


def asks_credit(question: str) -> bool:
    """Whether the question asks who held a role in making the video ("who filmed it", "who did the music")."""
    return at.answer_type(question) == at.PERSON and bool(roles(question))


def credited(question: str, text: str) -> str:
    """The name the text credits with the role asked ("Graphics Bo-Young Park" -> "Bo-Young Park"; "Music: Low
    Tide by Ada Brook" -> "Ada Brook"; of several credits on one line, the one after the role's word), "" when
    it credits none."""
    if not role_named(question, text):
        return ""
    wanted = roles(question)
    found = []
    for name in at.names(text):
        if text[: text.find(name)].rstrip().endswith(","):  # "Reporter, Wexbury Evening Post": a job and where
            continue                                          # (a lower third's second line), not a credit
        before = textmatch.words(text[: text.find(name)])[-3:] + textmatch.words(name)[:2]
        person = at.people(name) or _credited_name(name)
        if person and (before[-3:-2] == ["by"] or any(w.startswith(p) for p in wanted for w in before)):
            found.append((before[-3:-2] != ["by"], person[0]))  # "... by Ada Brook" first
    return min(found)[1] if found else ""


def _credited_name(run: str) -> list[str]:
    """A run of capitals after a credit's role word read as a person though a word of it names places too
    ("Graphics Bo-Young Park"): two to four words after the role words, none an organisation's."""
    words = run.split()
    while words and at.is_role_word(words[0]):
        words = words[1:]
    low = {w.lower().strip(",.'’") for w in words}
    return [" ".join(words)] if 2 <= len(words) <= 4 and not low & _ORGS \
        and not any(at.is_role_word(w) for w in words) else []  # "Physics Teacher" is a job


def asks_host(question: str) -> bool:
    """Whether the question asks who the video's own person is ("what's the vlogger's name", "who is giving
    the talk", "what does the presenter do for a living"): a person question naming nobody else."""
    kind = at.answer_type(question)
    if kind not in (at.PERSON, at.ROLE) or not _HOST_Q.search(question.lower()):
        return False
    job = {"job", "title", "role", "living", "work", "occupation", "profession", "position"} if kind == at.ROLE else set()
    said = [w.split("'")[0] for w in textmatch.words(question)]  # "the vlogger's name"
    rest = [w for w in said if w not in textmatch.STOP and w not in _HOST and w not in job]
    return not rest


# Words for the video itself: "the scientist interviewed in the film" describes the scientist, not the film.
WORK_WORDS = frozenset("film video footage documentary clip episode programme program report vlog".split())
_IDENTITY_Q = re.compile(r"^\s*who(?:'s|\s+is|\s+was|\s+are)\s+(?:the|this|that|a|an)\s+\w+"
                         r"|\bwhat(?:'s|\s+is|\s+was)\s+the\s+[\w']+(?:\s+[\w']+)?\s+name\b|\bname of the\b")


# "Which trust helped fund the film", "who sponsored the talk": who paid for the video (or the event it
# records) itself. Its funders are credited on a card ("Supported by", "With help from"), while the narration
# may speak of who paid for what the video is about ("the planting was paid for by ...").
_FUNDS_Q = re.compile(r"\b(pa(?:y|ys|id|ying)|fund\w*|sponsor\w*|support\w*|financ\w*|back(?:ed|ers?)?)\b")
_FUNDED_WORK = WORK_WORDS | frozenset("talk lecture series podcast channel listed credited".split())
_FUNDER_CUE = re.compile(r"\b(supported|funded|sponsored|financed|backed|paid for|made possible|supporters?|funders?|"
                         r"sponsors?|thanks to|with (?:the )?(?:help|support|thanks|funding)|"
                         r"in (?:association|partnership) with)\b", re.IGNORECASE)


def asks_funder(question: str) -> bool:
    """Whether the question asks who paid for the video itself ("which bank helped pay for the film",
    "which foundation is listed as a supporter"), not for something the video is about."""
    q = question.lower()
    return bool(_FUNDS_Q.search(q)) and bool(set(textmatch.words(q)) & _FUNDED_WORK)


def funder_cards(shown: list[Line]) -> set[Line]:
    """The screen lines of a card that credits funders: a line saying "Supported by" (or the like) and the
    lines shown while it is (a card's lines fade in one after another)."""
    cues = [ln for ln in shown if _FUNDER_CUE.search(ln.text)]
    return {ln for ln in shown for c in cues if max(ln.start_s, c.start_s) <= min(ln.end_s, c.end_s)}


# The person asked about is in the video, not only spoken of ("the warden" she mentions may never appear).
_APPEARS_Q = re.compile(r"\b(interview\w*|speak\w*|talk\w*|guest|expert|we meet|on camera|appears?|featured|"
                        r"in (the|this) (film|video|clip|report|documentary|episode|vlog))\b")


def asks_identity(question: str) -> bool:
    """Whether the question asks who someone the video shows is ("who is the scientist interviewed in the
    film", "what's the name of the expert they talk to"), rather than who did something, held a credit or
    was only spoken of: the people the video introduces (name cards, "my name is ...") are the answers."""
    q = question.lower()
    return at.answer_type(question) == at.PERSON and bool(_IDENTITY_Q.search(q)) and bool(_APPEARS_Q.search(q)) \
        and not asks_host(question)


def introductions(said: list[Line], shown: list[Line]) -> list[Line]:
    """The lines introducing a person: a sentence saying "I'm ..." or "my name is ...", and a name alone on a
    card of one or two lines (a lower third; a name in a list of places on a route card is no one)."""
    return [ln for ln in said if introduced(ln.text, spoken=True)] + \
        [ln for ln in shown if introduced(ln.text, spoken=False) and sum(same_card(ln, o) for o in shown) <= 2]


def same_card(a: Line, b: Line) -> bool:
    """Whether two screen lines are shown together, as the lines of one card are (within a second)."""
    return abs(a.start_s - b.start_s) <= 1.0 and abs(a.end_s - b.end_s) <= 1.0


def introduced(text: str, spoken: bool) -> str:
    """The person a line introduces: a name said after "I'm" or "my name is", or a screen line that is a
    name alone (a lower third); "" when none."""
    if spoken:
        m = _INTRODUCES.search(text)
        name = m.group(1).strip() if m else ""
        words = {w.lower().strip(",.") for w in name.split()}
        return name if name and not words & at.NOT_PERSON and name.split()[0].lower() not in at.NOT_NAME_START \
            else ""
    found = at.people(text)
    return found[0] if found == [text.strip(" .,|")] else ""
