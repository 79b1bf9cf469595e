from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared" / "data"
FIXTURES = Path(__file__).parent / "fixtures"


def shared_path(*parts: str) -> Path:
    """A file in ../shared/data, or skip the test saying which path was missing."""
    path = SHARED.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"reference data not found at {path}")
    return path


@pytest.fixture(scope="session")
def base_model():
    """The real embedded model, loaded once per test session."""
    from srllm.models import load_model, resolve_model

    return load_model(resolve_model("base"))


def run_cli(
    *args: str, timeout: float = 600, env: dict | None = None
) -> subprocess.CompletedProcess:
    """Run ``python -m srllm`` as a user would."""
    return subprocess.run(
        [sys.executable, "-m", "srllm", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=ROOT,
        env={**os.environ, **(env or {})},
        check=False,
    )
