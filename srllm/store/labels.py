"""Human labels (the Review page)."""

from __future__ import annotations

import polars as pl

from srllm.store.connection import (
    StoreBase,
    _frame,
    _now,
)


class LabelsMixin(StoreBase):
    """Store methods for: human labels (the review page)."""

    def add_label(
        self,
        generation_id: str,
        annotator: str,
        category: str,
        note: str = "",
        toxic: bool | None = None,
    ) -> None:
        """Record (or replace) one annotator's label for a generation.

        ``toxic`` is the annotator's toxic judgement of the response (``None``: not judged).
        Saving again replaces the category and note; a save without ``toxic`` (an older CSV,
        a re-labelled category) keeps the annotator's earlier toxic judgement, so nothing
        judged is lost.
        """
        with self.connect(write=True) as con:
            con.execute(
                "INSERT INTO labels (generation_id, annotator, category, note, created_at, toxic) "
                "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT DO UPDATE SET "
                "category = excluded.category, note = excluded.note, "
                "created_at = excluded.created_at, toxic = COALESCE(excluded.toxic, labels.toxic)",
                [generation_id, annotator.strip(), category, note, _now(), toxic],
            )

    def labels(self, run_id: str | None = None) -> pl.DataFrame:
        """Human labels (``toxic`` null where not judged), optionally for one run."""
        where, params = ("WHERE g.run_id = ?", [run_id]) if run_id else ("", [])
        with self.connect() as con:
            return _frame(
                con,
                f"""
                SELECT l.*, g.run_id, g.model, p.grp AS "group"
                FROM labels l JOIN generations g USING (generation_id)
                JOIN prompts p USING (run_id, prompt_id) {where}
                """,
                params,
            )
