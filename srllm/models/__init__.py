"""Model loading and generation behind one interface used by the pipeline and the pages."""

from srllm.models.generation import Generation, chat_text, generate, stream
from srllm.models.loading import (
    EMBEDDED,
    LoadedModel,
    available_models,
    default_adapter,
    embedded_cache_path,
    embedded_gguf_path,
    ensure_embedded_cached,
    find_adapters,
    load_model,
    resolve_model,
)

__all__ = [
    "EMBEDDED",
    "Generation",
    "LoadedModel",
    "available_models",
    "chat_text",
    "default_adapter",
    "embedded_cache_path",
    "embedded_gguf_path",
    "ensure_embedded_cached",
    "find_adapters",
    "generate",
    "load_model",
    "resolve_model",
    "stream",
]
