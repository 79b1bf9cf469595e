"""Command-line entry point.

Every module in this package that defines ``register(subparsers)`` adds one command; the
parser it registers must set ``func`` (``args -> int``) as its default. A user's mistake
(any ``SrllmError``) becomes one line on stderr and exit status 2, never a traceback.
"""

from __future__ import annotations

import argparse
import importlib
import os
import pkgutil
import sys

from srllm.errors import SrllmError


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:
        self.exit(2, f"srllm: error: {message}\n")


def build_parser() -> argparse.ArgumentParser:
    """Collect the commands of every module in ``srllm.cli``."""
    parser = _Parser(prog="python -m srllm", description="Audit chat LLMs for biased refusals.")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    for info in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
        module = importlib.import_module(f"{__name__}.{info.name}")
        register = getattr(module, "register", None)
        if register is not None:
            register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run one command; return its exit status."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_NO_ADVISORY_WARNINGS", "1")
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except SrllmError as exc:
        print(f"srllm: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("srllm: interrupted; finished rows are stored, re-run to resume", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 0
