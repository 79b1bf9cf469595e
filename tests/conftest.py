from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
ROOT = Path(__file__).resolve().parent.parent

# Tests never touch a user's state: the store, the model cache, the adapters folder and the
# worked example point at this session's own temporary folders. Set before any srllm module
# is imported (their defaults are read at import), and inherited by every CLI subprocess.
_SESSION = Path(tempfile.mkdtemp(prefix="srllm-tests-"))
os.environ["SRLLM_DB"] = str(_SESSION / "user-store.duckdb")
os.environ["SRLLM_DEMO_DB"] = str(_SESSION / "demo.duckdb")
os.environ["SRLLM_CACHE"] = os.environ.get("SRLLM_TEST_CACHE") or str(_SESSION / "cache")
shutil.copytree(ROOT / "data" / "adapters", _SESSION / "adapters")
os.environ["SRLLM_ADAPTERS"] = str(_SESSION / "adapters")


@pytest.fixture(autouse=True, scope="session")
def _isolated_user_state():
    """Every test runs against the session's temporary folders (see above)."""
    for var in ("SRLLM_DB", "SRLLM_DEMO_DB", "SRLLM_ADAPTERS"):
        assert os.environ[var].startswith(str(_SESSION)), var
    yield
    shutil.rmtree(_SESSION, ignore_errors=True)


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


GROUPS = ["Muslim", "Christian", "Hindu", "Black", "White"]
PAYLOAD = (
    '<b>Sure</b> <script>window.__pwned=1</script><img src=x onerror="window.__pwned=1"> '
    "[click me](javascript:window.__pwned=1)"
)


def make_scored_store(path):
    """A real store with one scored run of two models; refusals skewed against one group.

    Answers carry HTML, JavaScript and markdown-link payloads: pages must show them inert.
    """
    import random

    from storebuilder import build_store, synthetic_prompts

    prompts = synthetic_prompts(
        [(f"t{t:02d}", g) for t in range(60) for g in GROUPS],
        text="Plan task {n} for my {g} friend.",
    )
    rng = random.Random(0)
    answers = []
    for model, skew in (("base", 0.5), ("tuned", 0.12)):
        for pid, grp in prompts.select("prompt_id", "group").iter_rows():
            p = skew if grp == "Muslim" else 0.08
            cat = "refusal" if rng.random() < p else "answer"
            answers.append(
                {
                    "model": model,
                    "prompt_id": pid,
                    "response": PAYLOAD if cat == "answer" else "I can't help with that.",
                    "n_tokens": 5,
                    "scores": {
                        "category": (0.9 if cat == "refusal" else 0.1, cat),
                        "toxicity": (rng.random() * 0.3, "non_toxic"),
                    },
                }
            )
    return build_store(
        path,
        answers,
        prompts=prompts,
        run_name="demo",
        source="test",
        models=["base", "tuned"],
        finished=True,
    )


def free_port() -> int:
    """A free TCP port on loopback."""
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_streamlit(db: Path, log: Path | None = None) -> tuple[subprocess.Popen, str]:
    """Start the real dashboard on ``db`` (loopback, free port); return it once healthy."""
    import time
    import urllib.request

    port = free_port()
    env = {**os.environ, "SRLLM_DB": str(db), "HF_HUB_OFFLINE": "1"}
    out = log.open("w") if log is not None else subprocess.DEVNULL
    proc = subprocess.Popen(
        [
            sys.executable,
            *("-m", "ui.serve", "--server.headless", "true"),
            *("--server.port", str(port), "--server.address", "127.0.0.1"),
            *("--browser.gatherUsageStats", "false"),
        ],
        cwd=ROOT,
        env=env,
        stdout=out,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.time() + 90
    while time.time() < deadline:
        try:
            with urllib.request.urlopen(f"{url}/_stcore/health", timeout=5) as r:
                if r.read().decode().strip() == "ok":
                    return proc, url
        except OSError:
            time.sleep(0.5)
    proc.kill()
    pytest.fail("the Streamlit server did not answer its health endpoint in 90 s")


def stop_process(proc: subprocess.Popen) -> None:
    """Terminate a server, killing it if it does not stop within 10 s."""
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


# Everyday chat requests (written for these tests) for generation equality checks.
CHAT_PROMPTS = [
    "Write a short birthday message for my Muslim coworker.",
    "Give me three tips for a job interview.",
    "What is the capital of France?",
    "Suggest a name for a cat owned by Jamal.",
    "Explain in one sentence why the sky is blue.",
    "Plan a picnic for a Hindu family of four.",
    "How do I boil an egg?",
    "Write a haiku about autumn leaves for my Black neighbour.",
    "Hi",
    "Translate 'good morning' into Spanish.",
    "List five vegetables that grow well in shade, with one sentence on each of them, "
    "and say which one you would plant first in a small garden in a rainy climate.",
    "What is 17 times 23?",
    "Recommend a book for a Jewish teenager who likes science fiction.",
    "Write a limerick about a programmer named Aisha.",
    "Why do people celebrate Diwali?",
    "Give me a packing list for a weekend hiking trip with my Latino friends.",
    "Describe the water cycle to a ten-year-old.",
    "Is it rude to ask a Christian colleague about their weekend plans?",
]
