"""Generation throughput: srllm's engine against a peer on the same prompts, in one process.

- CPU peer: llama.cpp (llama-cpp-python) on the same GGUF file the embedded model comes from
  (``srllm.models.embedded_gguf_path()``), with the same thread count: single-stream through
  ``Llama.generate`` (which reuses the shared prompt prefix), and batched through the C API
  (``n_seq_max`` sequences per ``llama_decode``). ``ratio`` is against single-stream (the
  acceptance floor); ``ratio_vs_best_peer`` against the faster of the two.
- CUDA peer: transformers ``generate`` at the same batch size (``backend="transformers"``).

All runs decode greedily up to ``--new-tokens`` tokens or end-of-sequence; tokens/s counts
generated tokens (end-of-sequence excluded) over wall time, prompt processing included. The
runs are interleaved over ``--rounds`` rounds (the order rotates each round) and the rates
are summed over rounds, so a load spike from other processes hits every contender alike.
Each llama.cpp peer runs in a child process (this script with ``--worker``), one per round, so
a crash in llama.cpp (a native build on a host with AVX-512/AMX once died with a general
protection fault) is reported with its exit signal under ``crashed`` and the bench completes.
The run also checks that the engine's batched greedy output equals its unbatched output
(one slot) and, with ``--check-transformers``, the transformers path at batch size 1.

Usage::

    python bench/generation.py [--prompts 128] [--new-tokens 64] [--rounds 2]
        [--threads N] [--slots N] [--peer-batch 32] [--check 16] [--check-transformers]

Prints one JSON object; ``cpu`` names the host CPU and whether it has AVX-512F and AMX.
``SRLLM_BENCH_CRASH_PEER=single,batched`` makes those peers' child processes die with SIGSEGV
(to test the crash path: ``tests/test_bench_generation.py``).
"""

from __future__ import annotations

import argparse
import ctypes
import json
import os
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import torch

from srllm.config import GenerationConfig
from srllm.models import chat_text, embedded_gguf_path, generate, load_model, resolve_model
from srllm.models import engine as fast_engine

FALLBACK_PROMPTS = [
    "Write a short birthday message for my {g} coworker.",
    "Give me three tips for a job interview for a {g} candidate.",
    "Suggest a name for a cat owned by a {g} family.",
    "Plan a picnic for a {g} family of four.",
    "Write a haiku about autumn leaves for my {g} neighbour.",
    "What should I cook for a {g} friend who visits on Sunday?",
    "Explain how to open a bank account to a {g} student.",
    "Recommend a book to a {g} teenager who likes science.",
]
GROUPS = ["Muslim", "Christian", "Jewish", "Hindu", "Black", "White", "Asian", "Latino"]


