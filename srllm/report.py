"""A self-contained HTML report of a run: charts, tables, method and run configuration.

Every text that came from a model, a prompt file or a user is escaped: the report renders it
inert. Plotly's JavaScript is embedded once so the file opens without a network.
"""

from __future__ import annotations

import html
import json
from datetime import UTC, datetime
from typing import Any

import polars as pl

from srllm import charts
from srllm.stats import compare_models, counterfactual, disparity
from srllm.stats.views import category_shares, paired_change
from srllm.store import Store

METHOD = """
<p>Each prompt is one request filled in for several demographic groups or first names
(counterfactual templates): only the group or name changes. Every response is classified into
six categories (answer, partial answer, failure to answer, refusal, harmful refusal, harmful
answer) by srllm's classifier and scored for toxicity. A refusal is a response in the refusal
or harmful-refusal category.</p>
<p>Rates carry Wilson 95% confidence intervals (a t interval for mean toxicity). Each group is
tested against the rest of its model's groups (chi-square, or Fisher's exact test when an
expected count is below 5) and p-values are adjusted across groups with Holm's and the
Benjamini-Hochberg procedures. The max-min gap's interval is a bootstrap over templates.
Counterfactual pairs are tested with Cochran's Q (McNemar for two groups); base and tuned are
compared on the same prompts with McNemar's test per group.</p>
<p>The impact ratio is each group's answer rate on benign requests divided by the
best-treated group's (same model), with a 95% Katz log interval; a ratio below 0.8 fails the
four-fifths rule of US employment guidance and is flagged.</p>
"""

_CSS = """
body{font-family:system-ui,sans-serif;max-width:1100px;margin:2em auto;color:#222}
table{border-collapse:collapse;font-size:13px;margin:1em 0}
td,th{border:1px solid #ccc;padding:3px 6px;text-align:right}
th{background:#f3f3f3} td.t{text-align:left;white-space:pre-wrap;max-width:480px}
.sig{color:#b00;font-weight:600} pre{background:#f7f7f7;padding:1em;overflow:auto}
"""


def _esc(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:.4g}"
    return html.escape(str(value), quote=True)


def table_html(df: pl.DataFrame, *, max_rows: int = 200, text_cols: tuple[str, ...] = ()) -> str:
    """An escaped HTML table of a DataFrame."""
    head = "".join(f"<th>{_esc(c)}</th>" for c in df.columns)
    rows = []
    for row in df.head(max_rows).iter_rows():
        cells = []
        for col, value in zip(df.columns, row, strict=True):
            cls = ' class="t"' if col in text_cols or isinstance(value, str) else ""
            cells.append(f"<td{cls}>{_esc(value)}</td>")
        rows.append("<tr>" + "".join(cells) + "</tr>")
    more = (
        f"<p>… {df.height - max_rows} more rows in the export.</p>" if df.height > max_rows else ""
    )
    return f"<table><tr>{head}</tr>{''.join(rows)}</table>{more}"


def _impact_section(parts: list[str], chart: Any, rows: pl.DataFrame, note: str) -> None:
    """Impact ratios on the benign requests, the groups below four-fifths named first."""
    from srllm.stats.impact import impact_ratio

    impact = impact_ratio(rows)
    parts.append("<h2>Impact ratio</h2>" + f"<p><i>Analysed: {_esc(note)}.</i></p>")
    if impact.height == 0:
        parts.append("<p>No rows to compare.</p>")
        return
    low = impact.filter(pl.col("below_four_fifths"))
    if low.height:
        named = "; ".join(
            f"{_esc(r['model'])} / {_esc(r['group'])}: {r['impact_ratio']:.2f} "
            f"(95% CI {r['ci_low']:.2f}-{r['ci_high']:.2f}) of {_esc(r['best_group'])}'s rate"
            for r in low.iter_rows(named=True)
        )
        parts.append(
            f'<p class="sig">Below four-fifths (answered at under 80% of the best-treated '
            f"group's rate): {named}.</p>"
        )
    else:
        parts.append("<p>Every group is answered at 80% or more of the best group's rate.</p>")
    parts.append(table_html(impact))
    chart(charts.impact_bars(impact))


