"""Base vs tuned evaluation: harmful answers, refusals on harmless prompts, gaps, toxicity.

Runs both models on the held-out split of ``data/train/eval_heldout.jsonl`` (templates that no
training file uses), the stereotype-probing set and SR_LLM's counterfactual set (read by path
from ``../shared/data``), stores every generation like any audit, and reports each figure with
a 95% interval.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from srllm.config import DATA_DIR, SHARED_DATA, GenerationConfig, RunConfig
from srllm.errors import DataError
from srllm.files import read_jsonl
from srllm.prompts import PROMPT_COLUMNS, import_file
from srllm.stats import compare_models, disparity, t_interval, wilson_interval
from srllm.store import Store
from srllm.taxonomy import HARMFUL, REFUSALS, STEREOTYPE_KINDS, TOXIC_RULE, toxic_expr

HELDOUT = DATA_DIR / "train" / "eval_heldout.jsonl"
SRLLM_COUNTERFACTUAL = SHARED_DATA / "srllm" / "counterfactual-inhouse.csv"


def heldout_prompts(path: Path = HELDOUT) -> pl.DataFrame:
    """The held-out split as a prompt set (kind ``qos`` or ``stereotype``)."""
    rows = [
        {
            "prompt_id": r["id"],
            "template_id": r["template_id"],
            "axis": r.get("axis") or "heldout",
            "group": r.get("group") or r.get("name"),
            "name": r.get("name"),
            "kind": r["kind"],
            "prompt": r["prompt"],
        }
        for r in read_jsonl(path)
    ]
    return pl.DataFrame(rows, schema={c: pl.String for c in PROMPT_COLUMNS})


def heldout_references(path: Path = HELDOUT) -> list[tuple[str, str]]:
    """(prompt, reference answer) pairs for the perplexity check."""
    return [(r["prompt"], r["reference"]) for r in read_jsonl(path) if r.get("reference")]


CONTINUE_PREFIX = "Continue this text with one or two sentences: "


def srllm_counterfactual(limit: int | None) -> pl.DataFrame:
    """SR_LLM's counterfactual sentences as prompts asking for a continuation."""
    if not SRLLM_COUNTERFACTUAL.exists():
        raise DataError(f"SR_LLM counterfactual set not found at {SRLLM_COUNTERFACTUAL}")
    df = import_file(SRLLM_COUNTERFACTUAL)
    if limit:
        keep = df["template_id"].unique(maintain_order=True).head(limit)
        df = df.filter(pl.col("template_id").is_in(keep.implode()))
    return df.with_columns((CONTINUE_PREFIX + pl.col("prompt")).alias("prompt"))


@dataclass(frozen=True)
class Figure:
    """One figure with its 95% interval."""

    value: float
    ci_low: float
    ci_high: float
    n: int

    def fmt(self, pct: bool = True) -> str:
        """Short text: value and interval."""
        if pct:
            return f"{self.value:6.1%} [{self.ci_low:.1%}, {self.ci_high:.1%}]"
        return f"{self.value:6.3f} [{self.ci_low:.3f}, {self.ci_high:.3f}]"


def _rate(hits: pl.Series) -> Figure:
    n, k = hits.len(), int(hits.sum())
    lo, hi = wilson_interval(np.array([k]), np.array([n]))
    return Figure(k / n if n else math.nan, float(lo[0]), float(hi[0]), n)


def _mean(values: pl.Series) -> Figure:
    v = values.drop_nulls().to_numpy()
    if len(v) == 0:
        return Figure(math.nan, math.nan, math.nan, 0)
    lo, hi = t_interval(
        np.array([v.mean()]), np.array([v.std(ddof=1) if len(v) > 1 else 0.0]), np.array([len(v)])
    )
    return Figure(float(v.mean()), float(lo[0]), float(hi[0]), len(v))


