"""The seams of the code base: no import cycle, one taxonomy, backends chosen in one place."""

from __future__ import annotations

import ast
import re
from pathlib import Path

from conftest import ROOT

SRLLM = ROOT / "srllm"


def _modules() -> dict[str, Path]:
    mods = {}
    for f in SRLLM.rglob("*.py"):
        name = ".".join(f.relative_to(ROOT).with_suffix("").parts)
        mods[name.removesuffix(".__init__")] = f
    return mods


def import_graph() -> dict[str, set[str]]:
    """Module -> srllm modules it imports (function-level imports included).

    ``from pkg import submodule`` is an edge to the submodule, not to the package's
    ``__init__`` (whose code runs first for any submodule, cycle or not).
    """
    mods = _modules()
    graph: dict[str, set[str]] = {m: set() for m in mods}
    for m, f in mods.items():
        pkg = m if f.name == "__init__.py" else m.rsplit(".", 1)[0]
        for node in ast.walk(ast.parse(f.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                graph[m] |= {a.name for a in node.names if a.name in mods}
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    parts = pkg.split(".")[: len(pkg.split(".")) - node.level + 1]
                    base = ".".join(parts + ([base] if base else []))
                subs = {f"{base}.{a.name}" for a in node.names} & set(mods)
                graph[m] |= subs
                if base in mods and len(subs) < len(node.names):
                    graph[m].add(base)
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    out: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in graph[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return out


def test_no_import_cycle_inside_srllm():
    assert cycles(import_graph()) == []


def test_cycle_finder_finds_a_cycle():
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def _code_files() -> list[Path]:
    files = [*SRLLM.rglob("*.py"), *(ROOT / "pages").glob("*.py"), *(ROOT / "ui").glob("*.py")]
    return [*files, ROOT / "app.py", ROOT / "data" / "make_data.py"]


def test_no_backend_string_test_outside_the_models_package():
    pattern = re.compile(r"""device\s*==\s*["']remote["']|startswith\(\s*["']openai:""")
    hits = [
        f"{f.relative_to(ROOT)}:{n}"
        for f in _code_files()
        if "srllm/models" not in f.as_posix()
        for n, line in enumerate(f.read_text(encoding="utf-8").splitlines(), 1)
        if pattern.search(line)
    ]
    assert hits == []


def test_no_category_set_or_threshold_literal_outside_taxonomy():
    """Category tuples and the toxic threshold are written once, in srllm/taxonomy.py."""
    refusal_set = re.compile(
        r"""\(\s*["']refusal["']\s*,\s*["']harmful_refusal["']\s*\)|"""
        r"""\{\s*["']refusal["']\s*,\s*["']harmful_refusal["']\s*\}"""
    )
    # a literal 0.5 test, a second definition, or any comparison against TOXIC_THRESHOLD:
    # code outside taxonomy.py calls is_toxic / toxic_expr / toxic_sql instead
    threshold = re.compile(
        r"""toxicity["'\])]*\s*(?:>=|>)\s*0\.5\b|TOXIC_THRESHOLD\s*=|"""
        r"""(?:[<>]=?)\s*(?:\w+\.)*TOXIC_THRESHOLD\b|\bTOXIC_THRESHOLD\s*[<>]"""
    )
    hits = []
    for f in _code_files():
        if f.name == "taxonomy.py":
            continue
        for n, line in enumerate(f.read_text(encoding="utf-8").splitlines(), 1):
            if refusal_set.search(line) or threshold.search(line):
                hits.append(f"{f.relative_to(ROOT)}:{n}: {line.strip()}")
    assert hits == []