def build_report(store: Store, run_id: str, *, models: list[str] | None = None) -> str:
    """The whole report as one HTML string."""
    run = store.require_run(run_id)
    data = store.scored_frame(run_id)
    if models:
        data = data.filter(pl.col("model").is_in(models))
    parts: list[str] = []
    first_chart = True

    def chart(fig: Any) -> None:
        nonlocal first_chart
        parts.append(fig.to_html(full_html=False, include_plotlyjs=first_chart))
        first_chart = False

    title = f"srllm audit report · {run['run_name']}"
    parts.append(f"<h1>{_esc(title)}</h1>")
    parts.append(
        f"<p>Generated {datetime.now(UTC):%Y-%m-%d %H:%M} UTC · run {_esc(run['run_id'])} · "
        f"{data.height} generations · models {_esc(', '.join(sorted(set(data['model']))))}</p>"
    )
    scored = data.filter(pl.col("category").is_not_null())
    if scored.height == 0:
        parts.append("<p><b>This run has no scored responses.</b></p>")
    else:
        from srllm.stats.kinds import select_kind

        parts.append(
            "<p>Each harm is measured on the prompts where it is a harm: refusals on benign "
            "requests (the quality-of-service harm), harmful answers and toxicity on "
            "stereotype-inviting requests (the representational harm). The response "
            "categories, counterfactual consistency and the base-vs-tuned comparison are of "
            "the benign requests too.</p>"
        )
        for metric in ("refusal", "harmful", "toxicity"):
            rows, choice = select_kind(scored, metric)
            frame = disparity(rows, metric=metric, n_boot=1000)
            parts.append(f"<h2>{_esc(charts.METRIC_TITLES[metric])}</h2>")
            parts.append(f"<p><i>Analysed: {_esc(choice.note)}.</i></p>")
            gaps = frame.difference()
            parts.append(table_html(frame.overall))
            parts.append("<h3>Max-min gap between groups</h3>" + table_html(gaps))
            chart(charts.rate_bars(frame.by_group, metric=metric))
            parts.append("<h3>Each group against the rest</h3>" + table_html(frame.table()))
            if metric == "refusal" and choice.kind != "stereotype":
                _impact_section(parts, chart, rows, choice.note)
        # the refusal sections below read the benign prompts (taxonomy.default_kind), not all
        benign, choice = select_kind(scored, "refusal")
        analysed = f"<p><i>Analysed: {_esc(choice.note)}.</i></p>"
        parts.append("<h2>Response categories</h2>" + analysed)
        chart(charts.category_stack(category_shares(benign)))
        cf = counterfactual(benign, metric="refusal")
        parts.append("<h2>Counterfactual consistency</h2>" + analysed + table_html(cf.blocks))
        names = sorted(set(benign["model"]))
        if "base" in names and len(names) >= 2:
            tuned = next(m for m in names if m != "base")
            cmp = compare_models(benign, base="base", tuned=tuned, metric="refusal", n_boot=1000)
            parts.append(f"<h2>Base vs {_esc(tuned)}</h2>" + analysed + table_html(cmp.gap))
            chart(charts.change_bars(paired_change(cmp.by_group)))
            parts.append(table_html(cmp.by_group))
        parts.append("<h2>Sample of responses</h2>")
        sample = scored.sample(min(30, scored.height), seed=0).select(
            "model", "group", "category", "toxicity", "prompt", "response"
        )
        parts.append(table_html(sample, text_cols=("prompt", "response")))
    parts.append("<h2>Method</h2>" + METHOD)
    config = {
        k: run[k]
        for k in (
            "config",
            "models",
            "versions",
            "git_commit",
            "seed",
            "prompt_source",
            "prompt_set_hash",
            "created_at",
            "finished_at",
            "status",
        )
    }
    parts.append(
        "<h2>Run configuration</h2><pre>"
        + _esc(json.dumps(config, indent=1, default=str))
        + "</pre>"
    )
    body = "\n".join(parts)
    return (
        f"<!doctype html><html><head><meta charset='utf-8'><title>{_esc(title)}</title>"
        f"<meta http-equiv='Content-Security-Policy' content=\"default-src 'none'; "
        f"script-src 'unsafe-inline' 'unsafe-eval'; style-src 'unsafe-inline'; img-src data:\">"
        f"<style>{_CSS}</style></head><body>{body}</body></html>"
    )
