"""Fast generation engine for Llama-family models (the embedded SmolLM2 and its kin).

It runs the Llama math itself on the model's own weights, behind ``srllm.models.generate``:

- continuous batching: prompts wait in a queue sorted by token length; ``slots`` rows decode
  together, and a row that finishes (end-of-sequence or ``max_new_tokens``) frees its slot,
  which the next prompt fills at once (its prompt is prefilled in one forward pass, right
  padded, causal attention, so padding never enters a real token's attention window);
- a static, preallocated KV cache ``[layers, slots, kv_heads, positions, head_dim]`` that is
  reused between calls; each row attends to its own first ``length`` positions only (the rest
  of the window is masked to an exact zero weight);
- when the queue is empty, finished rows are compacted away (the live rows move to the front,
  so each step computes only live rows);
- fused q/k/v and gate/up projections, the language-model head only at the last position;
- greedy decoding, or seeded sampling (temperature, top-p) with one generator per prompt, so
  a prompt's sample does not depend on which other prompts share its batch;
- a PEFT LoRA adapter is merged into a copy of the weights (``merge_and_unload`` on a deep
  copy, once per loaded model), so base and tuned models both go fast;
- or, for a base model and adapters on exactly its weights (:func:`joinable`), one run
  serves them all (:func:`generate_joint`, the live probe): an adapter row adds
  ``x A^T B^T`` (its LoRA, unmerged, as PEFT computes it) to each projection, so every step
  reads the shared weights once for every model's rows;
- on CUDA: the model's dtype (bfloat16 by default), a fixed-shape decode step compiled with
  ``torch.compile(mode="reduce-overhead")`` (CUDA graphs), eager if compiling fails.

Outputs equal the transformers path token for token on the embedded model in float32
(``tests/test_engine.py``). They are not bit-identical logits: MKL's sgemm gives a row a
slightly different rounding depending on how many rows the matrix has (batch 1 uses a
matrix-vector kernel), so no batched engine on this BLAS can reproduce batch-1 logits bit
for bit; the differences (~1e-6 relative) sit far below the gap between the top two logits.

``SRLLM_ENGINE=transformers`` switches the engine off (every call takes the transformers
path); ``SRLLM_ENGINE_SLOTS=N`` fixes the number of slots; ``SRLLM_ENGINE_COMPILE=0`` keeps
the CUDA decode step eager.
"""

from __future__ import annotations

import copy
import logging
import os
import queue as queue_mod
import threading
import time
import weakref
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from srllm.config import GenerationConfig
from srllm.models.transformers_backend import TRANSFORMERS
from srllm.models.types import Generation, LoadedModel, OnBatch, chat_text, strip_after_eos

log = logging.getLogger(__name__)

ENV_BACKEND = "SRLLM_ENGINE"
ENV_SLOTS = "SRLLM_ENGINE_SLOTS"
ENV_COMPILE = "SRLLM_ENGINE_COMPILE"
ENV_WORKERS = "SRLLM_ENGINE_WORKERS"
BACKENDS = ("auto", "fast", "transformers")
CPU_SLOTS = 128  # rows decoded together on CPU (bigger matrices use the FMA units better)
CUDA_SLOTS = 256
CPU_CACHE_BYTES = 3 << 30  # the KV cache may take at most this much memory on CPU
PREFILL_TOKENS = 8192  # prompt tokens per prefill forward pass (bounds activation memory)
MIN_SHARED_PREFIX = 8  # a shared prompt prefix at least this long is computed once
_ROPE_TYPES = {"default", "linear", "llama3", "yarn"}

_ENGINES: weakref.WeakKeyDictionary[Any, Engine] = weakref.WeakKeyDictionary()
_ENGINES_LOCK = threading.Lock()
_JOINS: weakref.WeakKeyDictionary[Any, tuple[Any, bool]] = weakref.WeakKeyDictionary()
_JOINS_LOCK = threading.Lock()  # not the engines' lock: a niced job may hold that for long
_PROJECTIONS = {"q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"}


def backend_choice(requested: str | None = None) -> str:
    """The backend asked for: the argument, else ``SRLLM_ENGINE``, else ``auto``."""
    word = (requested or os.environ.get(ENV_BACKEND) or "auto").strip().lower()
    if word in {"off", "hf", "0", "false"}:
        word = "transformers"
    if word not in BACKENDS:
        raise ValueError(f"unknown generation backend {word!r} (auto, fast, transformers)")
    return word


def unsupported_reason(lm: LoadedModel) -> str | None:
    """Why the engine cannot run this model (None when it can)."""
    if lm.remote:
        return "remote endpoint"
    model = _unwrap(lm.model)
    cfg = getattr(model, "config", None)
    if cfg is None or getattr(cfg, "model_type", None) != "llama":
        return f"model type {getattr(cfg, 'model_type', None)!r} is not llama"
    if type(model).__name__ != "LlamaForCausalLM":
        return f"{type(model).__name__} is not LlamaForCausalLM"
    if getattr(model, "hf_quantizer", None) is not None or getattr(
        cfg, "quantization_config", None
    ):
        return "quantized weights"
    if getattr(cfg, "attention_bias", False) or getattr(cfg, "mlp_bias", False):
        return "biased projections"
    if getattr(cfg, "hidden_act", "silu") != "silu":
        return f"activation {cfg.hidden_act!r}"
    rope = getattr(cfg, "rope_parameters", None) or {}
    if rope.get("rope_type", "default") not in _ROPE_TYPES:
        return f"rope type {rope.get('rope_type')!r}"
    import torch

    dtype = next(model.parameters()).dtype
    if dtype not in (torch.float32, torch.bfloat16, torch.float16):
        return f"weights in {dtype}"
    return None


def _intra_op_threads() -> int:
    """The CPU threads an engine may use: torch's count, unless a loop thread left it at 1.

    torch starts new threads from the last count any thread set, and decode loops set 1 in
    their own threads; then ``OMP_NUM_THREADS`` or the cores this process may run on.
    """
    import torch

    n = torch.get_num_threads()
    if n > 1:
        return n
    try:
        cores = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        cores = os.cpu_count() or 1
    env = os.environ.get("OMP_NUM_THREADS", "")
    return max(1, min(cores, int(env))) if env.isdigit() else cores


def _unwrap(model: Any) -> Any:
    """The transformers model inside a PEFT wrapper (or the model itself)."""
    base = getattr(model, "base_model", None)
    inner = getattr(base, "model", None)
    if base is not None and inner is not None and hasattr(model, "peft_config"):
        return inner
    return model


def engine_for(lm: LoadedModel) -> Engine:
    """The engine of a loaded model, built once (the adapter merged into a copy)."""
    with _ENGINES_LOCK:
        eng = _ENGINES.get(lm.model)
        if eng is None:
            model = lm.model
            if hasattr(model, "peft_config"):  # merge the LoRA into a copy of the weights
                model = copy.deepcopy(model).merge_and_unload()
            eng = Engine(model, lm.device)
            _ENGINES[lm.model] = eng
        return eng


