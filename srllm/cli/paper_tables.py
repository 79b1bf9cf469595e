"""``paper-tables``: the SR_LLM paper's Tables 4-7 for a base/tuned pair, from the store.

Table 4: unsafe % and toxic % (``taxonomy.is_toxic``) per prompt set, Wilson 95% CIs; Table 5: toxic
% per demographic group; Tables 6-7: StereoSet LMS, SS and ICAT overall and per domain. The
paper's own SR_LLM and Llama-2 figures appear as rows labelled ``published``. The audit runs
must have been scored (``python -m srllm score``); StereoSet figures come from
``python -m srllm stereoset --models BASE,TUNED --db PATH``. ``--out report.html`` also writes
the tables as one self-contained HTML file (every text escaped, no scripts).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from srllm.config import DEFAULT_DB, comma_list
from srllm.errors import ConfigError


def register(sub: argparse._SubParsersAction) -> None:
    """Add the ``paper-tables`` command."""
    p = sub.add_parser(
        "paper-tables",
        help="SR_LLM paper tables (unsafe/toxic %%, toxic %% by group, StereoSet) for a pair",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--db", default=str(DEFAULT_DB), help="the DuckDB store")
    p.add_argument("--base", required=True, help="model name of the base model in the store")
    p.add_argument("--tuned", required=True, help="model name of the tuned model in the store")
    p.add_argument("--out", help="also write the tables as a self-contained HTML file")
    p.add_argument(
        "--runs",
        help="comma-separated run ids or names to use (default: per prompt set, the newest run "
        "with both models)",
    )
    p.add_argument(
        "--stereoset-label",
        help="StereoSet run label to use (default: each model's newest evaluation)",
    )
    p.add_argument(
        "--kind",
        help="only prompts of this kind in Tables 4-5 (benign, stereotype, any stored kind; "
        "default: every kind, as the paper reports them)",
    )
    p.add_argument("--json", action="store_true", help="print the numbers as JSON")
    p.set_defaults(func=cmd_paper_tables)


def cmd_paper_tables(args: argparse.Namespace) -> int:
    """Compute the tables and print them (and write the HTML when ``--out``)."""
    from srllm.paper import format_text, paper_tables, summary, to_html

    runs = list(comma_list(args.runs or "")) or None
    if args.base.strip() == "" or args.tuned.strip() == "":
        raise ConfigError("--base and --tuned must name models")
    tables = paper_tables(
        args.db,
        base=args.base.strip(),
        tuned=args.tuned.strip(),
        runs=runs,
        stereoset_label=args.stereoset_label,
        kind=args.kind,
    )
    if args.out:
        out = Path(args.out).expanduser()
        try:
            out.write_text(to_html(tables), encoding="utf-8")
        except OSError as exc:
            raise ConfigError(f"cannot write {out}: {exc.strerror}") from exc
        print(f"wrote {out}", file=sys.stderr)
    if args.json:
        print(json.dumps(summary(tables), indent=1, default=str))
    else:
        print(format_text(tables))
    return 0