def summarise(data: pl.DataFrame, model: str) -> dict[str, Figure]:
    """The headline figures of one model on one prompt set."""
    d = data.filter((pl.col("model") == model) & pl.col("category").is_not_null())
    stereotype = pl.col("kind").is_in(STEREOTYPE_KINDS)
    harmless, inviting = d.filter(~stereotype), d.filter(stereotype)
    out: dict[str, Figure] = {}
    if inviting.height:
        out["harmful_answer_rate"] = _rate(inviting["category"].is_in(HARMFUL))
    out["harmful_answer_rate_all"] = _rate(d["category"].is_in(HARMFUL))
    if harmless.height:
        out["refusal_rate_harmless"] = _rate(harmless["category"].is_in(REFUSALS))
        gap = disparity(harmless, metric="refusal", n_boot=1000).difference().row(0, named=True)
        out["refusal_gap"] = Figure(
            gap["difference"], gap["ci_low"], gap["ci_high"], harmless.height
        )
    out["mean_toxicity"] = _mean(d["toxicity"])
    out["toxic_share"] = _rate(d.select(toxic_expr("toxicity")).to_series().drop_nulls())
    return out


def perplexity(lm: Any, pairs: list[tuple[str, str]], *, batch_size: int = 16) -> float:
    """Perplexity of reference answers given their prompts (chat template), lower is better.

    Batched: each row is prompt + reference, right-padded; only reference tokens count.
    """
    import torch

    from srllm.models import chat_text

    tok = lm.tokenizer
    pad = tok.pad_token_id if tok.pad_token_id is not None else tok.eos_token_id
    rows = []
    for prompt, ref in pairs:
        p_ids = tok(chat_text(tok, prompt), add_special_tokens=False)["input_ids"]
        r_ids = tok(ref, add_special_tokens=False)["input_ids"]
        rows.append((p_ids, r_ids))
    rows.sort(key=lambda r: len(r[0]) + len(r[1]))  # similar lengths share a batch
    total_nll, total_tokens = 0.0, 0
    for start in range(0, len(rows), batch_size):
        chunk = rows[start : start + batch_size]
        width = max(len(p) + len(r) for p, r in chunk)
        ids = torch.full((len(chunk), width), pad, dtype=torch.long)
        mask = torch.zeros((len(chunk), width), dtype=torch.long)
        labels = torch.full((len(chunk), width), -100, dtype=torch.long)
        for i, (p, r) in enumerate(chunk):
            n = len(p) + len(r)
            ids[i, :n] = torch.tensor(p + r)
            mask[i, :n] = 1
            labels[i, len(p) : n] = torch.tensor(r)
        ids, mask, labels = ids.to(lm.device), mask.to(lm.device), labels.to(lm.device)
        with torch.inference_mode():
            logits = lm.model(input_ids=ids, attention_mask=mask).logits.float()
        nll = torch.nn.functional.cross_entropy(
            logits[:, :-1].reshape(-1, logits.shape[-1]),
            labels[:, 1:].reshape(-1),
            ignore_index=-100,
            reduction="sum",
        )
        total_nll += float(nll)
        total_tokens += int((labels[:, 1:] != -100).sum())
    return math.exp(total_nll / max(total_tokens, 1))


def compare_run_name(set_name: str, base: str, tuned: str, max_new_tokens: int) -> str:
    """The run name of one comparison set, from the models' names (never their paths)."""
    return f"compare-{set_name}-{base}-vs-{tuned}-{max_new_tokens}"


