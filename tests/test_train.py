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
    assert meta["quantization"] is None  # full precision: no 4-bit config on the model
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
    """The 4-bit flags reach the loaded model (train_meta reads them back from it); it learns."""
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
            "--no-double-quant",
            "--compute-dtype",
            "float16",
            "--max-steps",
            "8",
            "--per-device-train-batch-size",
            "4",
            "--logging-steps",
            "1",
            "--learning-rate",
            "1e-3",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    assert res.returncode == 0, res.stderr[-2000:]
    meta = json.loads((out / "train_meta.json").read_text())
    assert meta["global_steps"] == 8
    # what the loaded model carried, not the flags echoed back (those are in meta["config"])
    assert meta["quantization"] == {
        "load_in_4bit": True,
        "quant_type": "nf4",
        "double_quant": False,
        "compute_dtype": "float16",
    }
    losses = [r["loss"] for r in meta["log"] if "loss" in r]
    assert len(losses) >= 4 and sum(losses[-2:]) / 2 < losses[0], losses  # it learned
    assert (out / "adapter_model.safetensors").is_file()
    # the adapter loads on a 4-bit base built from the same settings
    from srllm.config import ModelSpec
    from srllm.models import load_model

    spec = ModelSpec(
        name="q", adapter=str(out), load_in_4bit=True, double_quant=False, compute_dtype="float16"
    )
    q = load_model(spec).model.config.quantization_config
    assert q.bnb_4bit_use_double_quant is False and q.bnb_4bit_compute_dtype == torch.float16


def _train_module():
    import importlib.util

    spec = importlib.util.spec_from_file_location("train", ROOT / "train.py")
    train = importlib.util.module_from_spec(spec)
    sys.modules["train"] = train  # dataclasses look their module up there
    spec.loader.exec_module(train)
    return train


def test_train_meta_records_the_quantization_the_model_carries():
    """``quantization_record`` reads the model's config: 4-bit settings, or None."""
    from types import SimpleNamespace

    import torch
    from transformers import BitsAndBytesConfig, LlamaConfig

    record = _train_module().quantization_record
    bnb = BitsAndBytesConfig(
        load_in_4bit=True,
        bnb_4bit_quant_type="nf4",
        bnb_4bit_use_double_quant=False,
        bnb_4bit_compute_dtype=torch.float16,
    )
    want = {
        "load_in_4bit": True,
        "quant_type": "nf4",
        "double_quant": False,
        "compute_dtype": "float16",
    }
    config = LlamaConfig(
        hidden_size=8, intermediate_size=8, num_hidden_layers=1, num_attention_heads=2
    )
    assert record(SimpleNamespace(config=config)) is None  # full precision
    config.quantization_config = bnb
    assert record(SimpleNamespace(config=config)) == want
    config.quantization_config = bnb.to_dict()  # the form a saved config carries
    assert record(SimpleNamespace(config=config)) == want


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
