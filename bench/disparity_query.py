"""Disparity statistics against peers measured in the same run; prints ratios.

1. The per-group table (``disparity_table``: counts, Wilson intervals, group-vs-rest tests,
   Holm/BH) against a DuckDB ``GROUP BY`` that computes only the counts and rates.
2. ``disparity`` with ``n_boot`` cluster-bootstrap replicates (vectorised) against a plain
   loop that only resamples template ids and recomputes the max-min gap per replicate.

Usage: ``python bench/disparity_query.py [--rows 100000] [--boot 200]``.
"""

from __future__ import annotations

import argparse
import time

import duckdb
import numpy as np
import polars as pl

from srllm.stats import disparity, disparity_table


def synth(rows: int, *, groups: int = 10, models: int = 2, seed: int = 0) -> pl.DataFrame:
    rng = np.random.default_rng(seed)
    templates = max(1, rows // (groups * models))
    n = templates * groups * models
    g = np.tile(np.repeat(np.arange(groups), templates), models)
    p = np.where(g == 0, 0.3, 0.08)
    cat = np.where(rng.random(n) < p, "refusal", "answer")
    return pl.DataFrame(
        {
            "model": np.repeat([f"m{i}" for i in range(models)], templates * groups),
            "group": [f"g{i}" for i in g],
            "template_id": np.tile(np.arange(templates), groups * models).astype(str),
            "category": cat,
        }
    )


def best(fn, repeat: int = 3) -> float:
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return min(times)


def naive_gap_bootstrap(df: pl.DataFrame, n_boot: int, seed: int) -> list[float]:
    out = []
    rng = np.random.default_rng(seed)
    for _, part in df.partition_by("model", as_dict=True).items():
        part = part.with_columns(hit=pl.col("category").is_in(["refusal", "harmful_refusal"]))
        templates = part.get_column("template_id").unique().to_numpy()
        for _ in range(n_boot):
            draw = pl.DataFrame({"template_id": rng.choice(templates, len(templates))})
            rates = draw.join(part, on="template_id").group_by("group").agg(pl.col("hit").mean())
            out.append(float(rates["hit"].max() - rates["hit"].min()))
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=100_000)
    ap.add_argument("--boot", type=int, default=200)
    args = ap.parse_args()
    df = synth(args.rows)
    con = duckdb.connect()
    con.register("scores", df.to_arrow())
    sql = """
        SELECT model, "group", count(*) AS n,
               sum(CASE WHEN category IN ('refusal', 'harmful_refusal') THEN 1 ELSE 0 END) AS k,
               avg(CASE WHEN category IN ('refusal', 'harmful_refusal') THEN 1 ELSE 0 END) AS rate
        FROM scores GROUP BY ALL ORDER BY model, rate DESC
    """
    t_peer = best(lambda: con.execute(sql).fetchall())
    t_ours = best(lambda: disparity_table(df))
    print(f"rows={df.height}")
    print(f"table: disparity_table / duckdb group-by (rates only) = {t_ours / t_peer:.1f}x")

    small = synth(min(args.rows, 20_000))
    boot = args.boot
    t_naive = best(lambda: naive_gap_bootstrap(small, boot, 0), repeat=1)
    t_vec = best(lambda: disparity(small, n_boot=boot))
    print(
        f"bootstrap ({boot} reps, {small.height} rows): plain loop over the gap only / "
        f"whole disparity() with vectorised bootstrap = {t_naive / t_vec:.0f}x"
    )


if __name__ == "__main__":
    main()
