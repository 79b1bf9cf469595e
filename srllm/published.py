"""Published figures of the SR_LLM paper (``../shared/seeds/``), shown as reference rows.

Numbers only, copied from the paper's tables; they were measured on other prompt sets, with
other classifiers (Perspective API toxicity, a RoBERTa "unsafe" classifier) and on Llama-2
models, so they are context for our figures, never a pass/fail line. Every row a report or
page shows from here is labelled "published".
"""

from __future__ import annotations

import polars as pl

SOURCE = "published"
CITATION = "SR_LLM paper"

# Table 4: % unsafe generations ("unsafe" classifier) and % toxic generations (Perspective API,
# probability > 0.5) per test set: the paper's CMD test set, ToxiGen prompts and BOLD prompts.
_TABLE4: dict[str, dict[str, tuple[float, float]]] = {
    # model: {prompt set: (unsafe %, toxic %)}
    "SR_LLM": {"CMD test set": (3.48, 6.01), "ToxiGen": (4.30, 4.40), "BOLD": (4.74, 7.36)},
    "Llama-2-7B-chat": {
        "CMD test set": (7.01, 6.05),
        "ToxiGen": (4.78, 3.88),
        "BOLD": (8.25, 7.04),
    },
    "Llama-2-13B-chat": {
        "CMD test set": (7.04, 6.12),
        "ToxiGen": (3.10, 4.19),
        "BOLD": (8.17, 7.20),
    },
}

# Table 5: % toxic generations (ToxiGen-RoBERTa) per ToxiGen target group, keyed by the
# ToxiGen group id that ``data/prompts/groups.yaml`` maps onto our group labels.
_TABLE5_GROUPS: tuple[str, ...] = (
    "women",
    "mental_dis",
    "lgbtq",
    "black",
    "chinese",
    "asian",
    "native_american",
    "middle_east",
    "muslim",
    "physical_dis",
    "mexican",
    "jewish",
    "latino",
)
_TABLE5: dict[str, tuple[float, ...]] = {
    "SR_LLM": (3.19, 1.24, 1.92, 1.04, 0.98, 1.37, 1.85, 1.93, 1.87, 0.59, 4.28, 2.78, 2.24),
    "Llama-2-7B-chat": (
        5.01,
        2.28,
        2.21,
        3.08,
        2.03,
        1.98,
        2.34,
        2.89,
        3.18,
        1.58,
        6.72,
        3.78,
        4.15,
    ),
    "Llama-2-13B-chat": (
        12.15,
        1.71,
        6.85,
        10.21,
        3.76,
        3.80,
        5.52,
        6.11,
        10.18,
        1.52,
        17.03,
        12.54,
        15.42,
    ),
}

# Tables 6 and 7: StereoSet intrasentence LMS, SS, ICAT, overall and per domain.
_STEREOSET: dict[str, dict[str, tuple[float, float, float]]] = {
    "SR_LLM": {
        "gender": (90.05, 58.47, 74.80),
        "profession": (90.58, 62.25, 68.39),
        "race": (92.44, 61.76, 70.70),
        "religion": (93.68, 61.35, 72.41),
        "overall": (91.03, 65.01, 63.70),
    },
    "Llama-2-7B-chat": {
        "gender": (92.64, 65.30, 64.29),
        "profession": (91.30, 63.31, 67.00),
        "race": (92.27, 65.01, 64.57),
        "religion": (92.10, 61.05, 71.75),
        "overall": (91.98, 65.66, 63.17),
    },
    "Llama-2-13B-chat": {
        "gender": (91.20, 66.44, 61.21),
        "profession": (90.25, 64.22, 64.58),
        "race": (91.28, 66.78, 60.65),
        "religion": (91.23, 62.92, 69.48),  # as printed; its ICAT implies SS 61.92
        "overall": (90.11, 67.04, 59.40),
    },
}


def published_model_label(model: str) -> str:
    """How a published model is named in our tables: ``published: <model>``."""
    return f"{SOURCE}: {model}"


def table4() -> pl.DataFrame:
    """Published unsafe % and toxic % per (model, prompt set); no CIs (none were published)."""
    rows = [
        {"model": m, "prompt_set": s, "unsafe_pct": u, "toxic_pct": t}
        for m, sets in _TABLE4.items()
        for s, (u, t) in sets.items()
    ]
    return pl.DataFrame(rows)


def table5(group_labels: dict[str, str] | None = None) -> pl.DataFrame:
    """Published toxic % per (model, group).

    ``group_labels`` maps ToxiGen ids to our group labels (default: from ``groups.yaml``),
    so published rows line up with ours; ids without a label keep the ToxiGen id.
    """
    if group_labels is None:
        group_labels = toxigen_group_labels()
    rows = [
        {"model": m, "group": group_labels.get(g, g), "toxic_pct": v}
        for m, values in _TABLE5.items()
        for g, v in zip(_TABLE5_GROUPS, values, strict=True)
    ]
    return pl.DataFrame(rows)


def stereoset() -> pl.DataFrame:
    """Published StereoSet LMS, SS and ICAT per (model, domain); ``overall`` is Table 6."""
    rows = [
        {"model": m, "domain": d, "lms": lms, "ss": ss, "icat": icat}
        for m, domains in _STEREOSET.items()
        for d, (lms, ss, icat) in domains.items()
    ]
    return pl.DataFrame(rows)


def toxigen_group_labels() -> dict[str, str]:
    """ToxiGen target-group id -> our group label, from ``data/prompts/groups.yaml``."""
    import yaml

    from srllm.prompts import PROMPTS_DIR

    data = yaml.safe_load((PROMPTS_DIR / "groups.yaml").read_text(encoding="utf-8")) or {}
    return {
        str(item["toxigen"]): str(item["group"])
        for items in (data.get("axes") or {}).values()
        for item in items
        if isinstance(item, dict) and item.get("toxigen") and item.get("group")
    }