def busy_cpu_share(seconds: float = 0.1) -> float | None:
    """The share of all cores busy over the next ``seconds`` (``/proc/stat``); None elsewhere.

    Work at lowered priority (a niced CLI audit, see ``config.lower_batch_priority``) counts
    as free: it yields the cores to this process.
    """

    def sample() -> tuple[int, int]:
        with open("/proc/stat") as fh:
            fields = [int(x) for x in fh.readline().split()[1:]]
        free = fields[1] + fields[3] + (fields[4] if len(fields) > 4 else 0)  # nice, idle, io
        return sum(fields[:8]), free

    try:
        total0, idle0 = sample()
        time.sleep(seconds)
        total1, idle1 = sample()
    except (OSError, ValueError, IndexError):
        return None
    total = total1 - total0
    return None if total <= 0 else 1.0 - (idle1 - idle0) / total


def few_rows_loops() -> int | None:
    """Decode loops for a few rows (the live probe): one on every thread when the cores are free.

    Measured on 2 cores (8 cells, 64 tokens, ``bench/live_probe.py``): one loop on both
    threads (one weight read a step) 3.5 s against 4.6 s for two single-thread loops when
    nothing else runs; beside a CLI audit the two-thread loop waits at every barrier for a
    thread the other process holds (51 s, first token 3.7 s) while single-thread loops keep
    going (10.5 s, first token 1.2 s). So: one loop when under half the cores are busy. A
    niced process (the CLI, ``config.lower_batch_priority``) counts as free: it yields, and
    beside a niced audit the one loop took 4.9-5.4 s (first token <= 0.6 s).
    """
    busy = busy_cpu_share()
    return 1 if busy is not None and busy < 0.5 else None


def generate_fast(
    lm: LoadedModel, prompts: Sequence[str], cfg: GenerationConfig, **kw: Any
) -> list[Generation | None]:
    """Generate with the engine; rows it could not finish (an engine failure) stay None.

    ``on_batch(indices, generations)`` is called as rows finish. Sampling seeds one generator
    per prompt with ``cfg.seed + seed_offset + index``. ``share``: how many engines run at
    the same time in this process (the live probe runs one per model it cannot join);
    each then takes that share of the CPU threads. Keywords as :func:`generate_joint`.
    """
    return generate_joint([lm], prompts, cfg, **kw)


def generate_joint(
    lms: Sequence[LoadedModel],
    prompts: Sequence[str],
    cfg: GenerationConfig,
    *,
    seed_offset: int = 0,
    on_batch: OnBatch | None = None,
    slots: int | None = None,
    on_tokens: Callable[[list[tuple[int, int]]], None] | None = None,
    stop: threading.Event | None = None,
    share: int = 1,
    loops: int | None = None,
) -> list[Generation | None]:
    """Every prompt for every model in one engine run; row ``m * len(prompts) + i``.

    ``lms[0]`` hosts the run; the others must be LoRA adapters on its weights
    (:func:`joinable`): their rows add the adapter per row, so every step reads the shared
    weights once for all models. One model alone runs on its own engine (an adapter
    merged). Row ``m * len(prompts) + i`` samples with seed ``cfg.seed + seed_offset + i``,
    as prompt ``i`` would on model ``m``'s own run.
    """
    n_prompts = len(prompts)
    results: list[Generation | None] = [None] * (n_prompts * len(lms))
    if not prompts:
        return results
    ids: list[list[int]] = []
    for lm in lms:
        tok = lm.tokenizer
        texts = [chat_text(tok, p, cfg.system_prompt) for p in prompts]
        ids += tok(texts, add_special_tokens=False)["input_ids"]
    tok = lms[0].tokenizer
    eos = tok.eos_token_id
    stops = set(eos if isinstance(eos, list) else [eos]) - {None}

    def finish(j: int, tokens: list[int], seconds: float) -> Generation:
        own = lms[j // n_prompts].tokenizer
        kept = strip_after_eos(tokens, own.eos_token_id, own.pad_token_id)
        return Generation(
            text=own.decode(kept, skip_special_tokens=True).strip(),
            n_tokens=len(kept),
            seconds=seconds,
            token_ids=tuple(kept),
        )

    def done(batch: list[tuple[int, list[int], float]]) -> None:
        idx = [i for i, _, _ in batch]
        gens = [finish(i, t, s) for i, t, s in batch]
        for i, g in zip(idx, gens, strict=True):
            results[i] = g
        if on_batch is not None:
            on_batch(idx, gens)

    try:
        eng = engine_for(lms[0])
        variants = None
        if len(lms) > 1:
            if not all(joinable(lms[0], lm) for lm in lms[1:]):
                raise ValueError("these models cannot share one engine run")
            numbers = [0] + [eng.add_variant(lm.model) for lm in lms[1:]]
            variants = [v for v in numbers for _ in range(n_prompts)]
        sampler = None
        if not cfg.greedy:
            sampler = Sampler(
                cfg.temperature,
                cfg.top_p,
                [cfg.seed + seed_offset + j % n_prompts for j in range(len(results))],
                eng.device,
            )
        eng.run(
            ids,
            max_new_tokens=cfg.max_new_tokens,
            stops=stops,
            pad_id=tok.pad_token_id if tok.pad_token_id is not None else 0,
            slots=slots or eng.default_slots(cfg.batch_size),
            sampler=sampler,
            on_done=done,
            on_tokens=on_tokens,
            stop=stop,
            share=share,
            variants=variants,
            loops=loops,
        )
    except Exception:  # the caller generates what is missing with the transformers path
        log.exception("fast engine failed; the transformers path takes the remaining rows")
    return results


def joinable(host: LoadedModel, lm: LoadedModel) -> bool:
    """True when ``lm`` is a LoRA adapter on exactly ``host``'s weights (one engine run).

    Both run on the engine, on the same device and dtype, with the same end-of-sequence
    and padding tokens, and every base weight of ``lm`` equals ``host``'s (checked once).
    """
    if host is lm or lm.remote or host.remote or host.device != lm.device:
        return False
    if hasattr(host.model, "peft_config") or not hasattr(lm.model, "peft_config"):
        return False
    if unsupported_reason(host) is not None or unsupported_reason(lm) is not None:
        return False
    a, b = host.tokenizer, lm.tokenizer
    if (a.eos_token_id, a.pad_token_id) != (b.eos_token_id, b.pad_token_id):
        return False
    with _JOINS_LOCK:
        seen = _JOINS.get(lm.model)
        if seen is not None and seen[0]() is host.model:
            return seen[1]
    ok = _lora_only(lm.model) and _same_base(host.model, lm.model)
    with _JOINS_LOCK:
        _JOINS[lm.model] = (weakref.ref(host.model), ok)
    return ok


def _lora_only(peft_model: Any) -> bool:
    """Plain LoRA on the decoder layers' seven projections only, one active adapter.

    That is what :meth:`Engine.add_variant` adds; a LoRA elsewhere (the language-model head,
    say) would be dropped, so such an adapter runs merged on its own engine instead.
    """
    for name, m in _unwrap(peft_model).named_modules():
        if hasattr(m, "lora_A"):
            try:
                active = _lora_of(m) is not None
            except ValueError:
                return False
            if active and (name.rsplit(".", 1)[-1] not in _PROJECTIONS or ".layers." not in name):
                return False
        elif hasattr(m, "lora_embedding_A") and m.lora_embedding_A:
            return False
    return True


def _same_base(host_model: Any, peft_model: Any) -> bool:
    """Every weight of ``host_model`` equals the base weight under ``peft_model``'s LoRA.

    Compared on one thread: a parallel op here would give the calling thread an OpenMP
    thread pool of its own, and while more pools live than there are cores, libgomp stops
    spinning at barriers, which made the live probe's decode loop twice as slow (7.5 s
    against 3.5 s for 8 cells on 2 cores).
    """
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)  # this thread only
    try:
        return _equal_weights(host_model, peft_model)
    finally:
        torch.set_num_threads(before)


