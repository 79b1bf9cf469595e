"""The SR_LLM paper's tables for any base/tuned pair, from what the DuckDB store holds.

* Table 4: % unsafe generations (SR_LLM risk label ``unsafe``) and % toxic generations
  (toxicity at or above 0.5) per prompt set, each with a Wilson 95% CI.
* Table 5: % toxic generations per demographic group (pooled over the Table 4 runs), with
  Wilson CIs.
* Tables 6-7: StereoSet intrasentence LMS, SS and ICAT, overall and per domain (each model's
  newest stored evaluation unless a run label is given), with srllm's bootstrap CIs.

A *prompt set* is named after a run's prompt source (a built-in set's name, or the stem of the
prompt file); for each one the newest run holding generations of both models is used, unless
``runs`` names the runs. The SR_LLM paper's own figures (SR_LLM, Llama-2-7B-chat and
Llama-2-13B-chat; :mod:`srllm.published`) come as reference rows labelled ``published``.
Display tables hold text cells ("3.2 [2.1, 4.8]"); :func:`format_text` and :func:`to_html`
render them (the HTML escapes every text).
"""

from __future__ import annotations

import html
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from srllm import published
from srllm.errors import DataError
from srllm.stats import wilson_interval
from srllm.stereoset.data import DOMAINS, OVERALL
from srllm.taxonomy import TOXIC_RULE

OURS = "ours"
PUBLISHED = published.SOURCE


def stereoset_command(base: str, tuned: str, db: str | Path | None = None) -> str:
    """The command that stores StereoSet figures for a pair (shown where none are stored)."""
    import shlex

    where = shlex.quote(str(db)) if db is not None else "PATH"
    return f"python -m srllm stereoset --models {shlex.quote(f'{base},{tuned}')} --db {where}"


_T4_SCHEMA = {
    "prompt_set": pl.String,
    "run_name": pl.String,
    "model": pl.String,
    "n_risk": pl.Int64,
    "n_unsafe": pl.Int64,
    "n_tox": pl.Int64,
    "n_toxic": pl.Int64,
}


@dataclass(frozen=True)
class PaperTables:
    """Tables 4-7 for one base/tuned pair (numbers; see the ``display_*`` functions)."""

    base: str
    tuned: str
    runs: pl.DataFrame
    """The runs used: prompt_set, run_id, run_name, created_at, models (both or one)."""
    table4: pl.DataFrame
    """prompt_set, run_name, model, n_risk, unsafe_pct, unsafe_ci_low/high, n_tox, toxic_pct,
    toxic_ci_low/high (percent, 0-100; NaN where nothing was scored)."""
    table5: pl.DataFrame
    """model, group, n, n_toxic, toxic_pct, ci_low, ci_high (percent)."""
    stereoset: pl.DataFrame
    """model, domain, run_label, n_items, n_terms, lms, ss, icat and bootstrap bounds."""
    notes: tuple[str, ...] = field(default=())
    """What is missing (e.g. no StereoSet results), one sentence each."""

    @property
    def models(self) -> tuple[str, str]:
        """(base, tuned)."""
        return self.base, self.tuned

    @property
    def has_stereoset(self) -> bool:
        """Whether StereoSet figures are stored for at least one of the two models."""
        return self.stereoset.height > 0


def prompt_set_label(prompt_source: str) -> str:
    """A run's prompt set name: the built-in set's name, else the prompt file's stem.

    ``compare`` stores its sets as ``.compare-<set>.parquet``; those become ``<set>``.
    """
    text = str(prompt_source).strip()
    if "/" not in text and "\\" not in text and "." not in text:
        return text
    stem = Path(text).stem
    return stem.removeprefix(".compare-").removeprefix(".") or text


def _pct(count: np.ndarray, n: np.ndarray, level: float) -> tuple[np.ndarray, ...]:
    count = np.asarray(count, dtype=float)
    n = np.asarray(n, dtype=float)
    low, high = wilson_interval(count, n, level=level)
    with np.errstate(invalid="ignore", divide="ignore"):
        rate = np.where(n > 0, count / np.where(n > 0, n, 1.0), np.nan)
    return 100.0 * rate, 100.0 * low, 100.0 * high


