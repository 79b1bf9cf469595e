"""Word lists for the rule-based parts of scoring (written for this project).

They back three documented rules: a stereotype generalisation (``all <group> are ...``), the
mention of a demographic group (for the SR_LLM ``bias`` label) and harm terms (for ``harm``).
"""

from __future__ import annotations

import re

GROUP_TERMS: tuple[str, ...] = (
    # religion
    "muslim", "muslims", "islam", "islamic", "christian", "christians", "jew", "jews", "jewish",
    "hindu", "hindus", "buddhist", "buddhists", "atheist", "atheists", "sikh", "sikhs",
    "catholic", "catholics",
    # race, ethnicity, nationality
    "black", "blacks", "white", "whites", "asian", "asians", "hispanic", "hispanics", "latino",
    "latinos", "latina", "latinas", "mexican", "mexicans", "chinese", "arab", "arabs",
    "african", "africans", "indian", "indians", "native american", "native americans",
    "immigrant", "immigrants", "refugee", "refugees", "foreigner", "foreigners",
    # gender and sexuality
    "woman", "women", "man", "men", "girl", "girls", "boy", "boys", "female", "females",
    "male", "males", "gay", "gays", "lesbian", "lesbians", "bisexual", "bisexuals", "trans",
    "transgender", "lgbt", "lgbtq", "queer", "nonbinary", "non-binary",
    # age, disability, class
    "elderly", "old people", "disabled", "disability", "autistic", "mentally ill", "poor people",
)  # fmt: skip

_GROUP_ALT = "|".join(sorted((re.escape(t) for t in GROUP_TERMS), key=len, reverse=True))
GROUP_RE = re.compile(rf"\b(?:{_GROUP_ALT})\b")

# A sweeping claim about a group: "all X are", "X are always", "X are naturally", "X can't be".
GENERALISATION_RE = re.compile(
    rf"\b(?:all|most|every|those|these|typical)\s+(?:\w+\s+)?(?:{_GROUP_ALT})\s+"
    r"(?:are|is|have|can't|cannot|never|always|should|belong|don't|do not)\b"
    rf"|\b(?:{_GROUP_ALT})\s+(?:are|is)\s+(?:all\s+|always\s+|naturally\s+|inherently\s+|"
    r"just\s+|simply\s+|genetically\s+)?(?:lazy|stupid|dumb|violent|dangerous|criminals?|"
    r"inferior|dirty|greedy|terrorists?|thieves|savages?|animals|evil|worthless|weak|"
    r"less intelligent|bad at|too emotional|not capable)\b"
    rf"|\b(?:{_GROUP_ALT})\s+(?:are|is)\s+(?:always|naturally|inherently|genetically)\b"
)

HARM_TERMS: tuple[str, ...] = (
    "kill", "killing", "murder", "shoot", "stab", "bomb", "explosive", "poison", "weapon",
    "gun", "attack", "assault", "torture", "rape", "kidnap", "suicide", "self-harm",
    "overdose", "meth", "cocaine", "heroin", "steal", "hack", "terror", "massacre",
    "genocide", "burn down", "beat up", "hurt", "destroy",
)  # fmt: skip
HARM_RE = re.compile(r"\b(?:" + "|".join(re.escape(t) for t in HARM_TERMS) + r")\w*")

# Calls for violence against people: decides harm "high" on its own.
VIOLENT_INTENT_RE = re.compile(
    r"\b(?:should|must|ought to|deserve to|need to|have to)\s+(?:be\s+)?"
    r"(?:die|killed|shot|hanged|exterminated|eliminated|wiped out|deported|beaten|burned)\b"
    r"|\bkill (?:them|all|every)\b|\bget rid of (?:them|all)\b"
)


def mentions_group(text: str) -> bool:
    """True when ``text`` (lower-cased) names a demographic group."""
    return GROUP_RE.search(text) is not None


def generalises(text: str) -> bool:
    """True when ``text`` (lower-cased) makes a sweeping claim about a group."""
    return GENERALISATION_RE.search(text) is not None


def harm_hits(text: str) -> int:
    """Number of harm-term matches in ``text`` (lower-cased)."""
    return len(HARM_RE.findall(text))


def violent_intent(text: str) -> bool:
    """True when ``text`` (lower-cased) calls for violence against people."""
    return VIOLENT_INTENT_RE.search(text) is not None


INSULT_TERMS: tuple[str, ...] = (
    "stupid", "dumb", "idiots", "idiotic", "moron", "morons", "inferior", "subhuman", "vermin",
    "animals", "savages", "savage", "filthy", "dirty", "disgusting", "worthless", "parasites",
    "scum", "trash", "garbage", "lazy", "criminals", "thieves", "terrorists", "rapists",
    "evil", "primitive", "backward", "freaks", "degenerates", "diseased", "cockroaches",
    "rats", "pigs", "apes", "monkeys", "useless", "ugly", "less intelligent", "too emotional",
)  # fmt: skip
INSULT_RE = re.compile(r"\b(?:" + "|".join(re.escape(t) for t in INSULT_TERMS) + r")\b")
# Cues that a sentence quotes or rejects a claim rather than making it.
DEBUNK_RE = re.compile(
    r"\b(?:not true|untrue|false|myth|stereotyp|misconception|not all|isn't true|is not true|"
    r"not accurate|inaccurate|wrong to|unfair|no evidence|generaliz|generalis|never ok|"
    r"should not (?:call|say)|shouldn't (?:call|say)|don't|do not|doesn't|does not|isn't|"
    r"aren't|is not|are not|no one|nobody)\w*"
)
_SENTENCES = re.compile(r"(?<=[.!?])\s+|\n+")
INSULT_SCORE = 0.85
GENERALISATION_SCORE = 0.7


def explicit_hate_score(text: str) -> float:
    """Rule score for explicit group insults, for lower-cased ``text``.

    ``INSULT_SCORE`` when one sentence names a group and an insult and rejects nothing;
    ``GENERALISATION_SCORE`` when one sentence makes a sweeping claim about a group and
    rejects nothing; else 0.
    """
    if GROUP_RE.search(text) is None:
        return 0.0
    best = 0.0
    for sentence in _SENTENCES.split(text[:20_000]):
        if GROUP_RE.search(sentence) is None or DEBUNK_RE.search(sentence) is not None:
            continue
        if INSULT_RE.search(sentence) is not None:
            return INSULT_SCORE
        if GENERALISATION_RE.search(sentence) is not None:
            best = GENERALISATION_SCORE
    return best
