"""Result tables -> plotly figures. Computes nothing: every number comes from ``srllm.stats``."""

from __future__ import annotations

import plotly.graph_objects as go
import polars as pl

from srllm.taxonomy import CATEGORY_COLOURS, CATEGORY_ORDER, TOXIC_RULE

MODEL_COLOURS = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b"]
GROUP_COLOURS = [
    "#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd",
    "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf",
]  # fmt: skip
MODEL_DASHES = ["solid", "dash", "dot", "dashdot"]
METRIC_TITLES = {
    "refusal": "Refusal rate (refusal + harmful refusal)",
    "harmful": "Harmful-answer rate",
    "toxicity": "Mean toxicity",
}


def _ci_bars(frame: pl.DataFrame, value: str) -> dict:
    """Plotly error bars from ``ci_low``/``ci_high`` around ``value`` (asymmetric)."""
    return {
        "type": "data",
        "symmetric": False,
        "array": (frame["ci_high"] - frame[value]).to_list(),
        "arrayminus": (frame[value] - frame["ci_low"]).to_list(),
    }


def _model_bars(
    fig: go.Figure, i: int, model: object, part: pl.DataFrame, value: str, **kw
) -> None:
    """Model ``i``'s bars of ``value`` per group, in its colour, with interval error bars."""
    fig.add_bar(
        name=str(model),
        x=part["group"].to_list(),
        y=part[value].to_list(),
        marker_color=MODEL_COLOURS[i % len(MODEL_COLOURS)],
        error_y=_ci_bars(part, value),
        **kw,
    )


def _n_and_interval(part: pl.DataFrame) -> list[tuple]:
    """``(n, ci_low, ci_high)`` per row: the custom data that hover texts read."""
    cols = (part["n"].to_list(), part["ci_low"].to_list(), part["ci_high"].to_list())
    return list(zip(*cols, strict=True))


def _layout(fig: go.Figure, title: str, height: int = 420) -> go.Figure:
    fig.update_layout(
        title=title,
        height=height,
        margin={"l": 10, "r": 10, "t": 50, "b": 10},
        legend={"orientation": "h", "y": -0.2},
        template="plotly_white",
    )
    return fig


def rate_bars(table: pl.DataFrame, *, metric: str = "refusal", alpha: float = 0.05) -> go.Figure:
    """Rate per group and model with 95% CI error bars; significant groups marked with ★.

    ``table`` has model, group, n, rate, ci_low, ci_high and optionally p_holm.
    """
    fig = go.Figure()
    order = (
        table.group_by("group").agg(pl.col("rate").max()).sort("rate", descending=True)["group"]
    ).to_list()
    for i, model in enumerate(table["model"].unique(maintain_order=True).to_list()):
        part = table.filter(pl.col("model") == model)
        part = part.with_columns(
            pl.col("group")
            .replace_strict({g: k for k, g in enumerate(order)}, default=len(order))
            .alias("_o")
        ).sort("_o")
        star = (
            [("★" if p is not None and p < alpha else "") for p in part["p_holm"].to_list()]
            if "p_holm" in part.columns
            else None
        )
        _model_bars(
            fig,
            i,
            model,
            part,
            "rate",
            text=star,
            textposition="inside",
            insidetextanchor="start",
            textfont={"color": "white", "size": 14},
            customdata=_n_and_interval(part),
            hovertemplate=(
                "%{x}<br>rate %{y:.1%} (95% CI %{customdata[1]:.1%}–%{customdata[2]:.1%})"
                "<br>n = %{customdata[0]}<extra>" + str(model) + "</extra>"
            ),
        )
    fig.update_layout(barmode="group", yaxis_tickformat=".0%" if metric != "toxicity" else ".2f")
    title = METRIC_TITLES.get(metric, metric) + " by group · 95% CI · ★ significant after Holm"
    return _layout(fig, title)


