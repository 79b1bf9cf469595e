"""``audit``, ``export``, ``models``, ``score`` and ``runs``: generate, store and get data out."""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
from pathlib import Path

from srllm.config import DEFAULT_DB, RunConfig, add_dataclass_arguments, config_from_args
from srllm.errors import ConfigError, DataError, StoreError


def register(sub: argparse._SubParsersAction) -> None:
    """Add the generation and export commands."""
    p = sub.add_parser("audit", help="generate (and score) responses for a prompt set")
    add_dataclass_arguments(p, RunConfig)  # its fields and those of its GenerationConfig
    p.add_argument("--db", default=str(DEFAULT_DB), help="DuckDB file (default: %(default)s)")
    p.set_defaults(func=cmd_audit)

    e = sub.add_parser("export", help="write generations to CSV or Parquet")
    e.add_argument("--db", default=str(DEFAULT_DB))
    e.add_argument("--run", help="run id or name (default: all runs)")
    e.add_argument("--out", required=True, help="PATH.csv or PATH.parquet")
    e.set_defaults(func=cmd_export)

    m = sub.add_parser("models", help="what can be loaded here and from where")
    m.add_argument(
        "--prepare",
        action="store_true",
        help="convert the embedded model to safetensors now (once; set-up scripts run this) "
        "and print one line instead of the list",
    )
    m.set_defaults(func=cmd_models)

    s = sub.add_parser("score", help="score the stored generations of a run that lack scores")
    s.add_argument("--db", default=str(DEFAULT_DB))
    s.add_argument("--run", required=True, help="run id or name")
    add_dataclass_arguments(s, RunConfig, include=("judge",))
    s.set_defaults(func=cmd_score)

    r = sub.add_parser("runs", help="list the runs in a store")
    r.add_argument("--db", default=str(DEFAULT_DB))
    r.set_defaults(func=cmd_runs)


def cmd_audit(args: argparse.Namespace) -> int:
    """Run or resume an audit with a progress bar; print the run id."""
    from tqdm import tqdm

    from srllm.pipeline import run_audit

    cfg = config_from_args(RunConfig, args)
    bar = tqdm(total=0, unit="gen", file=sys.stderr, disable=None, dynamic_ncols=True)

    def on_progress(p) -> None:
        bar.total = p.total
        bar.set_description(f"{p.model}: {p.stage}")
        bar.n = p.done
        if p.seconds:
            bar.set_postfix(tok_s=f"{p.tokens / p.seconds:.0f}")
        bar.refresh()

    try:
        res = run_audit(cfg, args.db, progress=on_progress)
    finally:
        bar.close()
    verb = "resumed" if res.resumed else "created"
    print(
        f"run {res.run_name} ({verb}): {res.added} new generations, {res.skipped} already "
        f"stored, {res.errors} errors, {res.seconds:.1f}s",
        file=sys.stderr,
    )
    print(res.run_id)
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    """Write one row per generation to CSV or Parquet, atomically."""
    from srllm.store import Store

    out = Path(args.out)
    if out.suffix.lower() not in {".csv", ".parquet"}:
        raise DataError(f"--out must end in .csv or .parquet, not {out.suffix or 'nothing'}")
    store = Store(args.db, read_only=not os.access(args.db, os.W_OK))
    run_id = store.require_run(args.run)["run_id"] if args.run else None
    df = store.scored_frame(run_id) if run_id else store.generations()
    write_table(df, out)
    print(f"wrote {df.height} rows to {out}", file=sys.stderr)
    return 0


def write_table(df, out: Path) -> None:
    """Write CSV or Parquet through a temporary file so nothing is half-written."""
    if out.is_dir():
        raise DataError(f"cannot write {out}: it is a directory")
    existing = next((p for p in out.parents if p.exists()), None)
    if existing is not None and not existing.is_dir():
        raise DataError(f"cannot write {out}: {existing} is a file, not a directory")
    tmp = out.with_name(f".{out.name}.tmp{os.getpid()}")
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        if out.suffix.lower() == ".csv":
            df.write_csv(tmp)
        else:
            df.write_parquet(tmp)
        tmp.replace(out)
    except OSError as exc:
        with contextlib.suppress(OSError):
            tmp.unlink(missing_ok=True)
        reason = exc.strerror or str(exc).split(" (os error")[0]
        raise DataError(f"cannot write {out}: {reason}") from exc


def cmd_models(args: argparse.Namespace) -> int:
    """List loadable models, or with ``--prepare`` convert the embedded one (one line)."""
    if args.prepare:
        return _prepare_embedded()
    from srllm.models import available_models

    rows = available_models()
    width = max(len(r["name"]) for r in rows)
    for r in rows:
        print(f"{r['name']:<{width}}  {r['source']}" + (f"  [{r['note']}]" if r["note"] else ""))
    return 0


def _prepare_embedded() -> int:
    """Dequantize the embedded GGUF into the cache now, silently, and say where it is."""
    from srllm.models.loading import (
        embedded_cache_path,
        ensure_embedded_cached,
        quiet_transformers,
    )

    was_cached = (embedded_cache_path() / "srllm_cache.json").is_file()
    with quiet_transformers():
        target = ensure_embedded_cached()
    print(f"base: {'already converted' if was_cached else 'converted'} in {target}")
    return 0


def cmd_score(args: argparse.Namespace) -> int:
    """Score what is unscored in a run."""
    from srllm.pipeline import score_run
    from srllm.store import Store

    if not Path(args.db).exists():
        raise StoreError(f"no store at {args.db} (run an audit first)")
    store = Store(args.db)
    run = store.require_run(args.run)
    if args.judge:
        from srllm.scoring import use_judge

        use_judge(args.judge)
    n = score_run(store, run["run_id"])
    print(f"scored {n} generations of run {run['run_name']}", file=sys.stderr)
    return 0


def cmd_runs(args: argparse.Namespace) -> int:
    """Print the runs in a store."""
    from srllm.store import Store

    if not Path(args.db).exists():
        raise ConfigError(f"no store at {args.db}")
    df = Store(args.db).list_runs()
    for r in df.iter_rows(named=True):
        print(
            f"{r['run_id']}  {r['run_name']:<28} {r['status']:<11} "
            f"{r['n_generations']:>7} gens  {r['created_at']:%Y-%m-%d %H:%M}"
        )
    return 0
