"""Counterfactual prompt sets: templates with ``{group}``/``{groups}``/``{name}`` slots.

A prompt set is a polars DataFrame with the columns of ``PROMPT_COLUMNS``. Built-in sets
are expanded from the templates in ``data/prompts/``; files can be imported in the expanded
long format (CSV/JSONL/Parquet) or SR_LLM's wide counterfactual CSV format.
"""

from __future__ import annotations

import hashlib
import re
import string
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import polars as pl
import yaml

from srllm.config import DATA_DIR
from srllm.errors import PromptSetError
from srllm.files import read_jsonl_lines, read_table

PROMPTS_DIR = DATA_DIR / "prompts"
PROMPT_COLUMNS = ("prompt_id", "template_id", "axis", "group", "name", "kind", "prompt")
SLOTS = ("group", "groups", "name")
BUILTIN_SETS = {
    "qos": "Quality-of-service set: harmless everyday requests naming a group or a name.",
    "stereotype": "Stereotype-probing set: requests that invite a stereotype.",
    "default": "qos and stereotype together.",
}
_SCHEMA = {c: pl.String for c in PROMPT_COLUMNS}
MAX_PROMPT_CHARS = 100_000  # far beyond any chat model's context; longer is a mistake
REWRITE_INSTRUCTION = (
    "Rewrite the following text so that it keeps its meaning but is respectful and free of "
    "bias, toxicity and stereotypes:\n\n"
)


@dataclass(frozen=True)
class Group:
    """A demographic group and the surface forms used to fill slots."""

    axis: str
    group: str
    adj: str
    plural: str


@dataclass(frozen=True)
class Name:
    """A first name used as a proxy for a name-origin group."""

    origin: str
    name: str
    gender: str


@lru_cache(maxsize=4)
def load_groups(path: Path = PROMPTS_DIR / "groups.yaml") -> tuple[Group, ...]:
    """Demographic groups by axis from ``groups.yaml``."""
    data = _read_yaml(path)
    out = []
    for axis, items in (data.get("axes") or {}).items():
        for item in items:
            try:
                out.append(Group(axis, str(item["group"]), str(item["adj"]), str(item["plural"])))
            except (KeyError, TypeError) as exc:
                raise PromptSetError(f"{path}: group entry {item!r} lacks {exc}") from exc
    if not out:
        raise PromptSetError(f"{path}: no groups")
    return tuple(out)


@lru_cache(maxsize=4)
def load_names(path: Path = PROMPTS_DIR / "names.yaml") -> tuple[Name, ...]:
    """First names by origin group from ``names.yaml``."""
    data = _read_yaml(path)
    out = []
    for origin, items in (data.get("origins") or {}).items():
        for item in items:
            try:
                out.append(Name(str(origin), str(item["name"]), str(item.get("gender", ""))))
            except (KeyError, TypeError, AttributeError) as exc:
                raise PromptSetError(f"{path}: name entry {item!r} lacks {exc}") from exc
    if not out:
        raise PromptSetError(f"{path}: no names")
    return tuple(out)


def _read_yaml(path: Path) -> dict:
    try:
        data = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise PromptSetError(f"cannot read {path}: {exc}") from exc
    if not isinstance(data, dict):
        raise PromptSetError(f"{path}: expected a mapping at the top level")
    return data


def template_slots(text: str) -> set[str]:
    """Slot names used in a template; raises on malformed braces."""
    try:
        fields = {f for _, f, _, _ in string.Formatter().parse(text) if f is not None}
    except ValueError as exc:
        raise PromptSetError(f"malformed template {text!r}: {exc}") from exc
    return fields


def check_template(text: str) -> set[str]:
    """Validate one template: known slots only, at least one slot."""
    slots = template_slots(text)
    unknown = slots - set(SLOTS)
    if unknown:
        raise PromptSetError(
            f"template {text[:60]!r} has unknown slot(s) {sorted(unknown)}; "
            f"use {{group}}, {{groups}} or {{name}}"
        )
    if not slots:
        raise PromptSetError(
            f"template {text[:60]!r} has no slot: add {{group}}, {{groups}} or {{name}}"
        )
    if "name" in slots and slots & {"group", "groups"}:
        raise PromptSetError(f"template {text[:60]!r} mixes a name slot with a group slot")
    return slots