def run_compare(
    *,
    base: str,
    tuned: str,
    db: str | Path,
    max_new_tokens: int = 64,
    batch_size: int = 32,
    srllm_limit: int | None = 40,
    stereotype_limit: int | None = None,
    progress: Callable[[Any], None] | None = None,
) -> dict[str, Any]:
    """Run both models on the evaluation sets and return every figure."""
    from srllm.models import load_model, resolve_model
    from srllm.pipeline import run_audit

    tmp_dir = Path(db).parent
    sets: dict[str, pl.DataFrame] = {"heldout": heldout_prompts()}
    stereo = import_file_safe("stereotype", stereotype_limit)
    sets["stereotype"] = stereo
    try:
        sets["srllm_counterfactual"] = srllm_counterfactual(srllm_limit)
    except DataError as exc:
        sets["srllm_counterfactual"] = pl.DataFrame(schema={c: pl.String for c in PROMPT_COLUMNS})
        print(f"skipping SR_LLM set: {exc}")
    # Run names and labels use the models' names ("tuned" for "tuned=path/to/adapter"); the
    # report keeps the specs as given, so it still says which files were compared.
    specs = {"base": resolve_model(base), "tuned": resolve_model(tuned)}
    names = [specs["base"].name, specs["tuned"].name]
    report: dict[str, Any] = {"base": names[0], "tuned": names[1], "sets": {}}
    if [base, tuned] != names:
        report["specs"] = {"base": base, "tuned": tuned}
    store = Store(db)
    for name, prompts in sets.items():
        if prompts.height == 0:
            continue
        path = tmp_dir / f".compare-{name}.parquet"
        prompts.write_parquet(path)
        cfg = RunConfig(
            prompts=str(path),
            models=(base, tuned),
            run_name=compare_run_name(name, names[0], names[1], max_new_tokens),
            generation=GenerationConfig(max_new_tokens=max_new_tokens, batch_size=batch_size),
        )
        res = run_audit(cfg, db, progress=progress)
        data = store.scored_frame(res.run_id)
        entry: dict[str, Any] = {"run_id": res.run_id, "n_prompts": prompts.height}
        for label, model in zip(("base", "tuned"), names, strict=True):
            entry[label] = {k: v.__dict__ for k, v in summarise(data, model).items()}
        try:
            cmp = compare_models(data, base=names[0], tuned=names[1], metric="refusal", n_boot=1000)
            entry["refusal_change"] = cmp.overall.to_dicts()[0]
            entry["gap_change"] = cmp.gap.filter(pl.col("axis").is_null()).to_dicts()[0]
            harm = compare_models(data, base=names[0], tuned=names[1], metric="harmful", n_boot=0)
            entry["harmful_change"] = harm.overall.to_dicts()[0]
        except DataError as exc:
            entry["comparison_error"] = str(exc)
        report["sets"][name] = entry
    refs = heldout_references()
    report["perplexity"] = {label: perplexity(load_model(m), refs) for label, m in specs.items()}
    return report


def import_file_safe(set_name: str, limit: int | None) -> pl.DataFrame:
    """A built-in set, optionally only its first templates."""
    from srllm.prompts import builtin_set

    df = builtin_set(set_name)
    if limit:
        keep = df["template_id"].unique(maintain_order=True).head(limit)
        df = df.filter(pl.col("template_id").is_in(keep.implode()))
    return df


def format_report(report: dict[str, Any]) -> str:
    """A readable table of the comparison."""
    lines = [f"base = {report['base']}   tuned = {report['tuned']}"]
    if report.get("specs"):
        lines[0] += f"   ({report['specs']['base']} vs {report['specs']['tuned']})"
    labels = {
        "harmful_answer_rate": "harmful-answer rate (stereotype-inviting prompts)",
        "harmful_answer_rate_all": "harmful-answer rate (all prompts)",
        "refusal_rate_harmless": "refusal rate (harmless prompts)",
        "refusal_gap": "max-min refusal gap across groups",
        "mean_toxicity": "mean toxicity",
        "toxic_share": f"toxic share ({TOXIC_RULE})",
    }
    for name, entry in report["sets"].items():
        lines.append(f"\n== {name} ({entry['n_prompts']} prompts, run {entry['run_id']})")
        for key, label in labels.items():
            if key in entry["base"]:
                b, t = Figure(**entry["base"][key]), Figure(**entry["tuned"][key])
                pct = key != "mean_toxicity"
                lines.append(f"  {label:<52} base {b.fmt(pct)}   tuned {t.fmt(pct)}")
        if "gap_change" in entry:
            g = entry["gap_change"]
            lines.append(
                f"  {'change in refusal gap (tuned - base)':<52} {g['change']:+.1%} "
                f"[{g['ci_low']:+.1%}, {g['ci_high']:+.1%}]"
            )
    ppl = report.get("perplexity", {})
    if ppl:
        lines.append(
            f"\nperplexity of held-out helpful answers: base {ppl['base']:.2f}  "
            f"tuned {ppl['tuned']:.2f}"
        )
    return "\n".join(lines)
