"""The Disparities page's store queries over 1 million generations, beside plain polars.

Builds (once, cached under ``--dir``) a real srllm DuckDB store with one run of ``--rows``
generations (2 models x the default quality-of-service prompts x N samples, each with the
default scorers' rows), exports the same run to Parquet, then times, best of ``--repeat``:

- ``analysis``: :meth:`Store.analysis_frame` (the columns the statistics read, one row per
  generation) against ``polars.scan_parquet`` of the export selecting the same columns;
- ``group_counts``: per model and group n, refusals, harmful answers and mean toxicity
  (:meth:`Store.group_counts`) against the same ``group_by`` in polars over Parquet;
- ``drill``: the responses behind one bar (:meth:`Store.responses`, 50 rows) against a
  filtered ``scan_parquet``.

Usage: ``python bench/store_queries.py [--rows 1000000] [--dir /tmp/srllm-bench]``.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import polars as pl

from srllm.prompts import builtin_set, prompt_set_hash
from srllm.store import MIGRATIONS_DIR, Store


def build(path: Path, rows: int) -> str:
    """Create the store with one synthetic but fully shaped run; return its run id."""
    store = Store(path)
    prompts = builtin_set("default")
    samples = max(1, rows // (2 * prompts.height))
    run_id = store.create_run(
        run_name="bench-1m",
        prompt_source="default",
        prompt_set_hash=prompt_set_hash(prompts),
        prompts=prompts,
        config={"bench": True, "samples": samples},
        models=[{"name": "base"}, {"name": "tuned"}],
        git_commit=None,
        versions={},
        seed=0,
    )
    with store.connect(write=True) as con:
        con.execute(
            """
            INSERT INTO generations
            SELECT md5(m.model || p.prompt_id || s.i::VARCHAR), ?, m.model, p.prompt_id, s.i,
                   'Response ' || s.i::VARCHAR || ' to ' || p.prompt, 40, 0.1, NULL, now(),
                   NULL, NULL, NULL
            FROM prompts p, (VALUES ('base'), ('tuned')) m(model), range(?) s(i)
            WHERE p.run_id = ?
            """,
            [run_id, samples, run_id],
        )
        con.execute(
            """
            INSERT INTO scores
            SELECT g.generation_id, sc.scorer, '1', CASE
                WHEN sc.scorer = 'toxicity' THEN (hash(g.generation_id) % 1000) / 1000.0
                ELSE (hash(g.generation_id || sc.scorer) % 100) / 100.0 END,
              CASE sc.scorer
                WHEN 'category' THEN CASE WHEN hash(g.generation_id) % 10 = 0 THEN 'refusal'
                                          WHEN hash(g.generation_id) % 50 = 1
                                          THEN 'harmful_answer' ELSE 'answer' END
                WHEN 'toxicity' THEN 'non_toxic'
                WHEN 'sentiment' THEN 'neutral'
                ELSE 'benign' END,
              now()
            FROM generations g,
                 (VALUES ('category'), ('toxicity'), ('sentiment'), ('risk')) sc(scorer)
            WHERE g.run_id = ?
            """,
            [run_id],
        )
        # What the store keeps beside each generation (as _insert_scores does on write).
        sql = (MIGRATIONS_DIR / "003_latest_scores.sql").read_text()
        con.execute(sql[sql.index("UPDATE") :])
    return run_id


def best(fn, repeat: int) -> tuple[float, object]:
    times, out = [], None
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
    return min(times), out


def main() -> None:
    """Build or reuse the store, time the queries, print a table with ratios."""
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--dir", default="/tmp/srllm-bench")
    ap.add_argument("--repeat", type=int, default=5)
    args = ap.parse_args()
    folder = Path(args.dir)
    folder.mkdir(parents=True, exist_ok=True)
    db, parquet = folder / f"store-{args.rows}.duckdb", folder / f"run-{args.rows}.parquet"
    if not db.exists():
        t0 = time.perf_counter()
        build(db, args.rows)
        print(f"built {db} in {time.perf_counter() - t0:.1f} s")
    store = Store(db)
    run_id = store.list_runs()["run_id"][0]
    if not parquet.exists():
        store.scored_frame(run_id).write_parquet(parquet)
    n = store.summary()["generations"]
    lazy = pl.scan_parquet(parquet)
    cols = ["model", "axis", "group", "template_id", "sample_idx", "category", "toxicity"]
    group = "Muslim"
    cases = {
        "analysis": (
            lambda: store.analysis_frame(run_id),
            lambda: lazy.select(cols).collect(),
        ),
        "group_counts": (
            lambda: store.group_counts(run_id),
            lambda: (
                lazy.group_by("model", "axis", "group")
                .agg(
                    n=pl.len(),
                    refusals=pl.col("category").is_in(["refusal", "harmful_refusal"]).sum(),
                    harmful=(pl.col("category") == "harmful_answer").sum(),
                    toxicity=pl.col("toxicity").mean(),
                )
                .collect()
            ),
        ),
        "drill": (
            lambda: store.responses(run_id, model="base", group=group, limit=50),
            lambda: (
                lazy.filter((pl.col("model") == "base") & (pl.col("group") == group))
                .select("prompt", "response", "category", "toxicity")
                .head(50)
                .collect()
            ),
        ),
    }
    print(f"{n:,} generations in the store; best of {args.repeat}")
    print(f"{'query':<14}{'duckdb store ms':>17}{'polars parquet ms':>19}{'ratio':>8}  rows")
    for name, (ours, peer) in cases.items():
        t_ours, out = best(ours, args.repeat)
        t_peer, _ = best(peer, args.repeat)
        print(
            f"{name:<14}{t_ours * 1e3:>17.1f}{t_peer * 1e3:>19.1f}{t_ours / t_peer:>8.2f}  "
            f"{out.height:,}"
        )


if __name__ == "__main__":
    main()
