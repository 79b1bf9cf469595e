"""``demo``: build (or resume) the worked example the Overview shows on first open."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def register(sub: argparse._SubParsersAction) -> None:
    """Add the ``demo`` command."""
    p = sub.add_parser(
        "demo",
        help="build the worked example (a short base-vs-tuned audit in its own store)",
        description="Audit base and tuned on the example prompts into a separate store "
        "(default data/demo.duckdb) with a manifest beside it; a rerun resumes.",
    )
    p.add_argument("--db", type=Path, help="store for the example (default: data/demo.duckdb)")
    p.set_defaults(func=cmd_demo)


def cmd_demo(args: argparse.Namespace) -> int:
    """Build the example and print its run id."""
    from srllm.demo import build_demo, demo_db

    def progress(p) -> None:
        print(f"demo: {p.done}/{p.total} {p.model}", file=sys.stderr, flush=True)

    run_id = build_demo(args.db or demo_db(), progress=progress)
    print(run_id)
    return 0
