"""Any OpenAI-compatible chat model as a six-category judge, stored as its own scorer.

``--judge openai:URL#MODEL`` (audit, score, classify; the Review page) sends each (prompt,
response) with the judge prompt in ``data/scoring/judge_prompt.md`` and parses the answer
strictly: exactly one line ``category: NAME`` (or an answer that is just ``NAME``) with NAME one
of the six categories. Anything else is recorded as ``malformed``, never guessed: the score
row ``judge`` carries the category (or ``malformed``, or ``error`` when the request failed) and
``judge_raw`` the judge's answer (or the error), both on the generation's row. The version is
the judge model plus the prompt's hash, so changing either re-scores.

For real use serve a guard or instruction model with vLLM (``vllm serve MODEL``; see
``docs/NOTES.md``) and point ``--judge`` at ``openai:http://HOST:8000/v1#MODEL``.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence
from dataclasses import dataclass

from srllm.config import DATA_DIR, GenerationConfig
from srllm.errors import ConfigError
from srllm.taxonomy import CATEGORY_ORDER

JUDGE_PROMPT = DATA_DIR / "scoring" / "judge_prompt.md"
MAX_RESPONSE_CHARS = 6000
MALFORMED, FAILED = "malformed", "error"
_LINE = re.compile(r"^\s*\**\s*category\s*\**\s*[:=]\s*\**\s*([a-z_ \-]+?)\s*\**\s*\.?\s*$")


def parse_answer(text: str | None) -> str | None:
    """The category a judge answered, or None when the answer is not in the required form."""
    if not isinstance(text, str):
        return None
    lines = [ln for ln in text.strip().lower().splitlines() if ln.strip()]
    found = []
    for ln in lines:
        m = _LINE.match(ln)
        if m:
            found.append(m.group(1).strip().replace(" ", "_").replace("-", "_"))
    if not found and len(lines) == 1:
        bare = lines[0].strip(" .*`\"'").replace(" ", "_").replace("-", "_")
        found = [bare] if bare in CATEGORY_ORDER else []
    if len(set(found)) != 1 or found[0] not in CATEGORY_ORDER:
        return None
    return found[0]


@dataclass(frozen=True)
class Verdict:
    """One judged response: the category (None when malformed or failed) and the raw answer."""

    category: str | None
    raw: str
    failed: bool = False

    @property
    def label(self) -> str:
        """What the ``judge`` score row stores."""
        return self.category or (FAILED if self.failed else MALFORMED)


def prompt_template() -> str:
    """The judge prompt (with ``{prompt}`` and ``{response}`` slots)."""
    try:
        return JUDGE_PROMPT.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"the judge prompt is missing: {JUDGE_PROMPT}") from exc


class Judge:
    """A loaded judge endpoint; ``judge`` never raises for a single row."""

    def __init__(self, source: str) -> None:
        from srllm.models import load_model, resolve_model

        spec = resolve_model(source)
        lm = load_model(spec)
        if not lm.remote:
            raise ConfigError(
                f"--judge needs an OpenAI-compatible endpoint (openai:URL#MODEL), not {source!r}"
            )
        self.lm = lm
        self.source = source
        self.template = prompt_template()
        sha = hashlib.sha256(self.template.encode()).hexdigest()[:8]
        self.version = f"{lm.fingerprint.get('model')}+prompt-{sha}"

    def render(self, prompt: str | None, response: str | None) -> str:
        """The judge prompt for one pair (long responses cut)."""
        body = (response or "")[:MAX_RESPONSE_CHARS]
        return self.template.replace("{prompt}", prompt or "").replace("{response}", body)

    def judge(
        self, prompts: Sequence[str | None], responses: Sequence[str | None]
    ) -> list[Verdict]:
        """One verdict per pair (temperature 0, a few tokens)."""
        from srllm.models import generate

        cfg = GenerationConfig(max_new_tokens=24, temperature=0.0, batch_size=8)
        gens = generate(
            self.lm, [self.render(p, r) for p, r in zip(prompts, responses, strict=True)], cfg
        )
        out = []
        for g in gens:
            if g.error is not None:
                out.append(Verdict(None, g.error[:1000], failed=True))
            else:
                out.append(Verdict(parse_answer(g.text), (g.text or "")[:1000]))
        return out


def register_judge(source: str) -> str:
    """Load a judge and register it as the ``judge`` scorer; returns its version."""
    from srllm.scoring.registry import Scorer, ScoreRow, register_scorer

    judge = Judge(source)

    def run(batch) -> list[list[ScoreRow]]:
        verdicts = judge.judge(batch.prompts, batch.responses)
        return [
            [
                ScoreRow("judge", judge.version, None if v.category is None else 1.0, v.label),
                ScoreRow("judge_raw", judge.version, None, v.raw),
            ]
            for v in verdicts
        ]

    register_scorer(
        Scorer("judge", lambda: judge.version, run, f"six-category judge {source}"), replace=True
    )
    return judge.version
