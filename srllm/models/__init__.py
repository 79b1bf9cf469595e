"""Model loading and generation behind one interface used by the pipeline and the pages."""

from srllm.models.generation import backend_for, generate, stream
from srllm.models.loading import (
    EMBEDDED,
    available_models,
    default_adapter,
    embedded_cache_path,
    embedded_gguf_path,
    ensure_embedded_cached,
    find_adapters,
    load_model,
    model_hashes,
    resolve_model,
)
from srllm.models.types import Backend, Generation, LoadedModel, chat_text

__all__ = [
    "EMBEDDED",
    "Backend",
    "Generation",
    "LoadedModel",
    "available_models",
    "backend_for",
    "chat_text",
    "default_adapter",
    "embedded_cache_path",
    "embedded_gguf_path",
    "ensure_embedded_cached",
    "find_adapters",
    "generate",
    "load_model",
    "model_hashes",
    "resolve_model",
    "stream",
]
