"""bench/generation.py: a crashing llama.cpp peer is reported with its signal, never fatal."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys

import pytest
from conftest import ROOT

BENCH = ROOT / "bench" / "generation.py"
TINY = ["--prompts", "2", "--new-tokens", "2", "--rounds", "1", "--check", "2", "--threads", "1"]


def _bench_module():
    spec = importlib.util.spec_from_file_location("bench_generation", BENCH)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def _run_bench(crash: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "SRLLM_BENCH_CRASH_PEER": crash, "HF_HUB_OFFLINE": "1"}
    return subprocess.run(
        [sys.executable, str(BENCH), *TINY],
        capture_output=True,
        text=True,
        timeout=600,
        cwd=ROOT,
        env=env,
        check=False,
    )


def test_host_cpu_reads_the_model_and_the_avx512_and_amx_flags():
    host_cpu = _bench_module().host_cpu
    info = "model name\t: Intel(R) Xeon(R) Platinum 8480+\nflags\t\t: sse avx2 avx512f amx_tile\n"
    assert host_cpu(info) == {
        "model": "Intel(R) Xeon(R) Platinum 8480+",
        "avx512f": True,
        "amx": True,
        "amx_flags": ["amx_tile"],
    }
    plain = host_cpu("model name\t: AMD EPYC\nflags\t\t: sse avx2 fma\n")
    assert plain["avx512f"] is False and plain["amx"] is False


def test_a_peer_killed_by_a_signal_is_reported_with_that_signal(tmp_path, monkeypatch):
    """The peer runs in a child process: its SIGSEGV comes back as words, not as our death."""
    monkeypatch.setenv("SRLLM_BENCH_CRASH_PEER", "single")
    ids = tmp_path / "ids.json"
    ids.write_text(json.dumps([[1, 2, 3], [4, 5]]))
    name, outputs, seconds, why = _bench_module().run_worker("single", ids, 2, 1, 2)
    assert (name, outputs, seconds) == (None, None, None)
    assert why == "killed by SIGSEGV"


@pytest.mark.slow
def test_bench_completes_when_every_llama_cpp_peer_crashes():
    """The crash hook fires before llama.cpp loads, so this runs without llama-cpp-python."""
    res = _run_bench("single,batched")
    assert res.returncode == 0, res.stderr[-3000:]
    out = json.loads(res.stdout)
    assert out["crashed"] == {
        "llama.cpp single": "killed by SIGSEGV",
        "llama.cpp batched": "killed by SIGSEGV",
    }
    assert out["ours_tokens_per_s"] > 0 and out["peers"] == {} and out["ratio"] is None
    assert out["per_round"][0]["single"] == {"crashed": "killed by SIGSEGV"}
    assert set(out["cpu"]) == {"model", "avx512f", "amx", "amx_flags"}
    assert out["cpu"] == _bench_module().host_cpu()


@pytest.mark.slow
def test_bench_carries_on_with_the_live_peer_when_one_peer_crashes():
    if importlib.util.find_spec("llama_cpp") is None:
        pytest.skip("llama_cpp is not importable (scripts/setup.sh --dev builds llama-cpp-python)")
    res = _run_bench("single")
    assert res.returncode == 0, res.stderr[-3000:]
    out = json.loads(res.stdout)
    assert out["crashed"] == {"llama.cpp single": "killed by SIGSEGV"}
    assert len(out["peers"]) == 1 and out["best_peer"].startswith("llama.cpp batched")
    assert out["ratio_vs_best_peer"] is not None and out["ratio_vs_best_peer"] > 0
