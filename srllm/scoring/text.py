"""Text preparation shared by the learned scorers: de-obfuscation and identity masking.

- :func:`deobfuscate` undoes the spelling tricks that hide abuse from a scorer: leetspeak
  (``h4te`` -> ``hate``), letters split by spaces or dots (``s c u m`` -> ``scum``), characters
  repeated for emphasis (``haaaate`` -> ``haate``) and symbols inside words (``sc*m``).
- :func:`mask_identities` replaces every demographic group term (the groups in
  ``data/prompts/groups.yaml`` plus ``data/scoring/identity_terms.txt``) by one placeholder
  token. A scorer that reads masked text cannot tell groups apart, so the same sentence scores
  the same whichever group it names: the scorer's own bias cannot pass as the model's. What
  is said about the group (``[grp] are vermin``) still carries the signal.
"""

from __future__ import annotations

import re
import threading
import unicodedata
from functools import lru_cache

from srllm.config import DATA_DIR

PLACEHOLDER = "grp"
MAX_CHARS = 20_000

_LEET = str.maketrans({"4": "a", "@": "a", "3": "e", "1": "i", "!": "i", "0": "o", "5": "s"})
_LEET.update(str.maketrans({"$": "s", "7": "t", "|": "l"}))
# a word made of letters and leet characters, with at least one letter and one leet character
_LEET_WORD = re.compile(r"(?<![\w@$!|])(?=[\w@$!|]*[a-z])(?=[\w@$!|]*[4@3105$7!|])[\w@$!|]+")
_SPACED = re.compile(r"\b(?:[a-z][ .\-_*]){2,}[a-z]\b")
_REPEAT = re.compile(r"([a-z])\1{2,}")
_INNER_SYMBOL = re.compile(r"(?<=[a-z])[*#.\-_](?=[a-z])")
_APOS = str.maketrans({"\u2019": "'", "\u2018": "'", "\u201c": '"', "\u201d": '"'})


def _unleet(m: re.Match[str]) -> str:
    word = m.group(0)
    if word.isdigit():
        return word
    return word.translate(_LEET)


def deobfuscate(text: str | None) -> str:
    """Lower-cased text with leetspeak, spaced letters, repeats and inner symbols undone."""
    if not isinstance(text, str) or not text:
        return ""
    t = unicodedata.normalize("NFKC", text[:MAX_CHARS]).lower().translate(_APOS)
    t = _LEET_WORD.sub(_unleet, t)
    t = _SPACED.sub(lambda m: re.sub(r"[ .\-_*]", "", m.group(0)), t)
    t = _INNER_SYMBOL.sub("", t)
    return _REPEAT.sub(r"\1\1", t)


def _identity_terms() -> list[str]:
    terms: set[str] = set()
    try:
        from srllm.prompts import load_groups

        for g in load_groups():
            for form in (g.group, g.adj, g.plural):
                terms.add(form.lower())
                if form.lower().endswith(" people"):
                    terms.add(form.lower()[: -len(" people")])
    except Exception:
        pass
    path = DATA_DIR / "scoring" / "identity_terms.txt"
    if path.is_file():
        for line in path.read_text(encoding="utf-8").splitlines():
            line = line.split("#", 1)[0].strip().lower()
            if line:
                terms.add(line)
    return sorted((t for t in terms if len(t) > 1), key=len, reverse=True)


_LOCK = threading.Lock()


@lru_cache(maxsize=1)
def identity_re() -> re.Pattern[str]:
    """One regex for every identity term (longest first), on lower-cased text."""
    with _LOCK:
        alt = "|".join(re.escape(t) for t in _identity_terms())
        return re.compile(rf"(?<![a-z])(?:{alt})(?:'s|s|es)?(?![a-z])")


def mask_identities(text: str) -> str:
    """Replace every identity term in lower-cased ``text`` by the placeholder."""
    return identity_re().sub(PLACEHOLDER, text)


def prepare(text: str | None) -> str:
    """What the learned scorers read: de-obfuscated, lower-cased, identities masked."""
    return mask_identities(deobfuscate(text))
