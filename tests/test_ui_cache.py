"""ui/cache.py: a write to the store makes the next read fresh (the stamp is hashed)."""

from __future__ import annotations

from conftest import make_scored_store


def test_runs_read_is_fresh_after_a_write(tmp_path):
    from ui import cache

    db = str(tmp_path / "s.duckdb")
    make_scored_store(db)
    first = cache.runs(db, cache.store_stamp(db))
    assert first.height == 1
    import duckdb

    con = duckdb.connect(db)
    con.execute("UPDATE runs SET run_name = 'first'")  # the builder names every run 'demo'
    con.close()
    make_scored_store(db)  # a second run written by "another process"
    second = cache.runs(db, cache.store_stamp(db))
    assert second.height == 2  # within the 5 s ttl: only a hashed stamp makes this fresh


def test_drill_down_responses_are_fresh_after_a_write(tmp_path):
    import duckdb

    from srllm.store import Store
    from ui import cache

    db = str(tmp_path / "s.duckdb")
    make_scored_store(db)
    run_id = Store(db).list_runs()["run_id"][0]
    first = cache.responses(db, run_id, "base", "Muslim", None, cache.store_stamp(db))
    assert first.height > 0 and "rewritten" not in first["response"].to_list()
    con = duckdb.connect(db)
    con.execute("UPDATE generations SET response = 'rewritten'")  # "another process" writes
    con.close()
    second = cache.responses(db, run_id, "base", "Muslim", None, cache.store_stamp(db))
    assert set(second["response"].to_list()) == {"rewritten"}  # within the 10 s ttl
