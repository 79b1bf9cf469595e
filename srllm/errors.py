"""Typed errors. The CLI and pages turn any ``SrllmError`` into one clear line."""


class SrllmError(Exception):
    """Base class for every error a user can cause or fix."""


class ConfigError(SrllmError):
    """A configuration value is invalid."""


class PromptSetError(SrllmError):
    """A prompt set or template file cannot be read or expanded."""


class ModelError(SrllmError):
    """A model or adapter cannot be found or loaded."""


class StoreError(SrllmError):
    """The DuckDB store cannot be opened, migrated or written."""


class StoreBusyError(StoreError):
    """Another process holds the write lock on the store."""


class DataError(SrllmError):
    """An input data file is malformed (columns, types, encoding)."""
