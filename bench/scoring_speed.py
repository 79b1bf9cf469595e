"""Responses per second for classification + toxicity, with peers measured in the same run.

Peers: the XSTest string-match baseline (what a regex costs) and the full all-MiniLM-L6-v2
transformer at 128 tokens on a sample (what sentence embeddings would cost per response).

    .venv/bin/python bench/scoring_speed.py [--n 1000] [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from srllm.config import SHARED_DATA
from srllm.errors import DataError


def _rate(fn, n: int, repeat: int = 3) -> float:
    best = float("inf")
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t)
    return n / best


def transformer_rate(texts: list[str], max_length: int = 128) -> float:
    """Responses/s of the full MiniLM transformer (mean pooling), batch 32, 128 tokens."""
    import torch
    from transformers import AutoModel, AutoTokenizer

    from srllm.scoring.embed import model_dir

    tok = AutoTokenizer.from_pretrained(str(model_dir()))
    model = AutoModel.from_pretrained(str(model_dir())).eval()

    def run() -> None:
        with torch.inference_mode():
            for s in range(0, len(texts), 32):
                enc = tok(
                    texts[s : s + 32],
                    truncation=True,
                    max_length=max_length,
                    padding=True,
                    return_tensors="pt",
                )
                h = model(**enc).last_hidden_state
                m = enc["attention_mask"].unsqueeze(-1)
                _ = (h * m).sum(1) / m.sum(1)

    run()  # warm-up
    return _rate(run, len(texts), repeat=1)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=1000, help="XSTest completions to score")
    parser.add_argument("--transformer-n", type=int, default=64, help="sample for the peer")
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--data", default=str(SHARED_DATA))
    args = parser.parse_args(argv)
    try:
        from srllm.scoring.data import load_xstest

        xs = load_xstest(args.data).head(args.n)
    except DataError as exc:
        print(f"skipped: {exc}", file=sys.stderr)
        return 0
    import torch

    from srllm.scoring import score_responses
    from srllm.scoring.baseline import string_match_labels
    from srllm.scoring.embed import get_encoder
    from srllm.scoring.registry import builtin_toxicity, response_classifier

    torch.set_num_threads(min(2, os.cpu_count() or 1))
    prompts = xs["prompt"].to_list()
    texts = xs["completion"].to_list()
    n = len(texts)
    score_responses(prompts[:8], texts[:8], ["category", "toxicity"])  # load weights once
    get_encoder(), response_classifier(), builtin_toxicity()

    ours = _rate(lambda: score_responses(prompts, texts, ["category", "toxicity"]), n)
    full = _rate(lambda: score_responses(prompts, texts), n, repeat=1)
    embed = _rate(lambda: get_encoder().encode(texts), n)
    strmatch = _rate(lambda: string_match_labels(texts), n)
    sample = texts[: args.transformer_n]
    tr = transformer_rate(sample)
    res = {
        "n": n,
        "cpu_threads": torch.get_num_threads(),
        "classification_toxicity_per_s": round(ours, 1),
        "all_default_scorers_per_s": round(full, 1),
        "word_piece_vectors_per_s": round(embed, 1),
        "string_match_per_s": round(strmatch, 1),
        "transformer_128_tokens_per_s": round(tr, 1),
        "ratio_vs_transformer_embedding": round(ours / tr, 2),
        "ratio_vs_string_match": round(ours / strmatch, 4),
        "load_avg_1min": round(os.getloadavg()[0], 2),
    }
    if args.json:
        print(json.dumps(res, indent=2))
        return 0
    print(
        f"{n} XSTest completions, {res['cpu_threads']} torch threads, "
        f"load average {res['load_avg_1min']}"
    )
    print(f"  category + toxicity (ours)        {ours:10.1f} responses/s")
    print(f"  all default scorers (+VADER, risk) {full:9.1f} responses/s")
    print(f"  peer: word-piece vectors alone     {embed:9.1f} responses/s")
    print(f"  peer: XSTest string match          {strmatch:9.1f} responses/s")
    print(f"  peer: MiniLM transformer, 128 tok  {tr:9.1f} responses/s (sample of {len(sample)})")
    print(f"  ratio ours / transformer embedding: {res['ratio_vs_transformer_embedding']:.2f}x")
    print(f"  ratio ours / string match:          {res['ratio_vs_string_match']:.4f}x")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
