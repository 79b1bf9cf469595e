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


# metric names that are also category names: ``metric == "refusal"`` names a metric, so a
# comparison with one of these is a leak only where the other side is a category column
_METRIC_NAMES = {"refusal", "harmful", "toxicity"}
_THRESHOLD = re.compile(
    # a second definition of the threshold, or any comparison against it: code outside
    # taxonomy.py calls is_toxic / toxic_expr / toxic_sql instead
    r"""TOXIC_THRESHOLD\s*=|(?:[<>]=?)\s*(?:\w+\.)*TOXIC_THRESHOLD\b|\bTOXIC_THRESHOLD\s*[<>]"""
)
# Known leaks that a later change must remove (none now).
_PENDING: set[tuple[str, str]] = set()


def taxonomy_leaks(source: str) -> list[tuple[int, str]]:
    """Lines of ``source`` that write a taxonomy set or the toxic rule again.

    - a list, tuple or set literal holding every refusal category or every harmful one
      (``["refusal", "harmful_refusal"]``): use ``REFUSALS`` / ``HARMFUL``;
    - a comparison with a refusal or harmful category name (``category == "harmful_answer"``);
    - a comparison of something toxic with 0.5, or any definition of or comparison with
      ``TOXIC_THRESHOLD``: use ``is_toxic`` / ``toxic_expr`` / ``toxic_sql``.
    """
    from srllm.taxonomy import HARMFUL, REFUSALS, TOXIC_THRESHOLD

    named = set(REFUSALS) | set(HARMFUL)
    hits = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.List | ast.Tuple | ast.Set):
            strings = {e.value for e in node.elts if isinstance(e, ast.Constant)}
            if set(REFUSALS) <= strings or set(HARMFUL) <= strings:
                hits.append((node.lineno, ast.unparse(node)))
        elif isinstance(node, ast.Compare):
            sides = [node.left, *node.comparators]
            text = ast.unparse(node)
            for i, side in enumerate(sides):
                if not isinstance(side, ast.Constant):
                    continue
                others = " ".join(ast.unparse(o) for j, o in enumerate(sides) if j != i)
                if side.value in named and (
                    side.value not in _METRIC_NAMES or "category" in others
                ):
                    hits.append((node.lineno, text))
                elif side.value == TOXIC_THRESHOLD and "toxic" in others:
                    hits.append((node.lineno, text))
    for n, line in enumerate(source.splitlines(), 1):
        if _THRESHOLD.search(line):
            hits.append((n, line.strip()))
    return sorted(set(hits))


OLD_EVALUATION = """
harmless = d.filter(pl.col("kind") != "stereotype")
if inviting.height:
    out["harmful_answer_rate"] = _rate(inviting["category"] == "harmful_answer")
out["refusal_rate_harmless"] = _rate(
    harmless["category"].is_in(["refusal", "harmful_refusal"])
)
refused = {"harmful_refusal", "refusal"}
human = data["human_toxic"].cast(pl.Float64) >= 0.5
toxic = df["toxicity"] > 0.5
"""


def test_the_leak_finder_flags_what_the_old_evaluation_and_correction_wrote():
    assert [n for n, _ in taxonomy_leaks(OLD_EVALUATION)] == [4, 6, 8, 9, 10]
    fixed = """
if metric == "refusal":
    ok = category.is_in(REFUSALS) & (c in HARMFUL) & (kind == "stereotype")
metrics = ["refusal", "harmful", "toxicity"]
human = data["human_toxic"].map_elements(is_toxic)
keep = p >= 0.5
"""
    assert taxonomy_leaks(fixed) == []


def test_no_category_set_or_threshold_literal_outside_taxonomy():
    """Category sets and the toxic rule are written once, in srllm/taxonomy.py."""
    hits = []
    for f in _code_files():
        if f.name == "taxonomy.py":
            continue
        rel = f.relative_to(ROOT).as_posix()
        for n, text in taxonomy_leaks(f.read_text(encoding="utf-8")):
            if (rel, text) not in _PENDING:
                hits.append(f"{rel}:{n}: {text}")
    assert hits == []