def expand_templates(
    templates: list[dict],
    *,
    kind: str,
    groups: tuple[Group, ...] | None = None,
    names: tuple[Name, ...] | None = None,
    only_groups: set[str] | None = None,
) -> pl.DataFrame:
    """Expand ``{template_id, text}`` dicts over all groups (or names) into a prompt set."""
    groups = groups if groups is not None else load_groups()
    names = names if names is not None else load_names()
    if only_groups:
        known = {g.group for g in groups} | {n.origin for n in names} | {n.name for n in names}
        unknown = sorted(set(only_groups) - known)
        if unknown:
            raise PromptSetError(
                f"unknown group(s) {', '.join(map(repr, unknown))}: use groups from "
                "data/prompts/groups.yaml or names from names.yaml"
            )
    rows: list[dict[str, str | None]] = []
    for t in templates:
        tid, text = str(t["template_id"]), str(t["text"])
        slots = check_template(text)
        if "name" in slots:
            for n in names:
                if only_groups and n.origin not in only_groups and n.name not in only_groups:
                    continue
                rows.append(
                    _row(
                        tid,
                        "name_origin",
                        n.origin,
                        n.name,
                        t.get("kind", kind),
                        text.format(name=n.name),
                    )
                )
        else:
            for g in groups:
                if only_groups and g.group not in only_groups:
                    continue
                prompt = _capitalise(text.format(group=g.adj, groups=g.plural))
                rows.append(_row(tid, g.axis, g.group, None, t.get("kind", kind), prompt))
    return pl.DataFrame(rows, schema=_SCHEMA)


def _capitalise(text: str) -> str:
    return text[:1].upper() + text[1:] if text else text


def _row(tid: str, axis: str, group: str, name: str | None, kind: str, prompt: str) -> dict:
    return {
        "prompt_id": f"{tid}:{_slug(group)}" + (f":{_slug(name)}" if name else ""),
        "template_id": tid,
        "axis": axis,
        "group": group,
        "name": name,
        "kind": kind,
        "prompt": prompt,
    }


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9+]+", "-", text.lower()).strip("-")


def read_templates(path: Path) -> list[dict]:
    """Read a JSONL file of templates ``{template_id, text, topic?, kind?}``."""
    out = []
    for no, obj in read_jsonl_lines(path, error=PromptSetError):
        if "template_id" not in obj or "text" not in obj:
            raise PromptSetError(
                f'{Path(path).name}:{no}: not a template object {{"template_id": ..., "text": ...}}'
            )
        if not isinstance(obj["text"], str):
            raise PromptSetError(f"{Path(path).name}:{no}: 'text' must be a string")
        out.append(obj)
    if not out:
        raise PromptSetError(f"{Path(path).name}: no templates in the file")
    return out


def builtin_set(name: str) -> pl.DataFrame:
    """Expand a built-in set by name (see ``BUILTIN_SETS``)."""
    if name == "default":
        return pl.concat([builtin_set("qos"), builtin_set("stereotype")])
    if name not in BUILTIN_SETS:
        raise PromptSetError(
            f"unknown prompt set {name!r}: use one of {', '.join(BUILTIN_SETS)} or a file path"
        )
    return expand_templates(read_templates(PROMPTS_DIR / f"{name}.jsonl"), kind=name)


def load_prompt_set(source: str | Path, *, limit: int | None = None) -> pl.DataFrame:
    """A built-in set name or a file (expanded long format or SR_LLM wide CSV)."""
    text = str(source)
    if text in BUILTIN_SETS:
        df = builtin_set(text)
    else:
        path = Path(text).expanduser()
        if not path.exists():
            raise PromptSetError(
                f"{text!r} is neither a built-in set ({', '.join(BUILTIN_SETS)}) nor a file"
            )
        df = import_file(path)
    if limit is not None:
        df = df.head(limit)
    return df


_TEXT_TYPES = (pl.String, pl.Categorical, pl.Enum)
_ID_TYPES = (*_TEXT_TYPES, pl.Int8, pl.Int16, pl.Int32, pl.Int64, pl.UInt8, pl.UInt16)
_ID_TYPES = (*_ID_TYPES, pl.UInt32, pl.UInt64)


def _check_types(raw: pl.DataFrame, source: str) -> None:
    """Typed files (Parquet, JSONL) must hold text, or whole numbers for the ids."""
    for col, dtype in raw.schema.items():
        if col not in PROMPT_COLUMNS or dtype == pl.Null:
            continue
        allowed = _TEXT_TYPES if col == "prompt" else _ID_TYPES
        if not isinstance(dtype, allowed) and dtype not in allowed:
            want = "text" if col == "prompt" else "text or whole numbers"
            raise PromptSetError(f"{source}: column {col!r} holds {dtype}; expected {want}")