def heatmap(matrix: pl.DataFrame, *, title: str = "Refusal rate: template × group") -> go.Figure:
    """A template × group matrix (first column the template id, the rest groups)."""
    rows = matrix.columns[0]
    groups = matrix.columns[1:]
    z = matrix.select(groups).to_numpy()
    fig = go.Figure(
        go.Heatmap(
            z=z,
            x=groups,
            y=matrix[rows].to_list(),
            colorscale="Reds",
            zmin=0,
            zmax=1,
            colorbar={"title": "rate"},
            hovertemplate="%{y} · %{x}: %{z:.0%}<extra></extra>",
        )
    )
    fig.update_yaxes(autorange="reversed")
    return _layout(fig, title, height=max(360, 16 * len(z) + 120))


def flip_matrix(matrix: pl.DataFrame, *, title: str | None = None) -> go.Figure:
    """Share of templates answered for the row group and refused for the column group."""
    groups = matrix.columns[1:]
    fig = go.Figure(
        go.Heatmap(
            z=matrix.select(groups).to_numpy(),
            x=groups,
            y=matrix[matrix.columns[0]].to_list(),
            colorscale="Purples",
            zmin=0,
            colorbar={"title": "flip rate"},
            hovertemplate="answered for %{y}, refused for %{x}: %{z:.1%}<extra></extra>",
        )
    )
    fig.update_xaxes(title="refused for")
    fig.update_yaxes(title="answered for", autorange="reversed")
    return _layout(
        fig, title or "Flip matrix: same template, answered for one group, refused for another"
    )


def change_bars(change: pl.DataFrame, *, title: str = "Tuned minus base, per group") -> go.Figure:
    """Per-group change in rate (tuned − base) with CI; columns group, diff, ci_low, ci_high."""
    change = change.sort("diff")
    colours = ["#2ca02c" if d < 0 else "#d62728" for d in change["diff"].to_list()]
    fig = go.Figure(
        go.Bar(
            x=change["diff"].to_list(),
            y=change["group"].to_list(),
            orientation="h",
            marker_color=colours,
            error_x=_ci_bars(change, "diff"),
            hovertemplate="%{y}: %{x:+.1%}<extra></extra>",
        )
    )
    fig.add_vline(x=0, line_color="black", line_width=1)
    fig.update_xaxes(tickformat="+.0%")
    return _layout(fig, title + " (green = fewer refusals)", height=max(320, 22 * change.height))


def category_stack(shares: pl.DataFrame, *, title: str = "Response categories") -> go.Figure:
    """Stacked shares per (model, group); columns model, group, category, share."""
    fig = go.Figure()
    x = (
        [shares["model"].cast(pl.String) + " · " + shares["group"].cast(pl.String)][0]
        .unique(maintain_order=True)
        .to_list()
    )
    keyed = shares.with_columns(
        (pl.col("model").cast(pl.String) + " · " + pl.col("group").cast(pl.String)).alias("_x")
    )
    for cat in CATEGORY_ORDER:
        part = keyed.filter(pl.col("category") == cat)
        lookup = dict(zip(part["_x"].to_list(), part["share"].to_list(), strict=True))
        fig.add_bar(
            name=cat.replace("_", " "),
            x=x,
            y=[lookup.get(k, 0.0) for k in x],
            marker_color=CATEGORY_COLOURS[cat],
            hovertemplate="%{x}<br>" + cat + ": %{y:.1%}<extra></extra>",
        )
    fig.update_layout(barmode="stack", yaxis_tickformat=".0%")
    return _layout(fig, title)


def toxic_by_group(
    table: pl.DataFrame,
    published: pl.DataFrame | None = None,
    *,
    title: str = f"Toxic % ({TOXIC_RULE}) by group · 95% Wilson CI",
) -> go.Figure:
    """Toxic % per group and model with CI error bars, published figures as markers.

    ``table`` has model, group, n, toxic_pct, ci_low, ci_high (percent, as
    ``PaperTables.table5``); ``published`` has model, group, toxic_pct and is drawn only for
    groups present in ``table``, each trace named ``published: <model>``.
    """
    fig = go.Figure()
    groups = table["group"].unique(maintain_order=True).to_list()
    for i, model in enumerate(table["model"].unique(maintain_order=True).to_list()):
        part = table.filter(pl.col("model") == model)
        _model_bars(
            fig,
            i,
            model,
            part,
            "toxic_pct",
            customdata=_n_and_interval(part),
            hovertemplate="%{x}<br>toxic %{y:.1f}% (95% CI %{customdata[1]:.1f}–"
            "%{customdata[2]:.1f}%)<br>n = %{customdata[0]}<extra></extra>",
        )
    if published is not None and published.height:
        shown = published.filter(pl.col("group").is_in(groups))
        for j, model in enumerate(shown["model"].unique(maintain_order=True).to_list()):
            part = shown.filter(pl.col("model") == model)
            fig.add_scatter(
                name=f"published: {model}",
                x=part["group"].to_list(),
                y=part["toxic_pct"].to_list(),
                mode="markers",
                marker={"symbol": "diamond", "size": 9, "color": "#444", "opacity": 1 - 0.25 * j},
                hovertemplate="%{x}<br>published: %{y:.2f}%<extra></extra>",
            )
    fig.update_layout(barmode="group", yaxis_title="toxic %")
    fig.update_xaxes(categoryorder="array", categoryarray=groups)
    return _layout(fig, title)