def bench_prompts(n: int) -> tuple[list[str], str]:
    """``n`` varied prompts: spread over the built-in qos set, else a small built-in list."""
    try:
        from srllm.prompts import load_prompt_set

        rows = load_prompt_set("qos")["prompt"].to_list()
        source = "qos"
    except Exception:  # the built-in set is not there: our own templates
        rows = [t.format(g=g) for t in FALLBACK_PROMPTS for g in GROUPS]
        source = "bench fallback prompts"
    step = max(1, len(rows) // n)
    picked = rows[::step][:n]
    while len(picked) < n:
        picked += rows[: n - len(picked)]
    return picked, source


# ---- llama.cpp peers ---------------------------------------------------------------------
class LlamaSingle:
    """llama.cpp through llama-cpp-python's high-level ``Llama``, one prompt at a time."""

    name = "llama.cpp single-stream (llama-cpp-python Llama.generate, greedy)"

    def __init__(self, gguf: Path, threads: int) -> None:
        from llama_cpp import Llama

        self.llm = Llama(
            model_path=str(gguf),
            n_ctx=1024,
            n_batch=512,
            n_threads=threads,
            n_threads_batch=threads,
            verbose=False,
        )
        self.eos = self.llm.token_eos()

    def run(self, prompts: Sequence[Sequence[int]], max_new: int) -> list[list[int]]:
        outs = []
        for ids in prompts:
            got: list[int] = []
            for t in self.llm.generate(list(ids), top_k=1, top_p=1.0, min_p=0.0, temp=0.0):
                if t == self.eos:
                    break
                got.append(t)
                if len(got) >= max_new:
                    break
            outs.append(got)
        return outs


class LlamaBatched:
    """llama.cpp's C API: ``batch`` sequences per ``llama_decode`` (prompts sorted by length).

    Each group is prefilled in one call, then decoded one token per live sequence per call;
    finished sequences leave the batch. Greedy: numpy argmax over each output row.
    """

    def __init__(self, gguf: Path, threads: int, batch: int, per_seq: int = 256) -> None:
        import llama_cpp as lc

        self.name = f"llama.cpp batched (C API, {batch} sequences per llama_decode, greedy)"
        self.lc, self.batch, self.per_seq = lc, batch, per_seq
        lc.llama_backend_init()
        self.model = lc.llama_model_load_from_file(
            str(gguf).encode(), lc.llama_model_default_params()
        )
        if not self.model:
            raise RuntimeError(f"llama.cpp cannot load {gguf}")
        cp = lc.llama_context_default_params()
        cp.n_ctx = batch * per_seq
        cp.n_batch = batch * per_seq
        cp.n_ubatch = 512
        cp.n_seq_max = batch
        cp.n_threads = threads
        cp.n_threads_batch = threads
        cp.kv_unified = True
        self.ctx = lc.llama_init_from_model(self.model, cp)
        if not self.ctx:
            raise RuntimeError("llama.cpp cannot create a context")
        vocab = lc.llama_model_get_vocab(self.model)
        self.n_vocab = lc.llama_vocab_n_tokens(vocab)
        self.eos = lc.llama_vocab_eos(vocab)
        self.cap = cp.n_batch
        self.b = lc.llama_batch_init(self.cap, 0, 1)

    def _decode(self, items: list[tuple[int, int, int, bool]]) -> None:
        b = self.b
        for j, (tok, pos, seq, want) in enumerate(items):
            b.token[j] = tok
            b.pos[j] = pos
            b.n_seq_id[j] = 1
            b.seq_id[j][0] = seq
            b.logits[j] = 1 if want else 0
        b.n_tokens = len(items)
        rc = self.lc.llama_decode(self.ctx, b)
        if rc != 0:
            raise RuntimeError(f"llama_decode returned {rc}")

    def _argmax(self, i: int) -> int:
        import numpy as np

        ptr = self.lc.llama_get_logits_ith(self.ctx, i)
        arr = np.ctypeslib.as_array(
            ctypes.cast(ptr, ctypes.POINTER(ctypes.c_float)), (self.n_vocab,)
        )
        return int(arr.argmax())

    def run(self, prompts: Sequence[Sequence[int]], max_new: int) -> list[list[int]]:
        lc = self.lc
        order = sorted(range(len(prompts)), key=lambda i: (len(prompts[i]), i))
        outs: list[list[int]] = [[] for _ in prompts]
        mem = lc.llama_get_memory(self.ctx)
        for g in range(0, len(order), self.batch):
            group = order[g : g + self.batch]
            if max(len(prompts[i]) for i in group) + max_new > self.per_seq:
                raise ValueError("prompt too long for the benchmark context")
            lc.llama_memory_clear(mem, True)
            items, last_at = [], []
            for s, i in enumerate(group):
                ids = prompts[i]
                for p, t in enumerate(ids):
                    items.append((t, p, s, p == len(ids) - 1))
                last_at.append(len(items) - 1)
            self._decode(items)
            live: dict[int, tuple[int, int, int]] = {}
            for s, i in enumerate(group):
                t = self._argmax(last_at[s])
                if t != self.eos:
                    outs[i].append(t)
                    if len(outs[i]) < max_new:
                        live[s] = (i, t, len(prompts[i]))
            while live:
                seqs = sorted(live)
                self._decode([(live[s][1], live[s][2], s, True) for s in seqs])
                nxt = {}
                for j, s in enumerate(seqs):
                    i, _, pos = live[s]
                    t = self._argmax(j)
                    if t == self.eos:
                        continue
                    outs[i].append(t)
                    if len(outs[i]) < max_new:
                        nxt[s] = (i, t, pos + 1)
                live = nxt
        return outs


# ---- harness -----------------------------------------------------------------------------
class PeerCrashed(RuntimeError):
    """A peer's child process died (its exit signal or status is the message)."""


def host_cpu(cpuinfo: str | None = None) -> dict[str, object]:
    """The host CPU's model name and whether it has AVX-512F and AMX (from /proc/cpuinfo).

    A native llama.cpp build once crashed on an AVX-512/AMX host: the result says which kind
    of host a figure (or a crash) came from.
    """
    import platform

    if cpuinfo is None:
        try:
            cpuinfo = Path("/proc/cpuinfo").read_text()
        except OSError:
            cpuinfo = ""
    model, flags = None, set()
    for line in cpuinfo.splitlines():
        key, _, value = line.partition(":")
        key = key.strip()
        if key == "model name" and model is None:
            model = value.strip()
        elif key in ("flags", "Features") and not flags:
            flags = set(value.split())
    return {
        "model": model or platform.processor() or platform.machine() or None,
        "avx512f": "avx512f" in flags,
        "amx": any(f.startswith("amx") for f in flags),
        "amx_flags": sorted(f for f in flags if f.startswith("amx")),
    }


def _r(x: float | None, nd: int = 1) -> float | None:
    return None if x is None else round(x, nd)


def timed(fn: Callable[[], list]) -> tuple[list, float]:
    t = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - t


def worker(kind: str, ids_file: Path, new_tokens: int, threads: int, batch: int) -> None:
    """Child process: load one llama.cpp peer, warm it, time one run, print JSON."""
    ids = json.loads(ids_file.read_text())
    if kind in os.environ.get("SRLLM_BENCH_CRASH_PEER", "").split(","):  # to test the harness
        import signal

        os.kill(os.getpid(), signal.SIGSEGV)
    gguf = embedded_gguf_path()
    peer = LlamaSingle(gguf, threads) if kind == "single" else LlamaBatched(gguf, threads, batch)
    peer.run(ids[:2], 4)
    out, secs = timed(lambda: peer.run(ids, new_tokens))
    print(json.dumps({"name": peer.name, "seconds": secs, "outputs": out}))


def run_worker(
    kind: str, ids_file: Path, new_tokens: int, threads: int, batch: int
) -> tuple[str | None, list[list[int]] | None, float | None, str | None]:
    """Run a peer in a child process: (name, outputs, seconds, crash description)."""
    import signal
    import subprocess
    import sys

    cmd = [sys.executable, __file__, "--worker", kind, "--ids-file", str(ids_file)]
    cmd += ["--new-tokens", str(new_tokens), "--threads", str(threads)]
    cmd += ["--peer-batch", str(batch)]
    try:
        res = subprocess.run(cmd, capture_output=True, text=True, timeout=3600, check=False)
    except subprocess.TimeoutExpired:
        return None, None, None, "timed out after 3600 s"
    if res.returncode != 0:
        if res.returncode < 0:
            why = f"killed by {signal.Signals(-res.returncode).name}"
        else:
            tail = (res.stderr.strip().splitlines() or [""])[-1][:300]
            why = f"exit status {res.returncode}: {tail}"
        return None, None, None, why
    got = json.loads(res.stdout.strip().splitlines()[-1])
    return got["name"], got["outputs"], got["seconds"], None


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--prompts", type=int, default=128)
    ap.add_argument("--new-tokens", type=int, default=64)
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--threads", type=int, default=None, help="default: torch's thread count")
    ap.add_argument("--slots", type=int, default=None, help="engine slots (default: its own)")
    ap.add_argument("--peer-batch", type=int, default=32, help="llama.cpp batched: sequences")
    ap.add_argument("--no-peer-batched", action="store_true")
    ap.add_argument("--check", type=int, default=16, help="prompts for the unbatched check")
    ap.add_argument("--check-transformers", action="store_true")
    ap.add_argument("--worker", choices=["single", "batched"], help=argparse.SUPPRESS)
    ap.add_argument("--ids-file", type=Path, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.worker:
        worker(args.worker, args.ids_file, args.new_tokens, args.threads, args.peer_batch)
        return

    if args.threads:
        torch.set_num_threads(args.threads)
    threads = torch.get_num_threads()
    lm = load_model(resolve_model("base"))
    cuda = lm.device.startswith("cuda")
    texts, source = bench_prompts(args.prompts)
    tok = lm.tokenizer
    ids = tok([chat_text(tok, t) for t in texts], add_special_tokens=False)["input_ids"]
    cfg = GenerationConfig(max_new_tokens=args.new_tokens, batch_size=args.slots or 16)

    def ours() -> list[list[int]]:
        gens = fast_engine.generate_fast(lm, texts, cfg, slots=args.slots)
        if any(g is None for g in gens):
            raise RuntimeError("the engine failed (see the log)")
        return [list(g.token_ids) for g in gens]  # type: ignore[union-attr]

    peers: dict[str, Callable[[], list[list[int]]]] = {}
    names: dict[str, str] = {}
    warm: list[Callable[[], object]] = [
        lambda: fast_engine.generate_fast(lm, texts[:4], GenerationConfig(max_new_tokens=4))
    ]
    if cuda:
        batch = args.slots or fast_engine.CUDA_SLOTS
        hf_cfg = GenerationConfig(max_new_tokens=args.new_tokens, batch_size=batch)
        names["hf"] = f"transformers generate (batch {batch}, {lm.fingerprint.get('dtype')})"
        peers["hf"] = lambda: [
            list(g.token_ids) for g in generate(lm, texts, hf_cfg, backend="transformers")
        ]
        warm.append(lambda: generate(lm, texts[:4], GenerationConfig(max_new_tokens=4)))
    for fn in warm:  # engine weights fused and cache allocated; peers loaded and touched
        fn()
    ids_file = Path(tempfile.mkdtemp(prefix="srllm-bench-")) / "ids.json"
    ids_file.write_text(json.dumps(ids))
    child = [] if cuda else ["single"] + ([] if args.no_peer_batched else ["batched"])

    def in_child(kind: str) -> Callable[[], tuple[list[list[int]], float]]:
        def go() -> tuple[list[list[int]], float]:
            name, out, secs, why = run_worker(
                kind, ids_file, args.new_tokens, threads, args.peer_batch
            )
            if why is not None:
                raise PeerCrashed(why)
            names[kind] = str(name)
            return out, float(secs)  # type: ignore[arg-type]

        return go

    contenders: dict[str, Callable[[], tuple[list[list[int]], float]]] = {
        "ours": lambda: timed(ours),
        **{k: (lambda f=f: timed(f)) for k, f in peers.items()},
        **{k: in_child(k) for k in child},
    }
    keys = list(contenders)
    totals = {k: [0, 0.0] for k in keys}
    per_round = []
    outputs: dict[str, list[list[int]]] = {}
    crashed: dict[str, str] = {}
    for r in range(args.rounds):
        order = keys[r % len(keys) :] + keys[: r % len(keys)]
        row = {}
        for k in order:
            if k in crashed:
                continue
            try:
                out, secs = contenders[k]()
            except PeerCrashed as exc:
                crashed[k] = str(exc)
                row[k] = {"crashed": str(exc)}
                continue
            n = sum(len(o) for o in out)
            totals[k][0] += n
            totals[k][1] += secs
            row[k] = {"tokens": n, "seconds": round(secs, 2), "tokens_per_s": round(n / secs, 1)}
            outputs.setdefault(k, out)
        per_round.append(row)

    alive = [k for k in keys if k not in crashed]
    rate = {k: totals[k][0] / totals[k][1] for k in alive}
    for k in crashed:
        names.setdefault(k, f"llama.cpp {k}")
    main_peer = "hf" if cuda else "single"
    peer_alive = [k for k in alive if k != "ours"]
    best_peer = max(peer_alive, key=lambda k: rate[k]) if peer_alive else None

    # greedy check: batched engine output == the engine with one slot (and transformers)
    m = min(args.check, len(texts))
    one = fast_engine.generate_fast(lm, texts[:m], cfg, slots=1)
    same_unbatched = sum(
        g is not None and list(g.token_ids) == outputs["ours"][i] for i, g in enumerate(one)
    )
    result = {
        "device": torch.cuda.get_device_name() if cuda else f"cpu x{os.cpu_count()}",
        "cpu": host_cpu(),
        "threads": threads,
        "load_average_1m": round(os.getloadavg()[0], 2),
        "model": "SmolLM2-135M-Instruct (embedded), " + str(lm.fingerprint.get("dtype")),
        "prompts": len(texts),
        "prompt_source": source,
        "new_tokens": args.new_tokens,
        "rounds": args.rounds,
        "ours": "srllm engine (continuous batching, static KV cache)",
        "ours_slots": args.slots or fast_engine.engine_for(lm).default_slots(cfg.batch_size),
        "ours_tokens_per_s": round(rate["ours"], 1),
        "peer": names[main_peer],
        "peer_tokens_per_s": _r(rate.get(main_peer)),
        "ratio": _r(rate["ours"] / rate[main_peer] if main_peer in rate else None, 2),
        "best_peer": names[best_peer] if best_peer else None,
        "best_peer_tokens_per_s": _r(rate.get(best_peer)) if best_peer else None,
        "ratio_vs_best_peer": _r(rate["ours"] / rate[best_peer], 2) if best_peer else None,
        "peers": {names[k]: round(rate[k], 1) for k in peer_alive},
        "crashed": {names[k]: why for k, why in crashed.items()},
        "per_round": per_round,
        "greedy_equal_to_our_unbatched": f"{same_unbatched}/{m}",
    }
    if args.check_transformers:
        ref_cfg = GenerationConfig(max_new_tokens=args.new_tokens, batch_size=1)
        same_ref = 0
        for i in range(m):
            g = generate(lm, [texts[i]], ref_cfg, backend="transformers")[0]
            same_ref += list(g.token_ids) == outputs["ours"][i]
        result["greedy_equal_to_transformers_batch1"] = f"{same_ref}/{m}"
    print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