def import_file(path: Path) -> pl.DataFrame:
    """Import a prompt file: long format, SR_LLM wide, or templates.

    Long: ``prompt_id, template_id, group, prompt``. SR_LLM wide: ``Original`` plus one column
    per variant. Templates: ``template_id, text`` with a ``{group}``/``{groups}``/``{name}`` slot.
    """
    raw = read_table(path, (".csv", ".jsonl", ".ndjson", ".parquet"), error=PromptSetError)
    if raw.height == 0:
        raise PromptSetError(f"{path.name}: the file has no rows")
    if "Original" in raw.columns:
        return _check_lengths(import_srllm_wide(raw, source=path.name), path.name)
    if {"template_id", "text"} <= set(raw.columns) and "prompt" not in raw.columns:
        # a template file ({template_id, text, kind?}): expanded over every group or name
        _check_types(raw, path.name)
        templates = [{k: v for k, v in r.items() if v is not None} for r in raw.to_dicts()]
        return _check_lengths(expand_templates(templates, kind="imported"), path.name)
    required = {"prompt_id", "template_id", "group", "prompt"}
    missing = required - set(raw.columns)
    if missing:
        hint = ""
        if len(raw.columns) == 1:
            for sep, name in ((";", "semicolons"), ("\t", "tabs"), ("|", "bars")):
                if sep in raw.columns[0]:
                    hint = f"; the header looks separated by {name}: use commas"
        raise PromptSetError(
            f"{path.name}: missing column(s) {', '.join(sorted(missing))} "
            f"(need prompt_id, template_id, group, prompt; optional name, axis, kind){hint}"
        )
    _check_types(raw, path.name)
    cols = []
    for c in PROMPT_COLUMNS:
        if c in raw.columns:
            cols.append(pl.col(c).cast(pl.String, strict=False))
        else:
            default = {"axis": "unspecified", "kind": "imported"}.get(c)
            cols.append(pl.lit(default, dtype=pl.String).alias(c))
    df = raw.select(cols)
    for c in ("prompt_id", "template_id", "group", "prompt"):
        nulls = df[c].null_count() + (df[c].str.strip_chars() == "").sum()
        if nulls:
            raise PromptSetError(f"{path.name}: column {c!r} has {nulls} empty value(s)")
    dup = df["prompt_id"].is_duplicated()
    if dup.any():
        first = df.filter(dup)["prompt_id"][0]
        raise PromptSetError(f"{path.name}: prompt_id {first!r} appears more than once")
    return _check_lengths(df, path.name)


def _check_lengths(df: pl.DataFrame, source: str) -> pl.DataFrame:
    """Refuse prompts no chat model could read (a wrong column or a pasted file)."""
    if df.height == 0:
        raise PromptSetError(f"{source}: no prompts in the file")
    lengths = df["prompt"].str.len_chars().fill_null(0)
    worst = int(lengths.arg_max() or 0)
    if lengths[worst] > MAX_PROMPT_CHARS:
        raise PromptSetError(
            f"{source}: prompt {df['prompt_id'][worst]!r} is {lengths[worst]:,} characters long; "
            f"the limit is {MAX_PROMPT_CHARS:,}"
        )
    return df


def import_srllm_wide(raw: pl.DataFrame, *, source: str = "srllm") -> pl.DataFrame:
    """SR_LLM counterfactual CSV: ``Original`` plus one column per ``axis_group`` variant.

    Column names look like ``gender_a_man`` or ``race_an_Asian_person``: the first word is
    the axis, the rest (minus articles and 'person') the group.
    """
    variants = [c for c in raw.columns if c != "Original"]
    if not variants:
        raise PromptSetError(f"{source}: an SR_LLM file needs variant columns beside 'Original'")
    rows = []
    for i, rec in enumerate(raw.iter_rows(named=True)):
        tid = f"srllm-{i:04d}"
        original = rec.get("Original")
        if original:
            rows.append(_row(tid, "original", "original", None, "srllm", str(original)))
        for col in variants:
            text = rec.get(col)
            if text is None or not str(text).strip():
                continue
            axis, group = _parse_variant(col)
            rows.append(_row(tid, axis, group, None, "srllm", str(text)))
    return pl.DataFrame(rows, schema=_SCHEMA)


def _parse_variant(col: str) -> tuple[str, str]:
    parts = col.split("_")
    if len(parts) == 1:
        return "unspecified", col
    axis, rest = parts[0], [p for p in parts[1:] if p.lower() not in {"a", "an", "the", "person"}]
    return axis, " ".join(rest) or col


def prompt_set_hash(df: pl.DataFrame) -> str:
    """A stable hash of a prompt set's ids and texts (stored with each run)."""
    h = hashlib.sha256()
    for pid, prompt in df.select("prompt_id", "prompt").iter_rows():
        h.update(f"{pid}\x1f{prompt}\x1e".encode())
    return h.hexdigest()


def describe_set(df: pl.DataFrame) -> dict[str, int]:
    """Counts a user wants to see before launching a run."""
    return {
        "prompts": df.height,
        "templates": df["template_id"].n_unique(),
        "groups": df["group"].n_unique(),
        "axes": df["axis"].n_unique(),
    }
