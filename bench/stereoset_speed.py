"""StereoSet scoring speed: the full intrasentence set, and ratios against peers in one run.

Peers, measured in this same process on the same sentences:
  * unbatched: one sentence per forward pass (``batch_size=1, packing="none"``), on a subset;
  * batched, unpacked: length-sorted right-padded batches (``packing="none"``), on the subset;
  * batched, trie-packed (the default, ``packing="auto"``), on the subset and the full set.

Run: ``.venv/bin/python bench/stereoset_speed.py [--subset 150] [--batch-size 64] [--no-full]``.
Acceptance (issue #8): the full set (2,106 items x 3 sentences) in under 180 s on 2 CPU cores.

Measured 2026-11-30 on the 2-core dev machine shared with other jobs (load average 3.9):
full set 111.1 s (56.9 sentences/s): PASS. Subset peers (150 sentences): trie-packed 2.06x
batched-padded and 7.75x unbatched; max |score difference| between the three 5.6e-06.
The figures: overall LMS 89.34, SS 60.57, ICAT 70.46 (base).
"""

from __future__ import annotations

import argparse
import os
import sys
import time

import numpy as np

os.environ.setdefault("HF_HUB_OFFLINE", "1")


def _load_avg() -> str:
    try:
        return " ".join(f"{x:.1f}" for x in os.getloadavg())
    except OSError:
        return "n/a"


def main() -> int:
    from srllm.config import prefer_passive_openmp

    prefer_passive_openmp()  # before torch is imported (see its docstring)
    import torch

    from srllm.models import load_model, resolve_model
    from srllm.stereoset import (
        SENTENCE_COLUMNS,
        default_data_path,
        intrasentence_metrics,
        load_intrasentence,
        score_items,
        score_sentences,
    )

    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--data", default=str(default_data_path()))
    ap.add_argument("--model", default="base")
    ap.add_argument("--batch-size", type=int, default=64)
    ap.add_argument("--subset", type=int, default=150, help="sentences for the peer comparison")
    ap.add_argument("--no-full", action="store_true", help="skip the full-set run")
    args = ap.parse_args()

    if not os.path.exists(args.data):
        print(f"skipped: StereoSet data not found at {args.data}")
        return 0
    loaded = load_model(resolve_model(args.model))
    items = load_intrasentence(args.data)
    print(
        f"model {loaded.spec.name} on {loaded.device} ({loaded.fingerprint['dtype']}), "
        f"torch threads {torch.get_num_threads()}, cpus {os.cpu_count()}, "
        f"OMP_WAIT_POLICY {os.environ.get('OMP_WAIT_POLICY', 'default')}, "
        f"load average {_load_avg()}"
    )
    sentences = [s for col in SENTENCE_COLUMNS for s in items[col].to_list()]
    # the subset keeps whole items, so packing finds the prefixes it would find in the full set
    n_items = max(1, args.subset // 3)
    sub = [s for col in SENTENCE_COLUMNS for s in items[col].to_list()[:n_items]]

    def timed(label: str, sents: list[str], **kw: object) -> tuple[float, np.ndarray]:
        t0, c0 = time.perf_counter(), time.process_time()
        scores = score_sentences(loaded, sents, **kw)
        dt, cpu = time.perf_counter() - t0, time.process_time() - c0
        print(
            f"  {label:<34} {len(sents):>5} sentences {dt:8.2f} s {len(sents) / dt:8.1f} sent/s"
            f"  (cpu {cpu:.1f} s)"
        )
        return dt, scores

    print(f"subset: first {n_items} items ({len(sub)} sentences)")
    t_one, s_one = timed("unbatched (1 per forward)", sub, batch_size=1, packing="none")
    t_pad, s_pad = timed(
        f"batched {args.batch_size}, padded", sub, batch_size=args.batch_size, packing="none"
    )
    t_trie, s_trie = timed(
        f"batched {args.batch_size}, trie-packed", sub, batch_size=args.batch_size, packing="trie"
    )
    diff = max(np.abs(s_one - s_pad).max(), np.abs(s_one - s_trie).max())
    print(f"  max |score difference| between the three: {diff:.2e}")
    print(f"  ratio batched-padded / unbatched speed: {t_one / t_pad:5.2f}x")
    print(f"  ratio trie-packed / unbatched speed:    {t_one / t_trie:5.2f}x")
    print(f"  ratio trie-packed / batched-padded:     {t_pad / t_trie:5.2f}x")
    if args.no_full:
        return 0
    print(f"full set: {items.height} items ({len(sentences)} sentences), default settings")
    t0, c0 = time.perf_counter(), time.process_time()
    marks = iter(range(1000, 10**7, 1000))
    mark = next(marks)

    def report(done: int, total: int) -> None:
        nonlocal mark
        if done >= mark or done == total:
            rate = done / (time.perf_counter() - t0)
            print(f"    {done}/{total} sentences, {rate:.1f} sent/s", file=sys.stderr, flush=True)
            while mark <= done:
                mark = next(marks)

    scored = score_items(loaded, items, batch_size=args.batch_size, progress=report)
    dt, cpu = time.perf_counter() - t0, time.process_time() - c0
    rows = intrasentence_metrics(scored, n_boot=1000)
    total = time.perf_counter() - t0
    print(
        f"  scoring {dt:.1f} s ({len(sentences) / dt:.1f} sent/s); with metrics and 1000 "
        f"bootstrap replicates {total:.1f} s; load average now {_load_avg()}"
    )
    print(
        f"  process cpu time {cpu:.1f} s on {torch.get_num_threads()} threads "
        f"(cpu / wall {cpu / dt:.2f}: below the thread count when the cores are shared)"
    )
    print(
        f"  projected unbatched full set: {t_one / len(sub) * len(sentences):.0f} s "
        f"(ratio {t_one / len(sub) * len(sentences) / dt:.2f}x)"
    )
    print(f"  acceptance (< 180 s): {'PASS' if dt < 180 else 'FAIL'}")
    for r in rows:
        print(
            f"  {r['domain']:<10} n={r['n_items']:>4} LMS {r['lms']:6.2f} SS {r['ss']:6.2f} "
            f"ICAT {r['icat']:6.2f}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