def _with_rates(
    df: pl.DataFrame, count: str, n: str, prefix: str, level: float, *, bare: bool = False
) -> pl.DataFrame:
    rate, low, high = _pct(df[count].to_numpy(), df[n].to_numpy(), level)
    names = (
        ("toxic_pct", "ci_low", "ci_high")
        if bare
        else (
            f"{prefix}_pct",
            f"{prefix}_ci_low",
            f"{prefix}_ci_high",
        )
    )
    return df.with_columns(
        pl.Series(names[0], rate, dtype=pl.Float64),
        pl.Series(names[1], low, dtype=pl.Float64),
        pl.Series(names[2], high, dtype=pl.Float64),
    )


def select_runs(
    counts: pl.DataFrame, base: str, tuned: str, runs: Sequence[str] | None
) -> pl.DataFrame:
    """One run per prompt set: the newest with both models (else the newest with either).

    ``runs`` (ids or names) picks the runs instead; an unknown one raises ``DataError``.
    """
    from srllm.pipeline import LIVE_RUN

    schema = {
        "prompt_set": pl.String,
        "run_id": pl.String,
        "run_name": pl.String,
        "created_at": pl.Datetime("us"),
        "models": pl.String,
    }
    if counts.height == 0:
        if runs:
            raise DataError(f"no generations of {base} or {tuned} in run(s) {', '.join(runs)}")
        return pl.DataFrame(schema=schema)
    per_run = (
        counts.group_by("run_id", "run_name", "prompt_source", "created_at")
        .agg(pl.col("model").unique().sort().alias("model_list"))
        .with_columns(
            pl.col("prompt_source")
            .map_elements(prompt_set_label, return_dtype=pl.String)
            .alias("prompt_set"),
            pl.col("model_list").list.len().alias("n_models"),
            pl.col("model_list").list.join(", ").alias("models"),
        )
    )
    if runs:
        wanted = set(runs)
        picked = per_run.filter(pl.col("run_id").is_in(wanted) | pl.col("run_name").is_in(wanted))
        found = set(picked["run_id"]) | set(picked["run_name"])
        unknown = sorted(wanted - found)
        if unknown:
            raise DataError(f"no generations of {base} or {tuned} in run(s) {', '.join(unknown)}")
    else:
        picked = (
            per_run.filter(pl.col("run_name") != LIVE_RUN)
            .sort("n_models", "created_at", descending=True)
            .group_by("prompt_set", maintain_order=True)
            .first()
        )
    return picked.sort("prompt_set").select(*schema).cast(schema)


def compute_tables(
    counts: pl.DataFrame,
    stereoset: pl.DataFrame,
    *,
    base: str,
    tuned: str,
    runs: Sequence[str] | None = None,
    level: float = 0.95,
    db: str | Path | None = None,
) -> PaperTables:
    """The tables from ``Store.outcome_counts`` rows and ``stereoset_results`` rows.

    ``db`` only names the store in the note that says how to get missing StereoSet figures.
    """
    if base == tuned:
        raise DataError("pick two different models for base and tuned")
    order = {base: 0, tuned: 1}
    chosen = select_runs(counts, base, tuned, runs)
    notes: list[str] = []
    used = (
        counts.filter(pl.col("run_id").is_in(chosen["run_id"].implode()))
        if counts.height
        else pl.DataFrame(schema={**_T4_SCHEMA, "run_id": pl.String, "group": pl.String})
    )
    if used.height:
        used = used.join(chosen.select("run_id", "prompt_set"), on="run_id")
        t4 = used.group_by("prompt_set", "run_name", "model").agg(
            pl.col(c).sum() for c in ("n_risk", "n_unsafe", "n_tox", "n_toxic")
        )
    else:
        t4 = pl.DataFrame(schema=_T4_SCHEMA)
        notes.append(f"No scored audit runs of {base} or {tuned} are stored.")
    t4 = _with_rates(t4, "n_unsafe", "n_risk", "unsafe", level)
    t4 = _with_rates(t4, "n_toxic", "n_tox", "toxic", level)
    t4 = t4.with_columns(
        pl.col("model").replace_strict(order, default=2, return_dtype=pl.Int64).alias("_o")
    )
    t4 = t4.sort("prompt_set", "_o", "model").drop("_o")
    if t4.height and int(t4["n_risk"].sum()) == 0:
        notes.append("No response carries an SR_LLM risk label: unsafe % is not available.")
    if used.height:
        t5 = used.group_by("model", "group").agg(
            pl.col("n_tox").sum().alias("n"), pl.col("n_toxic").sum()
        )
    else:
        t5 = pl.DataFrame(
            schema={"model": pl.String, "group": pl.String, "n": pl.Int64, "n_toxic": pl.Int64}
        )
    t5 = _with_rates(t5, "n_toxic", "n", "", level, bare=True)
    t5 = (
        t5.with_columns(
            pl.col("model").replace_strict(order, default=2, return_dtype=pl.Int64).alias("_o")
        )
        .sort("group", "_o")
        .drop("_o")
    )
    ss = stereoset.filter(pl.col("model").is_in([base, tuned])) if stereoset.height else stereoset
    if ss.height == 0:
        notes.append(
            f"No StereoSet results for {base} or {tuned}: run `"
            + stereoset_command(base, tuned, db)
            + "`."
        )
    else:
        missing = [m for m in (base, tuned) if m not in set(ss["model"])]
        if missing:
            notes.append(f"No StereoSet results for {', '.join(missing)}.")
    return PaperTables(
        base=base,
        tuned=tuned,
        runs=chosen,
        table4=t4,
        table5=t5,
        stereoset=ss,
        notes=tuple(notes),
    )