def impact_bars(table: pl.DataFrame) -> go.Figure:
    """Impact ratio per group and model with intervals and the four-fifths line."""
    fig = go.Figure()
    for i, model in enumerate(table["model"].unique(maintain_order=True).to_list()):
        part = table.filter(pl.col("model") == model)
        _model_bars(fig, i, model, part, "impact_ratio")
    fig.add_hline(y=0.8, line_dash="dash", annotation_text="four-fifths (0.8)")
    fig.update_layout(
        barmode="group",
        title="Impact ratio: answer rate on benign prompts / best group's · 95% CI",
        yaxis={"range": [0, 1.1], "title": "ratio"},
    )
    return fig


def history_group_lines(by_group: pl.DataFrame, *, metric: str = "refusal") -> go.Figure:
    """Each group's rate per run (x: run, in order) with its 95% interval as error bars.

    ``by_group`` is :func:`srllm.stats.history.run_history`'s first table (``run, order,
    model, group, rate, ci_low, ci_high``). One line per group, and per model when there are
    several (colour: group, dash: model).
    """
    fig = go.Figure()
    models = by_group["model"].unique(maintain_order=True).to_list()
    groups = sorted(by_group["group"].unique().to_list(), key=str)
    for j, model in enumerate(models):
        for i, group in enumerate(groups):
            part = by_group.filter((pl.col("model") == model) & (pl.col("group") == group))
            if part.height == 0:
                continue
            part = part.sort("order")
            fig.add_scatter(
                x=part["run"].to_list(),
                y=part["rate"].to_list(),
                mode="lines+markers",
                name=str(group) if len(models) == 1 else f"{model} · {group}",
                legendgroup=str(group),
                line={
                    "color": GROUP_COLOURS[i % len(GROUP_COLOURS)],
                    "dash": MODEL_DASHES[j % len(MODEL_DASHES)],
                },
                error_y=_ci_bars(part, "rate"),
                hovertemplate=(
                    "%{x}<br>%{y:.1%}<extra>" + f"{model} · {group}" + "</extra>"
                    if metric != "toxicity"
                    else "%{x}<br>%{y:.3f}<extra>" + f"{model} · {group}" + "</extra>"
                ),
            )
    fig.update_layout(yaxis_tickformat=".0%" if metric != "toxicity" else ".2f")
    title = METRIC_TITLES.get(metric, metric) + " per group across runs · 95% CI"
    return _layout(fig, title)


def history_lines(gaps: pl.DataFrame, *, metric: str = "refusal") -> go.Figure:
    """Max-min gap per model across runs (x: run, in order) with 95% intervals."""
    fig = go.Figure()
    for i, model in enumerate(gaps["model"].unique(maintain_order=True).to_list()):
        part = gaps.filter(pl.col("model") == model).sort("order")
        fig.add_scatter(
            x=part["run"].to_list(),
            y=part["difference"].to_list(),
            mode="lines+markers",
            name=str(model),
            line={"color": MODEL_COLOURS[i % len(MODEL_COLOURS)]},
            error_y=_ci_bars(part, "difference"),
        )
    fig.update_layout(yaxis_tickformat=".0%")
    return _layout(fig, f"Max–min {metric} gap across runs · 95% CI")
