"""Reads for analysis: the narrow analysis frame, scored frames, drill-downs, counts."""

from __future__ import annotations

from collections.abc import Sequence

import polars as pl

from srllm.store.connection import (
    StoreBase,
    _frame,
)
from srllm.taxonomy import REFUSALS, category_in_sql, toxic_sql


class ReadsMixin(StoreBase):
    """Store methods for: reads for analysis."""

    def scored_frame(self, run_id: str) -> pl.DataFrame:
        """Generations with their latest scores as columns (what the statistics read)."""
        with self.connect() as con:
            return _frame(
                con,
                """
                WITH s AS (
                    SELECT generation_id, scorer, value, label,
                           row_number() OVER (PARTITION BY generation_id, scorer
                                              ORDER BY created_at DESC) AS rn
                    FROM scores
                    WHERE generation_id IN (SELECT generation_id FROM generations
                                            WHERE run_id = ?)
                )
                SELECT g.run_id, g.model, g.prompt_id, p.template_id, p.axis,
                       p.grp AS "group", p.name, p.kind, g.sample_idx, p.prompt, g.response,
                       g.error, g.generation_id,
                       max(CASE WHEN s.scorer = 'category' THEN s.label END) AS category,
                       max(CASE WHEN s.scorer = 'category' THEN s.value END) AS refusal_prob,
                       max(CASE WHEN s.scorer = 'toxicity' THEN s.value END) AS toxicity,
                       max(CASE WHEN s.scorer = 'sentiment' THEN s.value END) AS sentiment,
                       max(CASE WHEN s.scorer = 'risk' THEN s.label END) AS risk,
                       max(CASE WHEN s.scorer = 'judge' THEN s.label END) AS judge_category
                FROM generations g
                JOIN prompts p USING (run_id, prompt_id)
                LEFT JOIN s ON s.generation_id = g.generation_id AND s.rn = 1
                WHERE g.run_id = ?
                GROUP BY ALL
                ORDER BY g.model, g.prompt_id, g.sample_idx
                """,
                [run_id, run_id],
            )

    def analysis_frame(self, run_id: str, models: Sequence[str] | None = None) -> pl.DataFrame:
        """The narrow frame the statistics read: one row per generation, no text.

        Columns: model, prompt_id, template_id, axis, group, name, sample_idx, category,
        refusal_prob, toxicity, error, kind, generation_id. Reads the latest scores kept
        on each generation; the prompt columns are joined on an integer key after the query
        (about 1e6 rows in 0.1 s: ``bench/store_queries.py``).
        """
        where, params = "WHERE g.run_id = ?", [run_id]
        if models:
            where += " AND g.model IN (SELECT unnest(?))"
            params.append(list(models))
        with self.connect() as con:
            gens = _frame(
                con,
                f"""
                SELECT g.model, p.rowid AS _p, g.sample_idx, g.category, g.refusal_prob,
                       g.toxicity, g.error, g.generation_id
                FROM generations g JOIN prompts p USING (run_id, prompt_id)
                {where}
                """,
                params,
            )
            prompts = _frame(
                con,
                'SELECT rowid AS _p, prompt_id, template_id, axis, grp AS "group", name, kind '
                "FROM prompts WHERE run_id = ?",
                [run_id],
            )
        cols = ["model", "prompt_id", "template_id", "axis", "group", "name", "sample_idx"]
        rest = ["category", "refusal_prob", "toxicity", "error", "kind", "generation_id"]
        return gens.join(prompts, on="_p", how="left").select(*cols, *rest)

    def group_counts(self, run_id: str) -> pl.DataFrame:
        """Per model, axis and group: n, refusals, harmful answers, mean toxicity, errors."""
        with self.connect() as con:
            return _frame(
                con,
                f"""
                SELECT g.model, p.axis, p.grp AS "group", count(*) AS n,
                       count(*) FILTER (WHERE {category_in_sql("g.category", REFUSALS)})
                           AS refusals,
                       count(*) FILTER (WHERE g.category = 'harmful_answer') AS harmful,
                       avg(g.toxicity) AS toxicity,
                       count(*) FILTER (WHERE g.error IS NOT NULL) AS errors
                FROM generations g JOIN prompts p USING (run_id, prompt_id)
                WHERE g.run_id = ?
                GROUP BY ALL ORDER BY ALL
                """,
                [run_id],
            )

    def responses(
        self,
        run_id: str,
        *,
        model: str | None = None,
        group: str | None = None,
        template_id: str | None = None,
        category: str | None = None,
        limit: int = 200,
    ) -> pl.DataFrame:
        """The responses behind one bar or cell (drill-down), newest scores included."""
        where, params = ["g.run_id = ?"], [run_id]
        for col, value in (
            ("g.model", model),
            ("p.grp", group),
            ("p.template_id", template_id),
            ("g.category", category),
        ):
            if value is not None:
                where.append(f"{col} = ?")
                params.append(value)
        params.append(int(limit))
        with self.connect() as con:
            return _frame(
                con,
                f"""
                SELECT g.model, p.grp AS "group", p.template_id, g.prompt_id, g.sample_idx,
                       g.category, g.refusal_prob, g.toxicity, p.prompt, g.response, g.error,
                       g.generation_id
                FROM generations g JOIN prompts p USING (run_id, prompt_id)
                WHERE {" AND ".join(where)}
                ORDER BY p.template_id, g.prompt_id, g.sample_idx
                LIMIT ?
                """,
                params,
            )

    # -- human labels --------------------------------------------------------------------
    def outcome_counts(
        self, models: Sequence[str], kinds: Sequence[str] | None = None
    ) -> pl.DataFrame:
        """Per run, model and group: generations with a risk label / unsafe, scored / toxic.

        Counts the latest score of each scorer per generation, error-free generations only.
        Columns: ``run_id, run_name, prompt_source, created_at, status, model, group,
        n_risk, n_unsafe, n_tox, n_toxic`` (toxic: :func:`srllm.taxonomy.toxic_sql`).
        ``kinds``: only prompts of these kinds (``taxonomy.kind_values``).
        """
        if not models:
            return pl.DataFrame()
        marks = ", ".join("?" for _ in models)
        sql = f"""
            WITH g AS (
                SELECT generation_id, run_id, model, prompt_id FROM generations
                WHERE model IN ({marks}) AND error IS NULL
            ),
            s AS (
                SELECT generation_id, scorer, value, label,
                       row_number() OVER (PARTITION BY generation_id, scorer
                                          ORDER BY created_at DESC) AS rn
                FROM scores
                WHERE scorer IN ('risk', 'toxicity')
                  AND generation_id IN (SELECT generation_id FROM g)
            )
            SELECT g.run_id, r.run_name, r.prompt_source, r.created_at, r.status, g.model,
                   p.grp AS "group",
                   count(rk.label) AS n_risk,
                   count(*) FILTER (WHERE rk.label = 'unsafe') AS n_unsafe,
                   count(tx.value) AS n_tox,
                   count(*) FILTER (WHERE {toxic_sql("tx.value")}) AS n_toxic
            FROM g
            JOIN runs r USING (run_id)
            JOIN prompts p USING (run_id, prompt_id)
            LEFT JOIN s rk ON rk.generation_id = g.generation_id AND rk.scorer = 'risk'
                          AND rk.rn = 1
            LEFT JOIN s tx ON tx.generation_id = g.generation_id AND tx.scorer = 'toxicity'
                          AND tx.rn = 1
            {"" if kinds is None else "WHERE p.kind IN (SELECT unnest(?))"}
            GROUP BY ALL
            ORDER BY r.created_at, g.run_id, g.model, "group"
        """
        with self.connect() as con:
            return _frame(con, sql, [*models, *([list(kinds)] if kinds is not None else [])])

    def prompt_kinds(self, models: Sequence[str]) -> list[str]:
        """The prompt kinds these models answered without error, sorted."""
        if not models:
            return []
        marks = ", ".join("?" for _ in models)
        with self.connect() as con:
            rows = con.execute(
                "SELECT DISTINCT p.kind FROM generations g JOIN prompts p USING (run_id, prompt_id)"
                f" WHERE g.model IN ({marks}) AND g.error IS NULL AND p.kind IS NOT NULL"
                " ORDER BY 1",
                list(models),
            ).fetchall()
        return [r[0] for r in rows]

    def model_names(self) -> list[str]:
        """Every model name with generations or StereoSet results, sorted."""
        with self.connect() as con:
            rows = con.execute(
                "SELECT model FROM generations UNION SELECT model FROM stereoset_results "
                "ORDER BY model"
            ).fetchall()
        return [r[0] for r in rows]