def paper_tables(
    db: str | Path,
    *,
    base: str,
    tuned: str,
    runs: Sequence[str] | None = None,
    stereoset_label: str | None = None,
    level: float = 0.95,
    kind: str | None = None,
) -> PaperTables:
    """Tables 4-7 for ``base`` vs ``tuned`` from the store at ``db`` (read, never written).

    ``runs`` (ids or names) fixes the audit runs; ``stereoset_label`` the StereoSet run
    label (default: each model's newest evaluation). ``kind`` limits Tables 4-5 to one
    prompt kind (``benign``, ``stereotype``, a stored kind; default every kind, as the paper).
    """
    from srllm.errors import StoreError
    from srllm.store import Store

    path = Path(db).expanduser()
    if not path.exists():
        raise StoreError(f"no store at {path} (run an audit first)")
    store = Store(path)
    from srllm.taxonomy import kind_values

    counts = store.outcome_counts([base, tuned], kind_values(kind) if kind else None)
    if kind and counts.height == 0 and (held := store.prompt_kinds([base, tuned])):
        raise DataError(
            f"no prompts of kind {kind!r} in the runs of {base} and {tuned}; "
            f"they hold: {', '.join(held)}"
        )
    ss = store.stereoset_results(
        run_label=stereoset_label, models=[base, tuned], latest=stereoset_label is None
    )
    return compute_tables(counts, ss, base=base, tuned=tuned, runs=runs, level=level, db=path)


# -- display ---------------------------------------------------------------------------------
def _cell(value: float | None, low: float | None = None, high: float | None = None) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "n/a"
    if low is None or high is None or math.isnan(low) or math.isnan(high):
        return f"{value:.2f}"
    return f"{value:.2f} [{low:.2f}, {high:.2f}]"


_T4_COLS = ("source", "prompt set", "model", "n", "unsafe % [95% CI]", "toxic % [95% CI]", "run")


def display_table4(t: PaperTables) -> pl.DataFrame:
    """Table 4 as text cells: ours per prompt set (base, tuned), then published rows."""
    rows = [
        {
            "source": OURS,
            "prompt set": r["prompt_set"],
            "model": r["model"],
            "n": str(max(r["n_risk"], r["n_tox"])),
            "unsafe % [95% CI]": _cell(r["unsafe_pct"], r["unsafe_ci_low"], r["unsafe_ci_high"]),
            "toxic % [95% CI]": _cell(r["toxic_pct"], r["toxic_ci_low"], r["toxic_ci_high"]),
            "run": r["run_name"],
        }
        for r in t.table4.iter_rows(named=True)
    ]
    for r in published.table4().iter_rows(named=True):
        rows.append(
            {
                "source": PUBLISHED,
                "prompt set": r["prompt_set"],
                "model": published.published_model_label(r["model"]),
                "n": "",
                "unsafe % [95% CI]": _cell(r["unsafe_pct"]),
                "toxic % [95% CI]": _cell(r["toxic_pct"]),
                "run": f"{published.CITATION}, Table 4",
            }
        )
    return pl.DataFrame(rows, schema={k: pl.String for k in _T4_COLS}, orient="row")


