"""The worked example's manifest names what anyone needs to regenerate it."""

from __future__ import annotations

import hashlib
import json

from srllm import demo
from srllm.models import default_adapter, embedded_gguf_path, load_model, resolve_model
from srllm.prompts import prompt_set_hash
from srllm.store import Store


def test_demo_manifest_records_prompt_set_model_and_adapter_hashes(tmp_path, monkeypatch):
    # a tiny example (2 groups, 2 templates, 4 tokens) built the way `python -m srllm demo` does
    monkeypatch.setattr(demo, "DEMO_GROUPS", ("Muslim", "Christian"))
    monkeypatch.setattr(demo, "QOS_TEMPLATES", 1)
    monkeypatch.setattr(demo, "STEREOTYPE_TEMPLATES", 1)
    monkeypatch.setattr(demo, "MAX_NEW_TOKENS", 4)
    db = tmp_path / "demo.duckdb"
    run_id = demo.build_demo(db)

    manifest = json.loads(demo.manifest_path(db).read_text())
    assert manifest["run_id"] == run_id
    run = Store(db, read_only=True).require_run(run_id)
    assert manifest["prompt_set_hash"] == run["prompt_set_hash"]
    assert manifest["prompt_set_hash"] == prompt_set_hash(demo.demo_prompts())
    models = {m["name"]: m for m in manifest["models"]}
    assert set(models) == {"base", "tuned"}
    # what `sha256sum` prints for the embedded GGUF file
    gguf = hashlib.sha256(embedded_gguf_path().read_bytes()).hexdigest()
    assert models["base"]["model_sha256"] == gguf
    assert models["tuned"]["model_sha256"] == gguf
    assert models["base"]["adapter"] is None and models["base"]["adapter_sha256"] is None
    # the tuned model's adapter: named, with the hash a loaded model's fingerprint records
    assert models["tuned"]["adapter"] == default_adapter().name
    tuned = load_model(resolve_model("tuned"))
    assert models["tuned"]["adapter_sha256"] == tuned.fingerprint["adapter_sha256"]
    assert len(models["tuned"]["adapter_sha256"]) == 64
