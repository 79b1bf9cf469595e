"""Frozen, validated configuration dataclasses shared by the CLI, the pipeline and the pages."""

from __future__ import annotations

import argparse
import dataclasses
import functools
import os
import sys
import threading
import types
import typing
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, TypeVar

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


def _meta(help_text: str, **cli: str) -> dict[str, str]:
    """Field metadata: its help, plus ``metavar`` or ``no_help`` for its command-line flag."""
    return {"help": help_text, **cli}


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

    max_new_tokens: int = field(default=64, metadata=_meta("new tokens per response"))
    temperature: float = field(default=0.0, metadata=_meta("0 = greedy"))
    top_p: float = field(default=1.0, metadata=_meta("nucleus sampling mass when sampling"))
    seed: int = field(default=0, metadata=_meta("seed for sampling; per prompt and sample"))
    batch_size: int = field(default=16, metadata=_meta("prompts generated together"))
    system_prompt: str | None = field(default=None, metadata=_meta("system message for every chat"))

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

    prompts: str = field(metadata=_meta("built-in set (qos, stereotype, default) or file"))
    models: tuple[str, ...] = field(
        metadata=_meta("comma-separated: base,tuned,DIR,org/name,openai:URL#MODEL")
    )
    run_name: str | None = field(
        default=None, metadata=_meta("name of the run; the same name resumes it")
    )
    samples: int = field(default=1, metadata=_meta("responses per prompt (needs sampling)"))
    limit: int | None = field(default=None, metadata=_meta("only the first N prompts"))
    generation: GenerationConfig = field(default_factory=GenerationConfig)
    score: bool = field(
        default=True,
        metadata=_meta(
            "score responses as they are stored", no_help="store responses without scoring"
        ),
    )
    judge: str | None = field(
        default=None,
        metadata=_meta(
            "also judge every response with this OpenAI-compatible model (stored as scorer "
            "'judge'; a malformed answer is kept as 'malformed' with the raw answer)",
            metavar="openai:URL#MODEL",
        ),
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


def _flag_type(hint: Any) -> Any:
    """The type behind an annotation: ``int`` for ``int | None``."""
    args = typing.get_args(hint)
    if typing.get_origin(hint) in (typing.Union, types.UnionType) and type(None) in args:
        (inner,) = [a for a in args if a is not type(None)]
        return inner
    return hint


def comma_list(text: str) -> tuple[str, ...]:
    """``"a, b,,c"`` -> ``("a", "b", "c")``: the parts of a comma-separated flag."""
    return tuple(part.strip() for part in text.split(",") if part.strip())


def add_dataclass_arguments(
    parser: argparse.ArgumentParser,
    cls: type,
    *,
    include: Iterable[str] | None = None,
    exclude: Iterable[str] = (),
    defaults: Mapping[str, Any] | None = None,
    overrides: bool = False,
) -> None:
    """Add one ``--field-name`` flag per field of the config dataclass ``cls``.

    Help is the field's ``help`` metadata, the default its default (or ``defaults[name]``),
    the type its annotation's: ``int``, ``float``, ``str`` (or None of those) and
    ``tuple[str, ...]`` as a comma-separated list. A field without a default is a required
    flag. A bool is ``--name`` when it defaults to False and ``--no-name`` (help: its
    ``no_help``) when it defaults to True. A field holding a config dataclass adds that
    one's flags in its place. ``include``/``exclude`` pick fields by name (nested ones
    too). With ``overrides``, every flag defaults to None and keeps the text as given, and
    a bool is ``--name``/``--no-name``: for values laid over others (see ``train.py``).
    """
    hints = typing.get_type_hints(cls)
    wanted = None if include is None else set(include)
    skip, given = set(exclude), dict(defaults or {})
    for f in dataclasses.fields(cls):
        hint = hints.get(f.name, f.type)
        if dataclasses.is_dataclass(hint):
            add_dataclass_arguments(
                parser, hint, include=wanted, exclude=skip, defaults=given, overrides=overrides
            )
            continue
        if f.name in skip or (wanted is not None and f.name not in wanted):
            continue
        flag, meta = "--" + f.name.replace("_", "-"), f.metadata
        kwargs: dict[str, Any] = {"dest": f.name, "help": meta.get("help")}
        if "metavar" in meta:
            kwargs["metavar"] = meta["metavar"]
        if f.name in given:
            default = given[f.name]
        elif f.default is not dataclasses.MISSING:
            default = f.default
        elif f.default_factory is not dataclasses.MISSING:
            default = f.default_factory()
        else:
            default = dataclasses.MISSING
        typ = _flag_type(hint)
        if overrides:
            if typ is bool:
                kwargs["action"] = argparse.BooleanOptionalAction
            parser.add_argument(flag, default=None, **kwargs)
        elif typ is bool and default is True:
            kwargs["help"] = meta.get("no_help", kwargs["help"])
            flag = "--no-" + f.name.replace("_", "-")
            parser.add_argument(flag, action="store_false", default=True, **kwargs)
        elif typ is bool:
            parser.add_argument(flag, action="store_true", default=False, **kwargs)
        else:
            if typing.get_origin(typ) is tuple:
                kwargs["type"] = comma_list
            elif typ in (int, float):
                kwargs["type"] = typ
            if default is dataclasses.MISSING:
                kwargs["required"] = True
            else:
                kwargs["default"] = default
            parser.add_argument(flag, **kwargs)


T = TypeVar("T")


def config_from_args(cls: type[T], args: argparse.Namespace) -> T:
    """Build ``cls`` (and the config dataclasses it holds) from parsed flags.

    Fields without a flag keep their default.
    """
    hints = typing.get_type_hints(cls)
    kwargs: dict[str, Any] = {}
    for f in dataclasses.fields(cls):
        hint = hints.get(f.name, f.type)
        if dataclasses.is_dataclass(hint):
            kwargs[f.name] = config_from_args(hint, args)
        elif hasattr(args, f.name):
            kwargs[f.name] = getattr(args, f.name)
    return cls(**kwargs)


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


def nice_step() -> int:
    """How much batch work lowers its priority: ``SRLLM_NICE`` (default 10; 0: not at all)."""
    try:
        return int(os.environ.get("SRLLM_NICE", "10"))
    except ValueError:
        return 10


def lower_batch_priority() -> int:
    """Give the command line's batch work a lower CPU priority (``nice``) than the dashboard.

    ``SRLLM_NICE`` (default 10; 0 keeps the priority) is added to this process's niceness.
    Alone on the machine a niced audit runs at full speed; beside the dashboard it yields
    the cores while a live probe runs (a few seconds) instead of halving its speed. Returns
    the new niceness (0 where the platform has none).
    """
    step = nice_step()
    if step <= 0 or not hasattr(os, "nice"):
        return 0
    try:
        return os.nice(step)
    except OSError:
        return 0


def lower_thread_priority(step: int | None = None) -> int:
    """Lower the calling thread's CPU priority by ``step`` (default ``SRLLM_NICE``, 10).

    On Linux the nice value is a thread's own and the threads it starts inherit it, so a
    dashboard's background audit (a thread of the server process) yields the cores to the
    pages and the live probe while they work. Returns the thread's new niceness (0 where the
    platform has no per-thread priority or ``step`` is 0).
    """
    step = nice_step() if step is None else step
    get_tid = getattr(threading, "get_native_id", None)
    if step <= 0 or not sys.platform.startswith("linux") or get_tid is None:
        return 0
    try:
        tid = get_tid()
        now = os.getpriority(os.PRIO_PROCESS, tid)
        os.setpriority(os.PRIO_PROCESS, tid, min(19, now + step))
        return os.getpriority(os.PRIO_PROCESS, tid)
    except OSError:
        return 0


def sha256_file_cached(path: str | Path) -> str:
    """:func:`sha256_file` of a whole file, hashed once per (path, size, modification time).

    For checks that pages rerun often (the shipped toxicity record's weight hashes).
    """
    st = Path(path).stat()
    return _sha256_of(str(path), st.st_size, st.st_mtime_ns)


@functools.lru_cache(maxsize=32)
def _sha256_of(path: str, size: int, mtime_ns: int) -> str:
    return sha256_file(path)


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