def display_table5(t: PaperTables) -> pl.DataFrame:
    """Table 5 as text cells: one row per group; base and tuned side by side, then published."""
    pub = published.table5()
    pub_models = pub["model"].unique(maintain_order=True).to_list()
    ours = {(r["model"], r["group"]): r for r in t.table5.iter_rows(named=True)}
    groups = list(dict.fromkeys(t.table5["group"].to_list()))
    groups += [g for g in dict.fromkeys(pub["group"].to_list()) if g not in groups]
    pub_map = {(r["model"], r["group"]): r["toxic_pct"] for r in pub.iter_rows(named=True)}
    cols = [
        "group",
        f"{t.base}: toxic % [95% CI]",
        f"{t.base}: n",
        f"{t.tuned}: toxic % [95% CI]",
        f"{t.tuned}: n",
        *(published.published_model_label(m) for m in pub_models),
    ]
    rows = []
    for g in groups:
        row: dict[str, str] = {"group": g}
        for m in (t.base, t.tuned):
            r = ours.get((m, g))
            row[f"{m}: toxic % [95% CI]"] = (
                _cell(r["toxic_pct"], r["ci_low"], r["ci_high"]) if r else ""
            )
            row[f"{m}: n"] = str(r["n"]) if r else ""
        for m in pub_models:
            v = pub_map.get((m, g))
            row[published.published_model_label(m)] = "" if v is None else _cell(v)
        rows.append(row)
    return pl.DataFrame(rows, schema={c: pl.String for c in cols}, orient="row")


def display_stereoset(t: PaperTables) -> pl.DataFrame:
    """Tables 6-7 as text cells: per domain (overall last) ours then published rows."""
    cols = ("source", "domain", "model", "items", "LMS", "SS", "ICAT", "run")
    pub = published.stereoset()
    present = set(t.stereoset["domain"]) if t.stereoset.height else set()
    extra = sorted(present - set(DOMAINS) - {OVERALL})
    rows = []
    for domain in (*DOMAINS, *extra, OVERALL):
        for m in (t.base, t.tuned):
            part = t.stereoset.filter((pl.col("model") == m) & (pl.col("domain") == domain))
            if part.height == 0:
                continue
            r = part.row(0, named=True)
            rows.append(
                {
                    "source": OURS,
                    "domain": domain,
                    "model": m,
                    "items": str(r["n_items"]),
                    "LMS": _cell(r["lms"], r["lms_ci_low"], r["lms_ci_high"]),
                    "SS": _cell(r["ss"], r["ss_ci_low"], r["ss_ci_high"]),
                    "ICAT": _cell(r["icat"], r["icat_ci_low"], r["icat_ci_high"]),
                    "run": r.get("run_label") or "",
                }
            )
        table = "Table 6" if domain == OVERALL else "Table 7"
        for r in pub.filter(pl.col("domain") == domain).iter_rows(named=True):
            rows.append(
                {
                    "source": PUBLISHED,
                    "domain": domain,
                    "model": published.published_model_label(r["model"]),
                    "items": "",
                    "LMS": _cell(r["lms"]),
                    "SS": _cell(r["ss"]),
                    "ICAT": _cell(r["icat"]),
                    "run": f"{published.CITATION}, {table}",
                }
            )
    return pl.DataFrame(rows, schema={c: pl.String for c in cols}, orient="row")


TITLES = {
    "table4": f"Table 4 · unsafe % and toxic % ({TOXIC_RULE}) per prompt set",
    "table5": f"Table 5 · toxic % ({TOXIC_RULE}) per demographic group",
    "stereoset": "Tables 6-7 · StereoSet intrasentence LMS, SS, ICAT (overall and per domain)",
}
FOOTNOTES = {
    "table4": (
        "Ours: share of error-free generations with the SR_LLM risk label 'unsafe' and with "
        f"{TOXIC_RULE}, 95% Wilson intervals. Published rows: the SR_LLM paper's own test "
        "sets and classifiers (RoBERTa 'unsafe' classifier, Perspective API toxicity), no CIs."
    ),
    "table5": (
        "Ours: pooled over the Table 4 runs, 95% Wilson intervals. Published: ToxiGen prompts "
        "scored with ToxiGen-RoBERTa, matched to our groups by ToxiGen target group."
    ),
    "stereoset": (
        "Ideal: LMS 100, SS 50, ICAT 100. Domain and overall figures are means over target "
        "terms, as in the official scorer; [brackets]: srllm's 95% bootstrap over items "
        "within target terms (an extra). Published rows: the paper's Tables 6-7 (its "
        "StereoSet split may differ from the dev set scored here)."
    ),
}