def _equal_weights(host_model: Any, peft_model: Any) -> bool:
    import torch

    mine = host_model.state_dict()
    theirs = {
        k.replace(".base_layer.", "."): v
        for k, v in _unwrap(peft_model).state_dict().items()
        if "lora_" not in k
    }
    if mine.keys() != theirs.keys():
        return False
    return all(
        mine[k].shape == theirs[k].shape
        and mine[k].dtype == theirs[k].dtype
        and torch.equal(mine[k], theirs[k])
        for k in mine
    )


def _lora_of(m: Any) -> tuple[Any, Any] | None:
    """``(A, scale * B)`` of a PEFT LoRA linear layer's one active adapter, or None."""
    names = list(getattr(m, "active_adapters", None) or [])
    lora_a = getattr(m, "lora_A", None)
    if lora_a is None or not names or names[0] not in lora_a:
        return None
    if getattr(m, "disable_adapters", False):
        return None
    if len(names) > 1:
        raise ValueError("more than one active adapter")
    name = names[0]
    if getattr(m, "use_dora", {}).get(name) or getattr(m, "fan_in_fan_out", False):
        raise ValueError("DoRA or fan-in-fan-out adapters are merged, not joined")
    a, b = lora_a[name], m.lora_B[name]
    if not hasattr(a, "weight") or a.weight.dim() != 2 or getattr(b, "bias", None) is not None:
        raise ValueError("not a plain linear LoRA")
    return a.weight.detach(), b.weight.detach() * float(m.scaling[name])


def _fused_lora(mods: Sequence[Any], dtype: Any) -> tuple[Any, Any] | None:
    """The LoRAs of projections fused into one weight (q/k/v, gate/up) as one pair.

    ``A^T`` stacks each LoRA's A (``[in, sum r]``); ``B^T`` is block diagonal (``[sum r,
    sum out]``), zero where a projection has no LoRA: ``x A^T B^T`` is every delta at once.
    """
    import torch

    parts = [_lora_of(m) for m in mods]
    if all(p is None for p in parts):
        return None
    outs = [getattr(m, "base_layer", m).weight.shape[0] for m in mods]
    ranks = [p[0].shape[0] if p is not None else 0 for p in parts]
    a = torch.cat([p[0] for p in parts if p is not None])
    b = torch.zeros(sum(outs), sum(ranks), dtype=a.dtype, device=a.device)
    row = col = 0
    for p, out, r in zip(parts, outs, ranks, strict=True):
        if p is not None:
            b[row : row + out, col : col + r] = p[1]
        row, col = row + out, col + r
    return a.T.contiguous().to(dtype), b.T.contiguous().to(dtype)


class EngineBackend:
    """The fast engine; rows it could not finish go through the transformers path."""

    name = "fast"
    local = True

    def generate(
        self,
        lm: LoadedModel,
        prompts: Sequence[str],
        cfg: GenerationConfig,
        *,
        seed_offset: int = 0,
        on_batch: OnBatch | None = None,
    ) -> list[Generation]:
        """Engine results, with any missing rows generated by transformers."""
        results = generate_fast(lm, prompts, cfg, seed_offset=seed_offset, on_batch=on_batch)
        missing = [i for i, g in enumerate(results) if g is None]
        if missing:

            def remap(idx: list[int], gens: list[Generation]) -> None:
                if on_batch is not None:
                    on_batch([missing[j] for j in idx], gens)

            rest = TRANSFORMERS.generate(
                lm, [prompts[i] for i in missing], cfg, seed_offset=seed_offset, on_batch=remap
            )
            for i, g in zip(missing, rest, strict=True):
                results[i] = g
        return [r for r in results if r is not None]

    def stream(self, lm: LoadedModel, prompt: str, cfg: GenerationConfig) -> Iterator[str]:
        """One prompt streams through transformers (the engine pays off in batches)."""
        return TRANSFORMERS.stream(lm, prompt, cfg)

    def chunk_size(self, batch_size: int) -> int:
        """Large chunks keep the engine's slots full."""
        return max(batch_size * 4, ENGINE_CHUNK)


ENGINE = EngineBackend()
ENGINE_CHUNK = 1024  # prompts handed to the engine at once by the pipeline


def choose_backend(lm: LoadedModel, requested: str | None = None) -> Any:
    """The backend for a local model: the engine where it applies and is wanted.

    Else transformers. ``requested`` (or ``SRLLM_ENGINE``): auto, fast, transformers.
    """
    choice = backend_choice(requested)
    if choice == "transformers":
        return TRANSFORMERS
    reason = unsupported_reason(lm)
    if reason is None:
        return ENGINE
    if choice == "fast":
        log.warning("fast engine not used for %s: %s", lm.spec.name, reason)
    return TRANSFORMERS


class Sampler:
    """Seeded sampling like transformers' (temperature, then top-p), one generator a prompt."""

    def __init__(self, temperature: float, top_p: float, seeds: list[int], device: str) -> None:
        import torch

        self.temperature = temperature
        self.top_p = top_p
        self.seeds = seeds
        self.device = device
        self._gens: dict[int, Any] = {}
        self._torch = torch

    def _gen(self, req: int) -> Any:
        g = self._gens.get(req)
        if g is None:
            g = self._torch.Generator(device=self.device)
            g.manual_seed(self.seeds[req])
            self._gens[req] = g
        return g

    def __call__(self, logits: Any, reqs: list[int]) -> list[int]:
        """One token for each row of ``logits`` (row ``j`` belongs to prompt ``reqs[j]``)."""
        torch = self._torch
        scores = logits.float() / self.temperature
        if self.top_p < 1.0:
            sorted_logits, sorted_idx = torch.sort(scores, descending=False)
            cum = sorted_logits.softmax(dim=-1).cumsum(dim=-1)
            remove = cum <= (1 - self.top_p)
            remove[..., -1:] = False
            scores = scores.masked_fill(remove.scatter(1, sorted_idx, remove), float("-inf"))
        probs = scores.softmax(dim=-1)
        out = []
        for j, req in enumerate(reqs):
            out.append(int(torch.multinomial(probs[j], 1, generator=self._gen(req))))
        return out

    def forget(self, req: int) -> None:
        """Drop a finished prompt's generator."""
        self._gens.pop(req, None)


