"""Text preparation shared by the learned scorers: de-obfuscation and identity masking.

- :func:`deobfuscate` undoes the spelling tricks that hide abuse from a scorer: leetspeak
  (``h4te`` -> ``hate``), letters split by spaces or dots (``s c u m`` -> ``scum``), characters
  repeated for emphasis (``haaaate`` -> ``haate``) and symbols inside words (``sc*m``).
- :func:`respell` reads a word no English word list knows (pyspellchecker's, the encoder's
  vocabulary) as the word it misspells when the slip is plain: letters doubled for emphasis
  (``stupiid``); one dropped, added or swapped letter from an abusive word
  (``data/scoring/abuse_terms.txt``: ``vremin``, ``parsites``) or a group term, when no more
  frequent word is one slip away (``whre`` stays: it is a slip of ``where``); one swapped or
  missing letter in a word of 6+ letters from a common word (``amaznig``, ``libary``). Other
  short unknown words (slang, names) and texts made mostly of unknown words (another
  language, code) stay as they are.
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
from pathlib import Path

from srllm.config import DATA_DIR
from srllm.errors import ConfigError

PLACEHOLDER = "grp"
MAX_CHARS = 20_000

_LEET = str.maketrans({"4": "a", "@": "a", "3": "e", "1": "i", "!": "i", "0": "o", "5": "s"})
_LEET.update(str.maketrans({"$": "s", "7": "t", "|": "l"}))
_LEET_NO_86 = dict(_LEET)
_LEET.update(str.maketrans({"8": "b", "6": "g"}))
_LEET_CHAR = re.compile(r"[4@310568$7!|]")
# a word made of letters and leet characters, with at least one letter and one leet character
_LEET_WORD = re.compile(r"(?<![\w@$!|])(?=[\w@$!|]*[a-z])(?=[\w@$!|]*[4@310568$7!|])[\w@$!|]+")
_SPACED = re.compile(r"\b(?:[a-z][ .\-_*]){2,}[a-z]\b")
_REPEAT = re.compile(r"([a-z])\1{2,}")
_INNER_SYMBOL = re.compile(r"(?<=[a-z])[*#.\-_](?=[a-z])")
_APOS = str.maketrans({"\u2019": "'", "\u2018": "'", "\u201c": '"', "\u201d": '"'})


def _unleet(m: re.Match[str]) -> str:
    word = m.group(0)
    core = word.rstrip("!|")  # "great!": a closing mark is punctuation, not a letter
    tail = word[len(core) :]
    if core.isdigit() or not _LEET_CHAR.search(core):
        return word
    known = _lexicons()[0]
    if "8" in core or "6" in core:  # read as b / g (or "ate": h8, gr8) only when a word results
        full = re.sub(r"(?<=[a-z])8(?=[a-z]?$)", "ate", core).translate(_LEET)
        if full in known:
            return full + tail
    plain = core.translate(_LEET_NO_86)
    if plain not in known and (core[0].isdigit() or sum(c.isdigit() for c in core) > 1):
        return word  # covid19, base64, 5pm: a token with numbers, not a disguised word
    return plain + tail


def deobfuscate(text: str | None) -> str:
    """Lower-cased text with leetspeak, spaced letters, repeats and inner symbols undone."""
    if not isinstance(text, str) or not text:
        return ""
    t = unicodedata.normalize("NFKC", text[:MAX_CHARS]).lower().translate(_APOS)
    t = _LEET_WORD.sub(_unleet, t)
    t = _SPACED.sub(lambda m: re.sub(r"[ .\-_*]", "", m.group(0)), t)
    t = _INNER_SYMBOL.sub("", t)
    return _REPEAT.sub(r"\1\1", t)


_WORD = re.compile(r"\b[a-z]{4,24}\b")
_DOUBLE = re.compile(r"([a-z])\1")
_LETTERS = "abcdefghijklmnopqrstuvwxyz"
COMMON = 5000  # a word this frequent in pyspellchecker's English counts is a common word


def _word_list(path: Path) -> set[str]:
    """The lower-cased entries of a word-list file (``#`` starts a comment); none if absent."""
    words: set[str] = set()
    if path.is_file():
        for line in path.read_text(encoding="utf-8").splitlines():
            line = line.split("#", 1)[0].strip().lower()
            if line:
                words.add(line)
    return words


def _plurals(word: str) -> set[str]:
    if re.search(r"[^aeiou]y$", word):
        return {word, word[:-1] + "ies"}
    return {word, word + ("es" if word.endswith(("s", "x", "z", "ch", "sh")) else "s")}


@lru_cache(maxsize=1)
def _lexicons() -> tuple[dict[str, int], frozenset[str]]:
    """(known words -> frequency, targets).

    Known: pyspellchecker's English word frequencies, the encoder's whole-word vocabulary and
    the targets. Targets: the abusive words and the single-word group terms, with plurals.
    """
    with _LOCK:
        targets: set[str] = set()
        for w in _word_list(DATA_DIR / "scoring" / "abuse_terms.txt") | set(_identity_terms()):
            if w.isalpha():
                targets |= _plurals(w)
        try:
            from spellchecker import SpellChecker
        except ImportError as exc:  # the scorers were trained on respelt text: never skip it
            raise ConfigError(
                "the English word list is missing: pip install pyspellchecker==0.9.1"
            ) from exc
        from srllm.scoring.embed import model_dir

        freq = SpellChecker(language="en", distance=1).word_frequency.dictionary
        known = {w: int(n) for w, n in freq.items() if w.isalpha()}
        for line in (model_dir() / "vocab.txt").read_text(encoding="utf-8").splitlines():
            if line.isalpha() and line.islower():
                known.setdefault(line, 1)
        for w in targets:
            known.setdefault(w, 1)
        return known, frozenset(targets)


def _collapsed(word: str) -> list[str]:
    """``word`` with each run of doubled letters kept or made single (at most 3 runs)."""
    runs = [m.start() for m in _DOUBLE.finditer(word)][:3]
    out = []
    for mask in range(1, 1 << len(runs)):
        drop = {runs[i] for i in range(len(runs)) if mask >> i & 1}
        out.append("".join(c for i, c in enumerate(word) if i not in drop))
    return sorted(out, key=len)


def _edits(word: str) -> tuple[set[str], set[str], set[str]]:
    """(swapped or added-letter fixes, dropped-letter fixes, changed-letter fixes) of ``word``."""
    n = len(word)
    swaps = {word[:i] + word[i + 1] + word[i] + word[i + 2 :] for i in range(n - 1)}
    inserts = {word[:i] + ch + word[i:] for i in range(n + 1) for ch in _LETTERS}
    deletes = {word[:i] + word[i + 1 :] for i in range(n)}
    subs = {word[:i] + ch + word[i + 1 :] for i in range(n) for ch in _LETTERS}
    return swaps | inserts, deletes, subs


@lru_cache(maxsize=65536)
def _respell_word(word: str) -> str:
    known, targets = _lexicons()
    if word in known:
        return word
    for c in _collapsed(word):  # letters doubled for emphasis
        if c in targets or known.get(c, 0) >= COMMON:
            return c
    swap_insert, deletes, subs = _edits(word)
    # the most frequent word one slip away; an abusive word or group term wins only when no
    # more frequent word is as near ("whre" is a slip of "where", not of "whore")
    near = [c for c in swap_insert | deletes | subs if c in known]
    if near:
        best = max(near, key=lambda c: (known[c], c))
        if best in targets and best not in subs:
            return best
    if len(word) < 6:  # short unknown words are mostly slang, names or abbreviations
        return word
    # a swapped or missing letter in a common word (a slip in a rare one is as likely a
    # word the list lacks)
    hit = [c for c in swap_insert if known.get(c, 0) >= COMMON]
    return max(hit, key=lambda c: (known[c], c)) if hit else word


def respell(text: str) -> str:
    """Lower-cased ``text`` with plainly misspelt words read as the words they misspell.

    A text whose words are mostly unknown (another language, code, garbage) is left as it is.
    """
    known, _ = _lexicons()
    words = _WORD.findall(text)
    if len(words) >= 3 and sum(w not in known for w in words) * 2 > len(words):
        return text
    return _WORD.sub(lambda m: _respell_word(m.group(0)), text)


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
    terms |= _word_list(DATA_DIR / "scoring" / "identity_terms.txt")
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
    """What the learned scorers read: de-obfuscated, respelt, lower-cased, identities masked."""
    return mask_identities(respell(deobfuscate(text)))