def display_tables(t: PaperTables) -> dict[str, pl.DataFrame]:
    """The three display tables, keyed like :data:`TITLES`."""
    return {
        "table4": display_table4(t),
        "table5": display_table5(t),
        "stereoset": display_stereoset(t),
    }


def text_table(df: pl.DataFrame) -> str:
    """A plain fixed-width text rendering of a table of text cells."""
    cols = df.columns
    cells = [[str(v) if v is not None else "" for v in row] for row in df.iter_rows()]
    widths = [max([len(c), *(len(r[i]) for r in cells)]) for i, c in enumerate(cols)]
    line = "  ".join(c.ljust(w) for c, w in zip(cols, widths, strict=True))
    out = [line.rstrip(), "  ".join("-" * w for w in widths)]
    out += ["  ".join(v.ljust(w) for v, w in zip(r, widths, strict=True)).rstrip() for r in cells]
    return "\n".join(out)


def format_text(t: PaperTables) -> str:
    """All tables as plain text, with titles, footnotes and notes."""
    parts = [f"SR_LLM paper tables · base = {t.base} · tuned = {t.tuned}"]
    if t.runs.height:
        used = ", ".join(
            f"{r['prompt_set']}: {r['run_name']}" for r in t.runs.iter_rows(named=True)
        )
        parts.append(f"runs used: {used}")
    for key, df in display_tables(t).items():
        parts += ["", TITLES[key], text_table(df), FOOTNOTES[key]]
    if t.notes:
        parts += ["", *(f"note: {n}" for n in t.notes)]
    return "\n".join(parts)


_CSS = """
body{font-family:system-ui,sans-serif;max-width:1200px;margin:2em auto;color:#222}
table{border-collapse:collapse;font-size:13px;margin:1em 0}
td,th{border:1px solid #ccc;padding:3px 6px;text-align:left;white-space:pre-wrap}
th{background:#f3f3f3} p.note{color:#555;font-size:13px}
"""


def to_html(t: PaperTables) -> str:
    """A self-contained HTML page of the tables; every text is HTML-escaped (no scripts)."""
    from srllm.report import table_html

    esc = html.escape
    title = f"SR_LLM paper tables · {t.base} vs {t.tuned}"
    parts = [
        f"<h1>{esc(title)}</h1>",
        f"<p>Generated {datetime.now(UTC):%Y-%m-%d %H:%M} UTC by srllm.</p>",
    ]
    if t.runs.height:
        parts.append(
            "<h2>Runs used</h2>"
            + table_html(t.runs.with_columns(pl.col("created_at").cast(pl.String)))
        )
    for key, df in display_tables(t).items():
        parts.append(f"<h2>{esc(TITLES[key])}</h2>")
        parts.append(table_html(df, max_rows=10_000))
        parts.append(f"<p class='note'>{esc(FOOTNOTES[key])}</p>")
    for note in t.notes:
        parts.append(f"<p class='note'><b>Note:</b> {esc(note)}</p>")
    body = "\n".join(parts)
    return (
        "<!doctype html><html><head><meta charset='utf-8'>"
        f"<title>{esc(title)}</title>"
        "<meta http-equiv='Content-Security-Policy' content=\"default-src 'none'; "
        "style-src 'unsafe-inline'\">"
        f"<style>{_CSS}</style></head><body>{body}</body></html>"
    )


def summary(t: PaperTables) -> dict[str, Any]:
    """JSON-ready numbers of every table (for ``paper-tables --json``)."""

    def records(df: pl.DataFrame) -> list[dict[str, Any]]:
        out = []
        for row in df.iter_rows(named=True):
            out.append(
                {
                    k: (None if isinstance(v, float) and math.isnan(v) else v)
                    for k, v in row.items()
                    if k != "fingerprint"
                }
            )
        return out

    return {
        "base": t.base,
        "tuned": t.tuned,
        "runs": records(t.runs),
        "table4": records(t.table4),
        "table5": records(t.table5),
        "stereoset": records(t.stereoset),
        "published": {
            "table4": records(published.table4()),
            "table5": records(published.table5()),
            "stereoset": records(published.stereoset()),
        },
        "notes": list(t.notes),
    }
