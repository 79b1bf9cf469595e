"""srllm: audit the safety behaviour of chat LLMs across demographic groups."""

__version__ = "0.1.0"
