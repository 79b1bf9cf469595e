"""Fine-tune MiniLM's top transformer layer(s) for toxicity (the ``tox_tuned`` pooling).

The frozen encoder's mean-pooled vector reads topic more than stance: it cannot tell "X are
not welcome here" from "X are welcome here", nor a recipe's "beat the eggs" from a threat.
This trains copies of the encoder's top ``LAYERS`` layers, end to end with a linear head, on
the toxicity corpus (``recipe.toxicity_corpus``, ToxiGen left out so that its group-wise
figure stays held out), over the hidden states entering them, computed once by the frozen
encoder. At scoring time the tuned stack reads the same hidden states as the frozen layers,
in the same forward pass (``embed.ContextEncoder.encode_pooled``): ``LAYERS`` extra layers
of six.

Weights: ``data/scoring/toxicity_layer.safetensors`` (the stack's state dict, float32; keys
``"<i>.<name>"``; a one-layer file of the first rounds has the layer's own keys).
"""

from __future__ import annotations

import sys
import time
from collections.abc import Sequence

import numpy as np

from srllm.scoring.embed import (
    CHARS_PER_TOKEN,
    NUM_LAYERS,
    clip,
    get_context_encoder,
    run_stack,
)

EPOCHS = 2
LR = 2e-4
HEAD_LR = 1e-3
BATCH = 32
WARMUP = 100
SEED = 0
LAYERS = 2  # how many top layers are tuned (one in the first rounds)


def hidden_batches(
    texts: Sequence[str], max_tokens: int, batch_size: int = 64, index: int | None = None
) -> list:
    """Length-sorted batches ``(rows, hidden float16, mask)``: ``hidden_states[index]``.

    ``index`` defaults to the hidden state entering the tuned stack of ``LAYERS`` layers.

    The frozen encoder's hidden states, computed once; the tuned layer trains on them.
    """
    import torch

    index = NUM_LAYERS - LAYERS if index is None else index
    enc = get_context_encoder()
    clean = [clip(t, max_tokens * CHARS_PER_TOKEN) or " " for t in texts]
    order = sorted(range(len(clean)), key=lambda i: len(clean[i]))
    out = []
    with torch.inference_mode():
        for start in range(0, len(order), batch_size):
            rows = order[start : start + batch_size]
            tok, res = enc.forward([clean[i] for i in rows], max_tokens)
            out.append((np.array(rows), res.hidden_states[index].half(), tok["attention_mask"]))
    return out


def fit_toxicity_layer(
    texts: Sequence[str],
    y: np.ndarray,
    weight: np.ndarray,
    *,
    max_tokens: int,
    epochs: int = EPOCHS,
    lr: float = LR,
    layers: int | None = None,
    log=None,
) -> dict:
    """The tuned top ``layers``' state dict (``"<i>.<name>"`` -> float32 tensor).

    Trained on prepared ``texts``; ``embed.ContextEncoder.set_tox_layer`` loads the stack.

    Loss: binary cross-entropy of a linear head over the L2-normalised mean of the layer's
    output, weighted by ``weight`` (rows of weight 0 are not trained on). Seeded.
    """
    import torch

    torch.manual_seed(SEED)
    t0 = time.perf_counter()
    say = log or (lambda msg: print(msg, file=sys.stderr, flush=True))
    layers = LAYERS if layers is None else layers
    keep = np.flatnonzero(np.asarray(weight) > 0)
    batches = hidden_batches([texts[i] for i in keep], max_tokens, index=NUM_LAYERS - layers)
    say(f"tox layer: hidden states of {len(keep)} texts ({time.perf_counter() - t0:.0f} s)")
    enc = get_context_encoder()
    layer = enc.tuned_stack(layers).train()
    head = torch.nn.Linear(enc.dim, 1)
    opt = torch.optim.AdamW(
        [
            {"params": layer.parameters(), "lr": lr, "weight_decay": 0.01},
            {"params": head.parameters(), "lr": HEAD_LR},
        ]
    )
    pieces = [
        (rows[s : s + BATCH], h[s : s + BATCH], m[s : s + BATCH])
        for rows, h, m in batches
        for s in range(0, len(rows), BATCH)
    ]
    steps = max(1, epochs * len(pieces))
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda k: min(1.0, (k + 1) / WARMUP) * max(0.0, 1.0 - k / steps)
    )
    yt = torch.tensor(np.asarray(y)[keep], dtype=torch.float32)
    wt = torch.tensor(np.asarray(weight)[keep], dtype=torch.float32)
    rng = np.random.default_rng(SEED)
    bce = torch.nn.functional.binary_cross_entropy_with_logits
    for epoch in range(epochs):
        total = 0.0
        for j in rng.permutation(len(pieces)):
            rows, h, m = pieces[j]
            idx = torch.from_numpy(rows)
            out = run_stack(layer, h.float(), m)
            mf = m.unsqueeze(-1).float()
            v = torch.nn.functional.normalize((out * mf).sum(1) / mf.sum(1).clamp(min=1), dim=-1)
            logit = head(v * 10.0).squeeze(-1)
            loss = (bce(logit, yt[idx], reduction="none") * wt[idx]).sum() / wt[idx].sum()
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
            total += float(loss.detach())
        say(
            f"tox layer: epoch {epoch + 1}/{epochs} loss {total / len(pieces):.4f} "
            f"({time.perf_counter() - t0:.0f} s)"
        )
    return {k: v.detach().clone().float().contiguous() for k, v in layer.state_dict().items()}
