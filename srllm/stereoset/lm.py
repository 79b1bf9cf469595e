"""Sentence scores from any causal LM (with or without adapter; CPU or CUDA; batched).

A sentence's score is the StereoSet one in log space: the mean natural-log probability of
its tokens, ``(1/n) * sum_i log p(t_i | ...)``, i.e. the log of the geometric mean of the
token probabilities. Only the ranking of an item's three sentences matters for the metrics.

Conditioning (``conditioning``):

* ``"official"`` (default) mirrors StereoSet's ``evaluation`` code for GPT-2: the first
  token's probability comes from the model's next-token distribution after the start token
  alone (computed once); every later token is conditioned on the preceding tokens of the
  sentence *without* the start token (the sentence is fed as is).
* ``"prefix"`` feeds ``[start] + sentence`` in one pass, so every token also sees the start
  token.

The start token (``start_token="auto"``): the vocabulary's ``<|endoftext|>`` when it has
one, else ``tokenizer.bos_token_id``, else ``tokenizer.eos_token_id``. ``<|endoftext|>`` is
what the official scorer used (it is GPT-2's ``bos_token``) and it is the document separator
of the SmolLM2 pretraining corpus. SmolLM2-135M-Instruct declares ``<|im_start|>`` (id 1) as
its ``bos_token``, but that token opens a chat turn and is followed by a role name, not by
plain text; for this model ``auto`` therefore picks ``<|endoftext|>`` (id 0). For
vocabularies without ``<|endoftext|>`` (Llama 2's ``<s>``, ...) it is the declared BOS.

Batching: sentences are tokenized without special tokens and run in batches under
``torch.inference_mode``, with *right* padding and an explicit attention mask (the
project's loader pads on the left for generation; these batches never use its padding).
Log-probabilities are taken in float32 whatever the model's dtype (fp32 on CPU with the
project's loader). Two layouts (``packing``):

* ``"none"``: one sentence per row, rows sorted by length, a 2-D padding mask.
* ``"trie"``: sentences sorted lexicographically by token ids and packed into rows as prefix
  tries (tree attention): a shared prefix is computed once, each token attends to its own
  ancestors only (a 4-D mask) at position = its depth, so a causal LM gives every sentence
  the log-probabilities it gives it alone (up to float rounding). Only tokens that condition
  another token are fed (a sentence's last token is only a prediction target; ``"none"``
  drops it too). An item's three sentences share their context's opening, so on the
  StereoSet dev set this feeds 28.6k tokens instead of 57.9k (64.2k for a naive scorer);
  it is what brings the full set under 3 minutes on 2 CPU cores. ``"auto"`` (default)
  first checks on a probe that the model honours custom 4-D masks and position ids (its
  scores agree with ``"none"``) and falls back to ``"none"`` with a warning otherwise.

Measured (``bench/stereoset_speed.py``, SmolLM2-135M, float32, 2 CPU cores shared with
other jobs, load average 3.9, ``OMP_WAIT_POLICY=PASSIVE``): the full dev set (2,106 items,
6,318 sentences) in 111 s (57 sentences/s); trie packing 2.1x faster than padded batches
and 7.8x faster than one sentence per forward pass in the same run; 76.6 s in an earlier
run. ``python -m srllm stereoset --models base,tuned`` took 116 s (base) and 130 s (tuned,
unmerged LoRA). Linear layers take 83% of the time (a profile), so this is close to what
the CPU can do in float32. Without a passive OpenMP wait policy, threads spinning on a
shared CPU made the same work up to 10x slower (see :func:`prefer_passive_openmp`).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np

from srllm.errors import DataError, ModelError

log = logging.getLogger(__name__)

Conditioning = Literal["official", "prefix"]
CONDITIONINGS: tuple[str, ...] = ("official", "prefix")
Packing = Literal["auto", "trie", "none"]
PACKINGS: tuple[str, ...] = ("auto", "trie", "none")
DOC_SEPARATOR = "<|endoftext|>"


def start_token_id(tokenizer: Any, start_token: str | int = "auto") -> int:
    """The id of the beginning-of-text token that conditions a sentence's first token.

    ``"auto"`` follows the rule in the module docstring; an int is taken as an id; any
    other string must be one token of the vocabulary (e.g. ``"<|im_start|>"``).
    """
    vocab_size = len(tokenizer)
    if isinstance(start_token, int):
        if not 0 <= start_token < vocab_size:
            raise ModelError(f"start token id {start_token} is outside the vocabulary")
        return start_token
    if start_token == "auto":
        vocab = tokenizer.get_vocab()
        if DOC_SEPARATOR in vocab:
            return int(vocab[DOC_SEPARATOR])
        for tid in (tokenizer.bos_token_id, tokenizer.eos_token_id):
            if tid is not None:
                return int(tid)
        raise ModelError("the tokenizer has no <|endoftext|>, BOS or EOS token to start from")
    if start_token.lstrip("-").isdigit():
        return start_token_id(tokenizer, int(start_token))
    tid = tokenizer.get_vocab().get(start_token)
    if tid is None:
        raise ModelError(f"start token {start_token!r} is not one token of this vocabulary")
    return int(tid)


def tokenize_sentences(tokenizer: Any, sentences: Sequence[str]) -> list[list[int]]:
    """Token ids of each sentence, without special tokens (the start token is added apart)."""
    if not sentences:
        return []
    ids = tokenizer(list(sentences), add_special_tokens=False)["input_ids"]
    empty = [i for i, x in enumerate(ids) if not x]
    if empty:
        raise DataError(f"{len(empty)} StereoSet sentence(s) tokenize to nothing")
    return [list(x) for x in ids]


def score_sentences(
    loaded: Any,
    sentences: Sequence[str],
    *,
    batch_size: int = 64,
    start_token: str | int = "auto",
    conditioning: Conditioning = "official",
    packing: Packing = "auto",
    row_tokens: int = 96,
    progress: Callable[[int, int], None] | None = None,
) -> np.ndarray:
    """Mean log-probability per token of each sentence (float64, in input order).

    ``loaded`` is a :class:`srllm.models.LoadedModel` (or anything with ``.model``,
    ``.tokenizer`` and ``.device``); the model may be a ``PeftModel``. ``batch_size`` is
    the number of sentences per forward pass. ``packing`` (see the module docstring):
    ``"none"`` runs one sentence per row, ``"trie"`` packs prefix tries into rows of about
    ``row_tokens`` tokens, ``"auto"`` uses the trie after checking on a probe that it gives
    the plain scores for this model (and falls back to ``"none"`` with a warning if not).
    ``progress`` is called with (sentences done, total) after each batch.
    """
    import torch

    if batch_size < 1:
        raise DataError("batch size must be at least 1")
    if row_tokens < 1:
        raise DataError("row_tokens must be at least 1")
    if conditioning not in CONDITIONINGS:
        raise DataError(f"unknown conditioning {conditioning!r} ({', '.join(CONDITIONINGS)})")
    if packing not in PACKINGS:
        raise DataError(f"unknown packing {packing!r} ({', '.join(PACKINGS)})")
    model, tokenizer, device = loaded.model, loaded.tokenizer, loaded.device
    start = start_token_id(tokenizer, start_token)
    ids = tokenize_sentences(tokenizer, sentences)
    if conditioning == "prefix":
        ids = [[start, *x] for x in ids]
    total = len(ids)
    scores = np.full(total, np.nan, dtype=np.float64)
    if progress is not None:
        progress(0, total)
    if not total:
        return scores
    pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else start
    runner = _Runner(model=model, device=device, pad_id=pad_id)
    model.eval()
    with torch.inference_mode():
        if conditioning == "official":
            start_ids = torch.tensor([[start]], dtype=torch.long, device=device)
            logits = model(input_ids=start_ids, use_cache=False).logits[0, -1].float()
            runner.first_logp = torch.log_softmax(logits, dim=-1).cpu().numpy()
        if packing == "auto":
            packing = "trie" if runner.trie_agrees(ids, row_tokens) else "none"
        if packing == "trie":
            runner.run_trie(ids, scores, batch_size, row_tokens, progress)
        else:
            runner.run_plain(ids, scores, batch_size, progress)
    if not np.isfinite(scores).all():
        raise ModelError("the model gave a non-finite sentence score (NaN/inf logits)")
    return scores


@dataclass
class _Row:
    """One packed row: a forest of token tries, nodes in insertion order (parents first)."""

    tokens: list[int] = field(default_factory=list)
    parents: list[int] = field(default_factory=list)
    depths: list[int] = field(default_factory=list)
    ends: list[tuple[int, int]] = field(default_factory=list)  # (sentence index, end node)
    children: dict[tuple[int, int], int] = field(default_factory=dict)

    @property
    def n_fed(self) -> int:
        """Nodes with children: the tokens a forward pass needs (leaves are only targets)."""
        return len({p for p in self.parents if p >= 0})

    def fed_nodes(self) -> list[int]:
        """Indices of the nodes with children, in order (parents before children)."""
        have_children = {p for p in self.parents if p >= 0}
        return [j for j in range(len(self.tokens)) if j in have_children]

    def missing(self, seq: Sequence[int]) -> int:
        """How many nodes adding ``seq`` would create."""
        node = -1
        for k, tok in enumerate(seq):
            nxt = self.children.get((node, tok))
            if nxt is None:
                return len(seq) - k
            node = nxt
        return 0

    def add(self, index: int, seq: Sequence[int]) -> None:
        """Insert sentence ``index`` with tokens ``seq``, sharing any existing prefix."""
        node = -1
        for depth, tok in enumerate(seq):
            nxt = self.children.get((node, tok))
            if nxt is None:
                nxt = len(self.tokens)
                self.children[(node, tok)] = nxt
                self.tokens.append(tok)
                self.parents.append(node)
                self.depths.append(depth)
            node = nxt
        self.ends.append((index, node))


def build_rows(ids: Sequence[Sequence[int]], row_tokens: int) -> list[_Row]:
    """Sort sentences lexicographically by token ids and pack them greedily into tries.

    A row grows until one more sentence would push it past ``row_tokens`` nodes (a longer
    sentence gets a row of its own). Sharing comes from the sort: an item's three sentences
    share their context's prefix, and so do items with the same opening words.
    """
    order = sorted(range(len(ids)), key=lambda i: ids[i])
    rows: list[_Row] = []
    row = _Row()
    for i in order:
        need = row.missing(ids[i])
        if row.tokens and len(row.tokens) + need > row_tokens:
            rows.append(row)
            row = _Row()
        row.add(i, ids[i])
    if row.tokens or row.ends:
        rows.append(row)
    return rows


@dataclass
class _Runner:
    """Forward passes and log-probability bookkeeping for one model."""

    model: Any
    device: Any
    pad_id: int
    first_logp: np.ndarray | None = None  # official conditioning: log p(. | start)

    def _dtype(self) -> Any:
        import torch

        dtype = getattr(self.model, "dtype", torch.float32)
        return dtype if dtype.is_floating_point else torch.float32

    def run_plain(
        self,
        ids: Sequence[Sequence[int]],
        scores: np.ndarray,
        batch_size: int,
        progress: Callable[[int, int], None] | None,
    ) -> None:
        """One sentence per row, rows sorted by length, right padding, 2-D attention mask.

        A sentence's last token only ever is a prediction target, so it is not fed.
        """
        import torch

        order = np.argsort([len(x) for x in ids], kind="stable")
        done = 0
        for lo in range(0, len(ids), batch_size):
            chunk = order[lo : lo + batch_size]
            seqs = [ids[i] for i in chunk]
            counts = np.array([len(x) - 1 for x in seqs], dtype=float)
            sums = np.zeros(len(seqs))
            width = int(counts.max())
            if width > 0:
                input_ids = torch.full((len(seqs), width), self.pad_id, dtype=torch.long)
                target = torch.full((len(seqs), width), self.pad_id, dtype=torch.long)
                mask = torch.zeros((len(seqs), width), dtype=torch.long)
                for row, seq in enumerate(seqs):  # right padding: real tokens first
                    n = len(seq) - 1
                    input_ids[row, :n] = torch.tensor(seq[:-1], dtype=torch.long)
                    target[row, :n] = torch.tensor(seq[1:], dtype=torch.long)
                    mask[row, :n] = 1
                input_ids, mask = input_ids.to(self.device), mask.to(self.device)
                target = target.to(self.device)
                out = self.model(input_ids=input_ids, attention_mask=mask, use_cache=False)
                pred = out.logits.float()
                logp = pred.gather(-1, target.unsqueeze(-1)).squeeze(-1) - torch.logsumexp(pred, -1)
                sums = torch.where(mask.bool(), logp, 0.0).sum(dim=1).double().cpu().numpy()
            if self.first_logp is not None:
                sums = sums + self.first_logp[[seq[0] for seq in seqs]]
                counts = counts + 1
            scores[chunk] = sums / counts
            done += len(seqs)
            if progress is not None:
                progress(done, len(ids))

    def run_trie(
        self,
        ids: Sequence[Sequence[int]],
        scores: np.ndarray,
        batch_size: int,
        row_tokens: int,
        progress: Callable[[int, int], None] | None,
    ) -> None:
        """Packed tries: several sentences per row, 4-D ancestor mask, depth positions.

        Only nodes with children are fed (a leaf only is a prediction target); rows are
        batched in order of their fed length, to keep padding small.
        """
        rows = build_rows(ids, row_tokens)
        rows.sort(key=lambda r: r.n_fed)
        done = 0
        lo = 0
        while lo < len(rows):
            hi, n_sent = lo, 0
            while hi < len(rows) and (n_sent == 0 or n_sent + len(rows[hi].ends) <= batch_size):
                n_sent += len(rows[hi].ends)
                hi += 1
            self._score_rows(rows[lo:hi], scores)
            lo = hi
            done += n_sent
            if progress is not None:
                progress(done, len(ids))

    def _score_rows(self, rows: Sequence[_Row], scores: np.ndarray) -> None:
        import torch

        fed = [r.fed_nodes() for r in rows]
        width = max(len(f) for f in fed)
        n_rows = len(rows)
        node_logp: list[np.ndarray] = [np.zeros(len(r.tokens)) for r in rows]
        if width:
            input_ids = np.full((n_rows, width), self.pad_id, dtype=np.int64)
            positions = np.zeros((n_rows, width), dtype=np.int64)
            allowed = np.zeros((n_rows, width, width), dtype=bool)
            allowed[:, np.arange(width), np.arange(width)] = True  # pads see themselves only
            b_idx, p_idx, tok, owner = [], [], [], []
            for b, (row, nodes) in enumerate(zip(rows, fed, strict=True)):
                slot = {node: k for k, node in enumerate(nodes)}
                input_ids[b, : len(nodes)] = [row.tokens[n] for n in nodes]
                positions[b, : len(nodes)] = [row.depths[n] for n in nodes]
                anc = allowed[b]
                for k, node in enumerate(nodes):  # a node sees its ancestors and itself
                    parent = row.parents[node]
                    if parent >= 0:
                        anc[k, :k] = anc[slot[parent], :k]
                for j, parent in enumerate(row.parents):  # log p(node | its ancestors)
                    if parent >= 0:
                        b_idx.append(b)
                        p_idx.append(slot[parent])
                        tok.append(row.tokens[j])
                        owner.append(j)
            dtype = self._dtype()
            mask = torch.zeros((n_rows, 1, width, width), dtype=dtype)
            mask.masked_fill_(~torch.from_numpy(allowed).unsqueeze(1), torch.finfo(dtype).min)
            logits = self.model(
                input_ids=torch.from_numpy(input_ids).to(self.device),
                attention_mask=mask.to(self.device),
                position_ids=torch.from_numpy(positions).to(self.device),
                use_cache=False,
            ).logits
            if b_idx:
                bt = torch.tensor(b_idx, device=logits.device)
                pt = torch.tensor(p_idx, device=logits.device)
                tt = torch.tensor(tok, device=logits.device)
                # one log-normaliser per fed position, however many children it predicts
                lse = torch.logsumexp(logits.float(), dim=-1)
                values = (logits[bt, pt, tt].float() - lse[bt, pt]).double().cpu().numpy()
                for b, j, v in zip(b_idx, owner, values, strict=True):
                    node_logp[b][j] = v
        for row, lp in zip(rows, node_logp, strict=True):
            cum = np.zeros(len(row.tokens))
            for j, parent in enumerate(row.parents):  # parents come before their children
                if parent >= 0:
                    cum[j] = cum[parent] + lp[j]
                elif self.first_logp is not None:  # official: first token given the start
                    cum[j] = self.first_logp[row.tokens[j]]
                # prefix conditioning: the root is the start token itself, which scores 0
            for index, end in row.ends:
                n_scored = row.depths[end] + (1 if self.first_logp is not None else 0)
                scores[index] = cum[end] / n_scored

    def trie_agrees(self, ids: Sequence[Sequence[int]], row_tokens: int) -> bool:
        """Whether trie packing reproduces plain scores for this model on a probe row."""
        probe_rows = build_rows(ids, row_tokens)[:1]
        probe = [ids[i] for i, _ in probe_rows[0].ends][:16]
        plain = np.full(len(probe), np.nan)
        packed = np.full(len(probe), np.nan)
        self.run_plain(probe, plain, len(probe), None)
        try:
            self.run_trie(probe, packed, len(probe), row_tokens, None)
        except Exception as exc:  # an architecture without custom 4-D mask support
            log.warning("trie packing fails for this model (%s): scoring unpacked", exc)
            return False
        tol = 1e-4 if self._dtype().itemsize >= 4 else 5e-2
        diff = float(np.max(np.abs(plain - packed)))
        if not np.isfinite(diff) or diff > tol:
            log.warning(
                "trie packing changes scores by %.2g for this model: scoring unpacked", diff
            )
            return False
        return True