@dataclass
class _Layer:
    ln1: Any
    wqkv: Any
    wo: Any
    ln2: Any
    wgu: Any
    wd: Any


@dataclass
class _Delta:
    """One layer's LoRA of a variant, per fused projection: ``(A^T, scale * B^T)`` or None.

    The projections a LoRA does not target get zero blocks in the fused ones (q/k/v and
    gate/up), so one pair of small matrix products serves each fused projection.
    """

    wqkv: tuple[Any, Any] | None
    wo: tuple[Any, Any] | None
    wgu: tuple[Any, Any] | None
    wd: tuple[Any, Any] | None


Sel = list[tuple[int, Any]] | None  # (variant, row indices or None for every row) per step


class Engine:
    """Llama decoding with a static KV cache and continuous batching (see the module doc)."""

    def __init__(self, model: Any, device: str) -> None:
        import torch

        cfg = model.config
        inner = model.model
        self.device = device
        self.hidden = cfg.hidden_size
        self.n_heads = cfg.num_attention_heads
        self.n_kv = cfg.num_key_value_heads
        self.head_dim = getattr(cfg, "head_dim", None) or self.hidden // self.n_heads
        self.group = self.n_heads // self.n_kv
        self.inter = cfg.intermediate_size
        self.eps = float(cfg.rms_norm_eps)
        self.scale = self.head_dim**-0.5
        self.max_positions = int(getattr(cfg, "max_position_embeddings", 1 << 16))
        with torch.no_grad():
            self.embed = inner.embed_tokens.weight.detach()
            self.dtype = self.embed.dtype
            self.lm_head = model.get_output_embeddings().weight.detach()
            self.norm = inner.norm.weight.detach()
            self.layers = []
            for blk in inner.layers:
                att, mlp = blk.self_attn, blk.mlp
                self.layers.append(
                    _Layer(
                        ln1=blk.input_layernorm.weight.detach(),
                        wqkv=torch.cat(
                            [att.q_proj.weight, att.k_proj.weight, att.v_proj.weight]
                        ).contiguous(),
                        wo=att.o_proj.weight.detach(),
                        ln2=blk.post_attention_layernorm.weight.detach(),
                        wgu=torch.cat([mlp.gate_proj.weight, mlp.up_proj.weight]).contiguous(),
                        wd=mlp.down_proj.weight.detach(),
                    )
                )
        self._rotary = inner.rotary_emb
        self._cos: Any = None
        self._sin: Any = None
        self._k: Any = None  # [layers, slots, kv_heads, positions, head_dim]
        self._v: Any = None
        self._lock = threading.Lock()  # held by the run that uses the shared KV cache
        self._setup_lock = threading.Lock()  # rope tables and adapter variants
        self._threads = _intra_op_threads()
        self.is_cuda = str(device).startswith("cuda")
        self._linear = self._pick_linear()
        self._compiled: Any = None
        self._compile_failed = False
        self._variants: list[list[_Delta]] = []  # variant v >= 1 is self._variants[v - 1]
        self._variant_of: weakref.WeakKeyDictionary[Any, int] = weakref.WeakKeyDictionary()

    # ---- set-up -----------------------------------------------------------------------
    def _pick_linear(self) -> Callable[[Any, Any], Any]:
        """``x @ w.T``: oneDNN with prepacked weights on CPU in float32, else ``F.linear``.

        oneDNN's packed sgemm runs the shapes of this model 10-40% faster than MKL's
        (the language-model head most of all) on the AVX2 CPUs measured; the weights are
        reordered once. Falls back to ``F.linear`` where the op is missing or misbehaves.
        """
        import torch
        import torch.nn.functional as F

        if self.is_cuda or self.dtype != torch.float32:
            return F.linear
        try:
            pointwise = torch.ops.mkldnn._linear_pointwise
            reorder = torch.ops.mkldnn._reorder_linear_weight
            probe = torch.randn(3, self.hidden)
            w0 = self.layers[0].wqkv
            packed0 = reorder(w0, CPU_SLOTS)
            got = pointwise(probe, packed0, None, "none", [], "")
            if not torch.allclose(got, F.linear(probe, w0), rtol=1e-4, atol=1e-4):
                raise ValueError("oneDNN linear disagrees with F.linear")
        except Exception as exc:  # an older or newer torch without the op
            log.info("oneDNN packed linear unavailable (%s); using F.linear", exc)
            return F.linear
        with torch.no_grad():
            for w in self.layers:
                w.wqkv = reorder(w.wqkv, CPU_SLOTS)
                w.wo = reorder(w.wo.contiguous(), CPU_SLOTS)
                w.wgu = reorder(w.wgu, CPU_SLOTS)
                w.wd = reorder(w.wd.contiguous(), CPU_SLOTS)
            self.lm_head = reorder(self.lm_head.contiguous(), CPU_SLOTS)

        def linear(x: Any, w: Any) -> Any:
            return pointwise(x, w, None, "none", [], "")

        return linear

    def add_variant(self, peft_model: Any) -> int:
        """Register a PEFT LoRA model on these (base) weights; its variant number (>= 1).

        The adapter is not merged: rows of this variant get ``x A^T B^T * scale`` added to
        each projection it targets, so base and adapted rows share one weight read per step.
        The caller checks that the adapter's base weights are these (:func:`joinable`).
        """
        import torch

        with self._setup_lock:
            have = self._variant_of.get(peft_model)
            if have is not None:
                return have
            deltas = [
                _Delta(
                    wqkv=_fused_lora([a.q_proj, a.k_proj, a.v_proj], self.dtype),
                    wo=_fused_lora([a.o_proj], self.dtype),
                    wgu=_fused_lora([blk.mlp.gate_proj, blk.mlp.up_proj], self.dtype),
                    wd=_fused_lora([blk.mlp.down_proj], self.dtype),
                )
                for blk in _unwrap(peft_model).model.layers
                for a in [blk.self_attn]
            ]
            if len(deltas) != len(self.layers):
                raise ValueError("the adapter's model has a different number of layers")
            with torch.no_grad():
                self._variants.append(deltas)
            number = len(self._variants)
            self._variant_of[peft_model] = number
            weakref.finalize(peft_model, self._drop_variant, number)
            return number

    def _drop_variant(self, number: int) -> None:
        """Free a garbage-collected adapter's matrices (its number is never reused)."""
        with self._setup_lock:
            self._variants[number - 1] = []

    def _projections(self, li: int, sel: Sel) -> list[tuple[_Delta, Any]]:
        return [(self._variants[v - 1][li], rows) for v, rows in sel or ()]

    def _lin(self, h: Any, w: Any, part: str, deltas: list[tuple[_Delta, Any]]) -> Any:
        y = self._linear(h, w)
        for d, rows in deltas:
            ab = getattr(d, part)
            if ab is None:
                continue
            at, bt = ab
            if rows is None:
                y = y + (h @ at) @ bt
            else:
                y = y.index_add_(0, rows, (h.index_select(0, rows) @ at) @ bt)
        return y

    def default_slots(self, batch_size: int) -> int:
        """Rows decoded together: ``SRLLM_ENGINE_SLOTS``, else at least the device default."""
        env = os.environ.get(ENV_SLOTS)
        if env:
            return max(1, int(env))
        return max(batch_size, CUDA_SLOTS if self.is_cuda else CPU_SLOTS)

    def workers(self, slots: int) -> int:
        """Decode loops run side by side: one a CPU thread (``SRLLM_ENGINE_WORKERS``)."""
        if self.is_cuda:
            return 1
        env = os.environ.get(ENV_WORKERS)
        want = int(env) if env else self._threads
        return max(1, min(want, slots))

    def _bytes_per_slot_position(self) -> int:
        return 2 * len(self.layers) * self.n_kv * self.head_dim * self.embed.element_size()

    def _fit_slots(self, slots: int, positions: int) -> int:
        """Fewer slots when the cache for ``slots`` rows would not fit in memory."""
        import torch

        if self.is_cuda:
            free, _ = torch.cuda.mem_get_info(torch.device(self.device))
            budget = free // 3
        else:
            budget = CPU_CACHE_BYTES
        fit = budget // max(1, self._bytes_per_slot_position() * positions)
        return max(1, min(slots, fit))

    def _ensure_rope(self, positions: int) -> None:
        import torch

        with self._setup_lock:  # a longer table holds the shorter one: readers never mind
            if self._cos is not None and self._cos.shape[0] >= positions:
                return
            n = max(positions, 256)
            pos = torch.arange(n, device=self.device).unsqueeze(0)
            probe = torch.empty(0, device=self.device, dtype=self.dtype)
            cos, sin = self._rotary(probe, pos)
            self._sin = sin[0].contiguous()
            self._cos = cos[0].contiguous()

    def _ensure_cache(self, slots: int, positions: int) -> None:
        import torch

        if self.is_cuda:  # fixed shapes for the compiled step: round up, reuse
            positions = -(-positions // 256) * 256
        have = self._k
        if have is not None and have.shape[1] >= slots and have.shape[3] >= positions:
            return
        if have is not None:
            slots = max(slots, have.shape[1])
            positions = max(positions, have.shape[3])
        self._k = self._v = None
        shape = (len(self.layers), slots, self.n_kv, positions, self.head_dim)
        # zeros, not empty: masked positions must hold finite numbers (0 * NaN is NaN)
        self._k = torch.zeros(shape, dtype=self.dtype, device=self.device)
        self._v = torch.zeros(shape, dtype=self.dtype, device=self.device)
        self._compiled = None

    # ---- the math ---------------------------------------------------------------------
    def _rms(self, x: Any, w: Any) -> Any:
        import torch

        dt = x.dtype
        h = x.float()
        h = h * torch.rsqrt(h.pow(2).mean(-1, keepdim=True) + self.eps)
        return w * h.to(dt)

    @staticmethod
    def _rope(x: Any, cos: Any, sin: Any) -> Any:
        import torch

        half = x.shape[-1] // 2
        rot = torch.cat((-x[..., half:], x[..., :half]), dim=-1)
        return (x * cos) + (rot * sin)

    def _prefill(
        self,
        kv: tuple[Any, Any],
        ids: Any,
        lens: Any,
        slot_idx: Any,
        start: int = 0,
        sel: Sel = None,
    ) -> Any:
        """Prompt tokens ``ids`` [k, L] (right padded) into slots; last-position logits.

        ``kv`` is the (keys, values) cache ``[layers, slots, kv_heads, positions, dim]``.
        The tokens go to positions ``start..start+L-1``; positions below ``start`` must
        already hold the slots' shared prompt prefix. ``lens`` are the full prompt lengths.
        ``sel``: which rows are which adapter variant (:meth:`add_variant`); None: all base.
        """
        import torch
        import torch.nn.functional as F

        kcache, vcache = kv
        k, length = ids.shape
        nh, nkv, d = self.n_heads, self.n_kv, self.head_dim
        qd, kvd = nh * d, nkv * d
        end = start + length
        cos = self._cos[start:end].view(1, 1, length, d)
        sin = self._sin[start:end].view(1, 1, length, d)
        allowed = None
        if start:  # query i sits at position start+i and sees keys 0..start+i
            dev = ids.device
            allowed = torch.arange(end, device=dev).unsqueeze(0) <= torch.arange(
                start, end, device=dev
            ).unsqueeze(1)
        x = F.embedding(ids, self.embed)
        for li, w in enumerate(self.layers):
            ds = self._projections(li, sel)
            h = self._rms(x, w.ln1)
            qkv = self._lin(h, w.wqkv, "wqkv", ds)
            q = qkv[..., :qd].view(k, length, nh, d).transpose(1, 2)
            kk = qkv[..., qd : qd + kvd].view(k, length, nkv, d).transpose(1, 2)
            v = qkv[..., qd + kvd :].view(k, length, nkv, d).transpose(1, 2)
            q = self._rope(q, cos, sin)
            kk = self._rope(kk, cos, sin)
            kcache[li, slot_idx, :, start:end] = kk
            vcache[li, slot_idx, :, start:end] = v
            if start:
                kk = kcache[li, slot_idx, :, :end]
                v = vcache[li, slot_idx, :, :end]
            o = F.scaled_dot_product_attention(
                q,
                kk,
                v,
                attn_mask=allowed,
                is_causal=not start,
                scale=self.scale,
                enable_gqa=nh != nkv,
            )
            x = x + self._lin(o.transpose(1, 2).reshape(k, length, qd), w.wo, "wo", ds)
            h = self._rms(x, w.ln2)
            gu = self._lin(h, w.wgu, "wgu", ds)
            x = x + self._lin(F.silu(gu[..., : self.inter]) * gu[..., self.inter :], w.wd, "wd", ds)
        last = x[torch.arange(k, device=x.device), lens - 1 - start]
        return self._linear(self._rms(last, self.norm), self.lm_head)

    def _decode(self, kv: tuple[Any, Any], tok: Any, pos: Any, width: int, sel: Sel = None) -> Any:
        """One step for rows ``0..n-1``: token ``tok[r]`` at position ``pos[r]``; logits."""
        import torch
        import torch.nn.functional as F

        kcache, vcache = kv
        n = tok.shape[0]
        nh, nkv, d, g = self.n_heads, self.n_kv, self.head_dim, self.group
        qd, kvd = nh * d, nkv * d
        dev = tok.device
        cos = self._cos[pos].unsqueeze(1)  # [n, 1, D]
        sin = self._sin[pos].unsqueeze(1)
        rows = torch.arange(n, device=dev)
        hidden = torch.arange(width, device=dev).unsqueeze(0) > pos.unsqueeze(1)  # [n, W]
        mask = torch.zeros((n, 1, 1, width), dtype=torch.float32, device=dev)
        mask.masked_fill_(hidden.view(n, 1, 1, width), float("-inf"))
        x = F.embedding(tok, self.embed)
        for li, w in enumerate(self.layers):
            ds = self._projections(li, sel)
            h = self._rms(x, w.ln1)
            qkv = self._lin(h, w.wqkv, "wqkv", ds)
            q = self._rope(qkv[:, :qd].view(n, nh, d), cos, sin)
            kk = self._rope(qkv[:, qd : qd + kvd].view(n, nkv, d), cos, sin)
            kc, vc = kcache[li], vcache[li]
            kc[rows, :, pos] = kk
            vc[rows, :, pos] = qkv[:, qd + kvd :].view(n, nkv, d)
            keys = kc[:n, :, :width]  # [n, nkv, W, D]
            vals = vc[:n, :, :width]
            s = torch.matmul(q.view(n, nkv, g, d), keys.transpose(-1, -2))  # [n, nkv, g, W]
            p = torch.softmax(s.float() * self.scale + mask, dim=-1).to(q.dtype)
            o = torch.matmul(p, vals)  # [n, nkv, g, D]
            x = x + self._lin(o.reshape(n, qd), w.wo, "wo", ds)
            h = self._rms(x, w.ln2)
            gu = self._lin(h, w.wgu, "wgu", ds)
            x = x + self._lin(F.silu(gu[:, : self.inter]) * gu[:, self.inter :], w.wd, "wd", ds)
        return self._linear(self._rms(x, self.norm), self.lm_head)

    def _step(self, kv: tuple[Any, Any], tok: Any, pos: Any, width: int, sel: Sel = None) -> Any:
        """The decode step; on CUDA a compiled fixed-shape one (CUDA graphs) when it works.

        Steps with adapter rows (``sel``) run eagerly: their row sets change between steps.
        """
        eager = self._compile_failed or os.environ.get(ENV_COMPILE) == "0"
        if not self.is_cuda or eager or sel:
            return self._decode(kv, tok, pos, width, sel)
        import torch

        if self._compiled is None:
            torch._dynamo.mark_static_address(self._k)
            torch._dynamo.mark_static_address(self._v)
            self._compiled = torch.compile(self._decode, mode="reduce-overhead", dynamic=False)
        try:
            return self._compiled(kv, tok, pos, width).clone()
        except Exception as exc:  # pragma: no cover - depends on the CUDA toolchain
            log.warning("compiling the decode step failed (%s); running it eagerly", exc)
            self._compile_failed = True
            return self._decode(kv, tok, pos, width)

    # ---- the scheduler ----------------------------------------------------------------
    def run(
        self,
        prompts: Sequence[Sequence[int]],
        *,
        max_new_tokens: int,
        stops: set[int],
        pad_id: int,
        slots: int,
        sampler: Sampler | None,
        on_done: Callable[[list[tuple[int, list[int], float]]], None],
        on_tokens: Callable[[list[tuple[int, int]]], None] | None = None,
        stop: threading.Event | None = None,
        share: int = 1,
        variants: Sequence[int] | None = None,
        loops: int | None = None,
    ) -> None:
        """Generate for every prompt; ``on_done([(index, tokens, seconds), ...])`` as rows end.

        ``share`` > 1: this many engines decode at once in this process (one per model in
        the live probe); this one then runs one loop on ``threads // share`` threads, so
        every step reads the weights once for all its rows and the engines do not
        oversubscribe the cores.

        ``on_tokens([(index, token), ...])`` (optional) is called after every step with the
        new token of each live row, from the decode loop's thread (for streaming); ``stop``
        (optional) ends the run after the current step: unfinished rows are reported with
        the tokens they have.

        Tokens end before the first stop token (which is not included) or at
        ``max_new_tokens``. ``seconds`` is the row's share of the steps it took part in.

        ``variants[i]`` (optional): the adapter variant prompt ``i`` runs as (0: these
        weights, v >= 1: :meth:`add_variant`'s number), so one run serves a base model and
        its adapters. ``loops`` fixes the number of decode loops (the live probe's few rows
        run fastest as one loop on every thread).
        On CPU the slots are split between ``workers()`` decode loops, one a thread, each
        with one intra-op thread: they share nothing but the prompt queue, so no thread ever
        waits on another at a barrier (the 2 cores are shared with other processes).
        ``on_done`` is always called in the calling thread.

        On CPU a run that finds the shared KV cache in use (a background audit of the same
        model) does not wait for it: it decodes in a cache of its own, sized for its rows.
        """
        import torch

        if not prompts:
            return
        longest = max(len(p) for p in prompts)
        positions = longest + max_new_tokens
        # a small job (a live probe) never waits behind a long one; a large one (an audit
        # chunk) waits rather than hold a second cache of up to CPU_CACHE_BYTES
        held = self._lock.acquire(blocking=self.is_cuda or len(prompts) > CPU_SLOTS)
        try:
            with torch.inference_mode():
                self._ensure_rope(positions)
                slots = min(self._fit_slots(slots, positions), len(prompts))
                if held:
                    self._ensure_cache(slots, positions)
                    kc, vc = self._k, self._v
                    if self.is_cuda:
                        slots, positions = kc.shape[1], kc.shape[3]
                else:
                    shape = (len(self.layers), slots, self.n_kv, positions, self.head_dim)
                    kc = torch.zeros(shape, dtype=self.dtype, device=self.device)
                    vc = torch.zeros(shape, dtype=self.dtype, device=self.device)
                job = _Job(prompts, max_new_tokens, stops, pad_id, positions, sampler)
                job.on_tokens, job.stop = on_tokens, stop
                job.variants = list(variants) if variants is not None else None
                n_workers = min(slots, loops or (1 if share > 1 else self.workers(slots)))
                threads = torch.get_num_threads()
                if n_workers > 1 or share > 1:  # as the loops will: no barrier to wait at
                    torch.set_num_threads(1)  # this thread only
                try:
                    job.prefix_kv = self._shared_prefix(job, kc, vc)
                finally:
                    torch.set_num_threads(threads)
                self._run_loops(job, kc, vc, slots, n_workers, share, on_done)
        finally:
            if held:
                self._lock.release()

    def _run_loops(
        self,
        job: _Job,
        kc: Any,
        vc: Any,
        slots: int,
        n_workers: int,
        share: int,
        on_done: Callable[[list[tuple[int, list[int], float]]], None],
    ) -> None:
        """Split the slots between ``n_workers`` decode loops and run them to the end."""
        import torch

        bounds = [slots * w // n_workers for w in range(n_workers + 1)]
        loops = [
            _Loop(self, job, kc[:, lo:hi], vc[:, lo:hi])
            for lo, hi in zip(bounds, bounds[1:], strict=False)
        ]
        # torch keeps one process-wide "last set" thread count that new threads start from
        # (the loops' threads set 1): set this run's count explicitly, restore it after
        before = torch.get_num_threads()
        if n_workers == 1:
            job.report = on_done
            if not self.is_cuda:
                torch.set_num_threads(max(1, self._threads // share))
            try:
                loops[0].run()
            finally:
                torch.set_num_threads(before)
            return
        threads = [
            threading.Thread(target=lp.run_in_thread, daemon=True, name=f"srllm-engine-{i}")
            for i, lp in enumerate(loops)
        ]
        for t in threads:
            t.start()
        try:
            while any(t.is_alive() for t in threads) or not job.finished.empty():
                try:
                    on_done(job.finished.get(timeout=0.05))
                except queue_mod.Empty:
                    continue
        except BaseException as exc:
            # on_done raised (an audit's Stop, say): end every loop after its current
            # step, so none outlives this call and writes into the cache the next run uses
            job.errors.append(exc)
            with job.lock:
                job.queue.clear()
            raise
        finally:
            for t in threads:
                t.join()
            torch.set_num_threads(before)
        if job.errors:
            raise job.errors[0]

    def _shared_prefix(self, job: _Job, kc: Any, vc: Any) -> dict[int, tuple[Any, Any]] | None:
        """Keys and values of the prefix all prompts share per variant, or None when none.

        That prefix is the chat template's system turn: computed once per variant (an
        adapter changes keys and values), copied into each slot.
        """
        import torch

        prompts = job.prompts
        shared = _common_prefix(prompts) if len(prompts) > 1 else 0
        if shared < MIN_SHARED_PREFIX:
            return None
        dev = self.device
        head = torch.tensor([prompts[0][:shared]], dtype=torch.long, device=dev)
        zero = torch.zeros(1, dtype=torch.long, device=dev)
        job.shared = shared
        out = {}
        for v in sorted(set(job.variants or [0])):
            sel = [(v, None)] if v else None
            self._prefill((kc, vc), head, torch.tensor([shared], device=dev), zero, 0, sel)
            out[v] = (
                kc[:, 0, :, :shared].clone().unsqueeze(1),
                vc[:, 0, :, :shared].clone().unsqueeze(1),
            )
        return out


class _Job:
    """What the decode loops of one ``Engine.run`` share: the prompt queue and the results."""

    def __init__(
        self,
        prompts: Sequence[Sequence[int]],
        max_new: int,
        stops: set[int],
        pad_id: int,
        positions: int,
        sampler: Sampler | None,
    ) -> None:
        self.prompts = prompts
        self.max_new = max_new
        self.stops = stops
        self.pad_id = pad_id
        self.positions = positions
        self.sampler = sampler
        self.queue = deque(sorted(range(len(prompts)), key=lambda i: (len(prompts[i]), i)))
        self.shared = 0
        self.prefix_kv: dict[int, tuple[Any, Any]] | None = None
        self.variants: list[int] | None = None
        self.finished: queue_mod.Queue = queue_mod.Queue()
        self.report: Callable[[list[tuple[int, list[int], float]]], None] = self.finished.put
        self.errors: list[BaseException] = []
        self.lock = threading.Lock()
        self.on_tokens: Callable[[list[tuple[int, int]]], None] | None = None
        self.stop: threading.Event | None = None

    def take(self, free: int, width_cap: int) -> list[int]:
        """Up to ``free`` prompts from the front of the queue (shortest first)."""
        with self.lock:
            if not self.queue:
                return []
            length = len(self.prompts[self.queue[0]]) - self.shared
            k = max(1, min(free, len(self.queue), width_cap // max(1, length)))
            return [self.queue.popleft() for _ in range(k)]

    def empty(self) -> bool:
        """True when no prompt waits for a slot."""
        return not self.queue

    def variant(self, i: int) -> int:
        """The adapter variant of prompt ``i`` (0: the engine's own weights)."""
        return self.variants[i] if self.variants is not None else 0

    def select(self, reqs: Sequence[int], device: Any) -> Sel:
        """Which rows (holding prompts ``reqs``, -1 for a free row) run which adapter."""
        if self.variants is None:
            return None
        import torch

        vs = [self.variants[i] if i >= 0 else 0 for i in reqs]
        kinds = set(vs) - {0}
        if not kinds:
            return None
        if len(kinds) == 1 and 0 not in vs:
            return [(vs[0], None)]
        return [
            (v, torch.tensor([r for r, x in enumerate(vs) if x == v], device=device))
            for v in sorted(kinds)
        ]


class _Loop:
    """One decode loop over its own slots of the KV cache (continuous batching)."""

    def __init__(self, eng: Engine, job: _Job, kcache: Any, vcache: Any) -> None:
        self.eng, self.job = eng, job
        self.kv = (kcache, vcache)
        self.slots = kcache.shape[1]

    def run_in_thread(self) -> None:
        import torch

        torch.set_num_threads(1)  # per thread: the other loop has the other core
        try:
            with torch.inference_mode():
                self.run()
        except BaseException as exc:  # re-raised by Engine.run in the caller's thread
            self.job.errors.append(exc)
            with self.job.lock:
                self.job.queue.clear()

    def run(self) -> None:
        import torch

        eng, job = self.eng, self.job
        dev = eng.device
        prompts, max_new, stops, pad_id = job.prompts, job.max_new, job.stops, job.pad_id
        shared, sampler = job.shared, job.sampler
        slots = self.slots
        req = [-1] * slots  # prompt index held by each slot, -1 when free
        pos = [0] * slots  # where the slot's next token goes (= tokens in its cache)
        last = [pad_id] * slots  # the slot's latest token (input of the next step)
        out: dict[int, list[int]] = {}
        secs: dict[int, float] = {}
        n = slots if eng.is_cuda else 0  # rows 0..n-1 take part in decode steps

        def pick(logits: Any, rows: list[int]) -> list[int]:
            if sampler is None:
                return logits.argmax(dim=-1).tolist()
            return sampler(logits, [req[r] for r in rows])

        def accept(rows: list[int], toks: list[int]) -> None:
            ended = []
            new = []
            halt = job.stop is not None and job.stop.is_set()
            for r, t in zip(rows, toks, strict=True):
                i = req[r]
                if t in stops:
                    ended.append(r)
                    continue
                out[i].append(t)
                new.append((i, t))
                last[r] = t
                pos[r] += 1
                if len(out[i]) >= max_new or halt:
                    ended.append(r)
            if new and job.on_tokens is not None:
                job.on_tokens(new)
            if ended:
                batch = []
                for r in ended:
                    i = req[r]
                    batch.append((i, out.pop(i), secs.pop(i)))
                    req[r] = -1
                    pos[r], last[r] = 0, pad_id
                    if sampler is not None:
                        sampler.forget(i)
                job.report(batch)

        while not job.errors:
            if job.stop is not None and job.stop.is_set():
                with job.lock:
                    job.queue.clear()  # prompts not started are dropped
            free = [s for s in range(slots) if req[s] < 0]
            reqs = job.take(len(free), PREFILL_TOKENS) if free else []
            if reqs:  # refill free slots with the next prompts (similar lengths)
                started = time.perf_counter()
                take = free[: len(reqs)]
                width = max(len(prompts[i]) for i in reqs) - shared
                ids = torch.full((len(reqs), width), pad_id, dtype=torch.long)
                for j, i in enumerate(reqs):
                    ids[j, : len(prompts[i]) - shared] = torch.tensor(
                        prompts[i][shared:], dtype=torch.long
                    )
                lens = torch.tensor([len(prompts[i]) for i in reqs], device=dev)
                for s, i in zip(take, reqs, strict=True):
                    req[s], out[i], secs[i] = i, [], 0.0
                    pos[s] = len(prompts[i]) - 1  # becomes len(prompt) once its token is in
                slot_t = torch.tensor(take, device=dev)
                for v, (pk, pv) in (job.prefix_kv or {}).items():
                    mine = [s for s, i in zip(take, reqs, strict=True) if job.variant(i) == v]
                    if mine:
                        at = torch.tensor(mine, device=dev)
                        self.kv[0][:, at, :, :shared] = pk
                        self.kv[1][:, at, :, :shared] = pv
                sel = job.select(reqs, dev)
                logits = eng._prefill(self.kv, ids.to(dev), lens, slot_t, shared, sel)
                toks = pick(logits, take)
                share = (time.perf_counter() - started) / len(take)
                for i in reqs:
                    secs[i] += share
                n = max(n, max(take) + 1)
                accept(take, toks)
                continue  # fill every free slot before the next decode step
            if job.empty() and not eng.is_cuda:
                n = self._compact(req, pos, last, n)
            live = [r for r in range(n) if req[r] >= 0]
            if not live:
                if job.empty():
                    return
                continue
            started = time.perf_counter()
            width = job.positions if eng.is_cuda else max(pos[r] for r in live) + 1
            tok_t = torch.tensor(last[:n], dtype=torch.long, device=dev)
            pos_t = torch.tensor(pos[:n], dtype=torch.long, device=dev)
            logits = eng._step(self.kv, tok_t, pos_t, width, job.select(req[:n], dev))
            if len(live) < n:
                logits = logits[torch.tensor(live, device=dev)]
            toks = pick(logits, live)
            share = (time.perf_counter() - started) / len(live)
            for r in live:
                secs[req[r]] += share
            accept(live, toks)

    def _compact(self, req: list[int], pos: list[int], last: list[int], n: int) -> int:
        """Move live rows into the free slots below them; the new number of rows in use."""
        import torch

        live = [r for r in range(n) if req[r] >= 0]
        m = len(live)
        movers = [r for r in live if r >= m]
        holes = [r for r in range(m) if req[r] < 0]
        if movers:
            width = max(pos[r] for r in movers) + 1
            src = torch.tensor(movers, device=self.eng.device)
            dst = torch.tensor(holes, device=self.eng.device)
            for cache in self.kv:
                cache[:, dst, :, :width] = cache[:, src, :, :width]
            for a, b in zip(movers, holes, strict=True):
                req[b], pos[b], last[b] = req[a], pos[a], last[a]
                req[a] = -1
        return m


def _common_prefix(prompts: Sequence[Sequence[int]]) -> int:
    """Length of the token prefix all prompts share, leaving each at least one token."""
    first = prompts[0]
    n = min(len(p) for p in prompts) - 1
    for p in prompts[1:]:
        m = 0
        while m < n and p[m] == first[m]:
            m += 1
        n = m
    return max(n, 0)


@dataclass(frozen=True)
class StreamEvent:
    """A live update of one prompt of :func:`stream_batch`: its text so far, or its end."""

    index: int
    text: str
    done: bool
    generation: Generation | None = None


def stream_batch(
    lm: LoadedModel, prompts: Sequence[str], cfg: GenerationConfig, **kw: Any
) -> Iterator[StreamEvent]:
    """Generate every prompt in one engine batch and yield each one's text as it grows.

    The engine runs in a background thread; events come at most every ``every`` seconds per
    prompt, then one ``done`` event with the finished :class:`Generation` per prompt (also
    when ``stop`` is set: rows end with the tokens they have). Models the engine does not
    support stream one prompt after another through their backend. Keywords (``stop``,
    ``every``, ``share``, ``loops``) as :func:`stream_joint`.
    """
    if lm.remote or unsupported_reason(lm) is not None:
        backend = lm.backend or TRANSFORMERS
        for i, p in enumerate(prompts):
            text, started = "", time.perf_counter()
            for piece in backend.stream(lm, p, cfg):
                text += piece
                yield StreamEvent(i, text, False)
                if kw.get("stop") is not None and kw["stop"].is_set():
                    break
            yield StreamEvent(
                i, text.strip(), True, Generation(text.strip(), 0, time.perf_counter() - started)
            )
        return
    yield from stream_joint([lm], prompts, cfg, **kw)


def stream_joint(
    lms: Sequence[LoadedModel],
    prompts: Sequence[str],
    cfg: GenerationConfig,
    *,
    stop: threading.Event | None = None,
    every: float = 0.05,
    share: int = 1,
    loops: int | None = None,
) -> Iterator[StreamEvent]:
    """:func:`stream_batch` for every model of ``lms`` in one engine run (:func:`generate_joint`).

    Event ``index`` ``m * len(prompts) + i`` is prompt ``i`` on model ``m``.
    """
    stop = stop or threading.Event()
    n_prompts = len(prompts)
    total = n_prompts * len(lms)
    events: queue_mod.Queue = queue_mod.Queue()
    tokens: dict[int, list[int]] = {i: [] for i in range(total)}

    def on_tokens(batch: list[tuple[int, int]]) -> None:
        events.put(("tokens", batch))

    def work() -> None:
        try:
            gens = generate_joint(
                lms,
                prompts,
                cfg,
                on_tokens=on_tokens,
                stop=stop,
                on_batch=lambda idx, g: events.put(("done", list(zip(idx, g, strict=True)))),
                share=share,
                loops=loops,
            )
            events.put(("end", gens))
        except BaseException as exc:  # surfaced as errors on the unfinished rows
            events.put(("error", exc))

    thread = threading.Thread(target=work, daemon=True, name="srllm-stream")
    thread.start()
    finished: set[int] = set()
    wake = 0.0
    try:
        while len(finished) < total:
            # wake at most every ``every`` seconds and take whatever arrived: a consumer
            # woken on every step steals a core from the decode loop's threads
            time.sleep(max(0.0, wake - time.perf_counter()))
            batch = [events.get()]
            while True:
                try:
                    batch.append(events.get_nowait())
                except queue_mod.Empty:
                    break
            wake = time.perf_counter() + every
            changed: set[int] = set()
            ended: list[StreamEvent] = []
            for kind, payload in batch:
                if kind == "tokens":
                    for i, t in payload:
                        tokens[i].append(t)
                        changed.add(i)
                elif kind == "done":
                    for i, g in payload:
                        finished.add(i)
                        ended.append(StreamEvent(i, g.text or "", True, g))
                elif kind == "end":
                    for i, g in enumerate(payload):
                        if i not in finished:
                            finished.add(i)
                            g = g or Generation(None, 0, 0.0, error="the engine stopped")
                            ended.append(StreamEvent(i, g.text or "", True, g))
                else:
                    err = f"{type(payload).__name__}: {payload}"
                    for i in range(total):
                        if i not in finished:
                            finished.add(i)
                            ended.append(
                                StreamEvent(i, "", True, Generation(None, 0, 0.0, error=err))
                            )
            for i in sorted(changed - finished):
                tok = lms[i // n_prompts].tokenizer
                yield StreamEvent(i, tok.decode(tokens[i], skip_special_tokens=True), False)
            yield from ended
    finally:
        if len(finished) < total:  # the caller went away (a rerun, a stop button)
            stop.set()
