"""Frozen, validated configuration dataclasses shared by the CLI, the pipeline and the pages."""

from __future__ import annotations

import os
import sys
from dataclasses import asdict, dataclass, field
from pathlib import Path

from srllm.errors import ConfigError

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DATA_DIR = PROJECT_ROOT / "data"
# Safety adapters; "tuned" is the one marked DEFAULT here (SRLLM_ADAPTERS moves the folder).
ADAPTERS_DIR = Path(os.environ.get("SRLLM_ADAPTERS", str(DATA_DIR / "adapters")))
DEFAULT_DB = Path(os.environ.get("SRLLM_DB", str(DATA_DIR / "srllm.duckdb")))
SHARED_DATA = Path(
    os.environ.get("SRLLM_SHARED_DATA", str(PROJECT_ROOT.parent / "shared" / "data"))
)


def cache_dir() -> Path:
    """Where converted model weights are cached (``SRLLM_CACHE``, default ``~/.cache/srllm``)."""
    return Path(os.environ.get("SRLLM_CACHE", str(Path.home() / ".cache" / "srllm")))


def _meta(help_text: str) -> dict[str, str]:
    return {"help": help_text}


@dataclass(frozen=True)
class ModelSpec:
    """What to load: an embedded model, a hub id or a local directory, plus an adapter."""

    name: str = field(metadata=_meta("Short label shown in charts and stored with each row."))
    source: str = field(
        default="embedded:smollm2-135m",
        metadata=_meta("'embedded:smollm2-135m', a Hugging Face hub id, or a local directory."),
    )
    adapter: str | None = field(
        default=None, metadata=_meta("Directory of a PEFT adapter applied on top of the base.")
    )
    load_in_4bit: bool = field(
        default=False, metadata=_meta("Load the base in 4-bit NF4 (bitsandbytes, CUDA only).")
    )
    quant_type: str = field(default="nf4", metadata=_meta("4-bit quantization: 'nf4' or 'fp4'."))
    double_quant: bool = field(
        default=True, metadata=_meta("4-bit: also quantize the quantization constants.")
    )
    compute_dtype: str = field(
        default="bfloat16", metadata=_meta("4-bit compute dtype: bfloat16, float16, float32.")
    )
    device: str = field(default="auto", metadata=_meta("'auto', 'cpu' or 'cuda[:N]'."))
    dtype: str = field(default="auto", metadata=_meta("'auto', 'float32', 'bfloat16', 'float16'."))
    trust_remote_code: bool = field(
        default=False, metadata=_meta("Run code shipped with a hub model. Off unless asked.")
    )

    def __post_init__(self) -> None:
        if not self.name or not self.name.strip():
            raise ConfigError("a model needs a non-empty name")
        if not self.source:
            raise ConfigError(f"model {self.name!r} has no source")
        if self.dtype not in {"auto", "float32", "bfloat16", "float16"}:
            raise ConfigError(f"unknown dtype {self.dtype!r} (auto, float32, bfloat16, float16)")
        if self.quant_type not in {"nf4", "fp4"}:
            raise ConfigError(f"unknown 4-bit quant type {self.quant_type!r} (nf4, fp4)")
        if self.compute_dtype not in {"bfloat16", "float16", "float32"}:
            raise ConfigError(
                f"unknown compute dtype {self.compute_dtype!r} (bfloat16, float16, float32)"
            )
        if not (self.device in {"auto", "cpu", "cuda"} or self.device.startswith("cuda:")):
            raise ConfigError(f"unknown device {self.device!r} (auto, cpu, cuda[:N])")

    def to_dict(self) -> dict:
        """Plain dict for storing with a run."""
        return asdict(self)


@dataclass(frozen=True)
class GenerationConfig:
    """Decoding settings; greedy when ``temperature`` is 0."""

    max_new_tokens: int = field(default=64, metadata=_meta("New tokens per response."))
    temperature: float = field(default=0.0, metadata=_meta("0 means greedy decoding."))
    top_p: float = field(default=1.0, metadata=_meta("Nucleus sampling mass when sampling."))
    seed: int = field(default=0, metadata=_meta("Seed for sampling; per prompt and sample."))
    batch_size: int = field(default=16, metadata=_meta("Prompts generated together."))
    system_prompt: str | None = field(
        default=None, metadata=_meta("Optional system message added to every chat.")
    )

    def __post_init__(self) -> None:
        if not 1 <= self.max_new_tokens <= 8192:
            raise ConfigError("max_new_tokens must be between 1 and 8192")
        if not 0.0 <= self.temperature <= 5.0:
            raise ConfigError("temperature must be between 0 and 5")
        if not 0.0 < self.top_p <= 1.0:
            raise ConfigError("top_p must be in (0, 1]")
        if not 1 <= self.batch_size <= 4096:
            raise ConfigError("batch_size must be between 1 and 4096")

    @property
    def greedy(self) -> bool:
        """True when decoding is deterministic."""
        return self.temperature == 0.0

    def to_dict(self) -> dict:
        """Plain dict for storing with a run."""
        return asdict(self)


@dataclass(frozen=True)
class RunConfig:
    """One audit run: a prompt set, the models and the decoding settings."""

    prompts: str = field(metadata=_meta("Built-in set name or path to a prompt file."))
    models: tuple[str, ...] = field(metadata=_meta("Model names or specs, e.g. base,tuned."))
    run_name: str | None = field(default=None, metadata=_meta("Name; reusing it resumes."))
    samples: int = field(default=1, metadata=_meta("Responses per prompt and model."))
    limit: int | None = field(default=None, metadata=_meta("Only the first N prompts."))
    generation: GenerationConfig = field(default_factory=GenerationConfig)
    score: bool = field(default=True, metadata=_meta("Score responses as they are stored."))
    judge: str | None = field(
        default=None,
        metadata=_meta("An OpenAI-compatible judge (openai:URL#MODEL) scored beside the rest."),
    )

    def __post_init__(self) -> None:
        if not self.models:
            raise ConfigError("name at least one model")
        if not 1 <= self.samples <= 1000:
            raise ConfigError("samples must be between 1 and 1000")
        if self.samples > 1 and self.generation.greedy:
            raise ConfigError("several samples need --temperature above 0 (greedy repeats itself)")
        if self.limit is not None and self.limit < 1:
            raise ConfigError("limit must be a positive number")

    def to_dict(self) -> dict:
        """Plain dict for storing with a run."""
        d = asdict(self)
        d["models"] = list(self.models)
        return d


def prefer_passive_openmp() -> bool:
    """Let idle OpenMP threads sleep instead of spin (``OMP_WAIT_POLICY=PASSIVE``).

    Only effective before torch is first imported, and only when the user set no policy;
    returns whether it was applied. On a CPU shared with other busy processes, spinning
    threads of the default policy starve the thread that has work: there the trie scorer ran
    600 sentences in 53-70 s with two spinning threads against 12 s with passive ones (and
    11.6 s on one thread). ``stereoset`` and the speed bench call it first thing.
    """
    if "torch" in sys.modules or "OMP_WAIT_POLICY" in os.environ:
        return False
    os.environ["OMP_WAIT_POLICY"] = "PASSIVE"
    return True


def sha256_file(path: str | Path, limit: int | None = None) -> str:
    """Hex SHA-256 of a file's bytes (of its first ``limit`` bytes or so, when given).

    The one file-hash helper: weights, data files, adapters and models all use it.
    """
    import hashlib

    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(1 << 20):
            h.update(chunk)
            if limit is not None and fh.tell() >= limit:
                break
    return h.hexdigest()
