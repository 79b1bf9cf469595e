"""train.py: the smoke preset end to end on the real embedded model."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from conftest import ROOT


def _pairs(path, n=40):
    with open(path, "w") as fh:
        for i in range(n):
            fh.write(
                json.dumps(
                    {
                        "prompt": f"Share calm-morning tip {i}.",
                        "response": f"Tip {i}: drink water, stretch and breathe.",
                    }
                )
                + "\n"
            )
    return path


@pytest.mark.slow
def test_smoke_preset_writes_an_adapter_that_loads_and_generates(tmp_path):
    out = tmp_path / "adapter"
    data = _pairs(tmp_path / "pairs.jsonl")
    res = subprocess.run(
        [
            sys.executable,
            "train.py",
            "--preset",
            "smoke",
            "--output",
            str(out),
            "--data",
            str(data),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert res.returncode == 0, res.stderr[-2000:]
    assert (out / "adapter_model.safetensors").is_file()
    meta = json.loads((out / "train_meta.json").read_text())
    assert meta["global_steps"] == 4 and meta["log"]
    assert meta["energy"]["kg_co2e"] == pytest.approx(meta["energy"]["kwh"] * 0.4)
    assert meta["data"][0]["sha256"]

    from srllm.config import GenerationConfig
    from srllm.models import generate, load_model, resolve_model

    losses = [r["loss"] for r in meta["log"] if "loss" in r]
    assert len(losses) >= 2 and losses[-1] < losses[0], losses  # it learned something

    lm = load_model(resolve_model(f"base+{out}"))
    gen = generate(lm, ["Share calm-morning tip 3."], GenerationConfig(max_new_tokens=12))[0]
    assert gen.error is None and gen.text
    # The adapter changes the model: its loss on a training pair is below the base's.
    base = load_model(resolve_model("base"))
    pair = ("Share calm-morning tip 3.", "Tip 3: drink water, stretch and breathe.")
    assert _pair_loss(lm, *pair) < _pair_loss(base, *pair) - 0.05


def _pair_loss(lm, prompt: str, response: str) -> float:
    import torch

    from srllm.models import chat_text

    tok = lm.tokenizer
    head = tok(chat_text(tok, prompt), add_special_tokens=False)["input_ids"]
    tail = tok(response, add_special_tokens=False)["input_ids"]
    ids = torch.tensor([head + tail])
    labels = torch.tensor([[-100] * len(head) + tail])
    with torch.no_grad():
        return float(lm.model(input_ids=ids, labels=labels).loss)


def test_4bit_preset_on_cpu_says_it_needs_cuda(tmp_path):
    import torch

    if torch.cuda.is_available():
        pytest.skip("CUDA present: the 4-bit path is tested by the GPU test")
    res = subprocess.run(
        [
            sys.executable,
            "train.py",
            "--preset",
            "srllm-paper",
            "--output",
            str(tmp_path / "o"),
            "--data",
            str(_pairs(tmp_path / "p.jsonl")),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert res.returncode == 2
    assert "needs a CUDA GPU" in res.stderr and "Traceback" not in res.stderr


@pytest.mark.parametrize("line", ['{"prompt": "x"}', "not json", '["a", "b"]'])
def test_bad_training_data_is_one_line_exit_2(tmp_path, line):
    bad = tmp_path / "bad.jsonl"
    bad.write_text(line + "\n")
    res = subprocess.run(
        [
            sys.executable,
            "train.py",
            "--preset",
            "smoke",
            "--output",
            str(tmp_path / "o"),
            "--data",
            str(bad),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert res.returncode == 2, res.stderr
    assert res.stderr.startswith("train.py: error:") and "Traceback" not in res.stderr


@pytest.mark.gpu
def test_srllm_paper_preset_runs_a_few_steps_in_4bit(tmp_path):
    torch = pytest.importorskip("torch")
    if not torch.cuda.is_available():
        pytest.skip("needs CUDA")
    pytest.importorskip("bitsandbytes")
    out = tmp_path / "qlora"
    res = subprocess.run(
        [
            sys.executable,
            "train.py",
            "--preset",
            "srllm-paper",
            "--output",
            str(out),
            "--data",
            str(_pairs(tmp_path / "p.jsonl", 64)),
            "--max-steps",
            "3",
            "--per-device-train-batch-size",
            "4",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    assert res.returncode == 0, res.stderr[-2000:]
    meta = json.loads((out / "train_meta.json").read_text())
    assert meta["config"]["load_in_4bit"] and meta["global_steps"] == 3
    assert (out / "adapter_model.safetensors").is_file()
    # the adapter loads on the 4-bit base built from the same settings
    from srllm.config import ModelSpec
    from srllm.models import load_model

    lm = load_model(ModelSpec(name="q", adapter=str(out), load_in_4bit=True))
    q = lm.model.config.quantization_config
    assert q.bnb_4bit_use_double_quant is True and str(q.bnb_4bit_compute_dtype).endswith(
        "bfloat16"
    )


def test_4bit_config_follows_the_training_arguments():
    """--double-quant and --compute-dtype reach the bitsandbytes config (no GPU needed)."""
    import importlib.util

    import torch

    spec = importlib.util.spec_from_file_location("train", ROOT / "train.py")
    train = importlib.util.module_from_spec(spec)
    sys.modules["train"] = train  # dataclasses look their module up there
    spec.loader.exec_module(train)
    from srllm.models.loading import quantization_config

    args = train.parse_args(
        ["--output", "/tmp/x", "--load-in-4bit", "--no-double-quant", "--compute-dtype", "float16"]
    )
    q = quantization_config(train.model_spec(args, "embedded:smollm2-135m", cuda=True))
    assert q.bnb_4bit_use_double_quant is False and q.bnb_4bit_compute_dtype == torch.float16


def test_warmup_ratio_is_a_share_of_the_steps_and_args_are_frozen():
    import dataclasses
    import importlib.util

    spec = importlib.util.spec_from_file_location("train", ROOT / "train.py")
    train = importlib.util.module_from_spec(spec)
    sys.modules["train"] = train  # dataclasses look their module up there
    spec.loader.exec_module(train)
    args = train.parse_args(["--output", "/tmp/x", "--preset", "cpu-lora"])
    targs = train.training_arguments(
        args, __import__("pathlib").Path("/tmp/x"), use_eval=True, cuda=False
    )
    assert targs.get_warmup_steps(1000) == round(1000 * args.warmup_ratio)  # 30, not 0
    with pytest.raises(dataclasses.FrozenInstanceError):
        args.lora_r = 1
