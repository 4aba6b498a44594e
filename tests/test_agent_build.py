"""Assembling the agent: the merged model cache keyed by the adapters' content."""

from __future__ import annotations

import hashlib

import pytest
import torch

from companion import finetune
from companion.agent import build


def _adapter(folder, config: bytes, weights: bytes):
    folder.mkdir()
    (folder / "adapter_config.json").write_bytes(config)
    (folder / "adapter_model.safetensors").write_bytes(weights)
    return folder


def test_the_adapters_hash_covers_every_file_in_stack_order(tmp_path):
    a = _adapter(tmp_path / "a", b"{}", b"weights a")
    b = _adapter(tmp_path / "b", b"{}", b"weights b")
    reference = hashlib.sha256()
    for weights in (b"weights a", b"weights b"):
        reference.update(b"adapter_config.json" + b"{}")
        reference.update(b"adapter_model.safetensors" + weights)
    assert build.adapters_hash([a, b]) == reference.hexdigest()
    assert build.adapters_hash([b, a]) != build.adapters_hash([a, b])  # the order matters
    before = build.merged_model_dir([a, b])
    (b / "adapter_model.safetensors").write_bytes(b"weights b, retrained")
    assert build.merged_model_dir([a, b]) != before  # new adapters, new folder
    assert before.name.startswith(build.MERGED_PREFIX)


@pytest.mark.slow
def test_the_merged_model_is_cached_and_loads_back_identical(tmp_path, monkeypatch):
    target = tmp_path / "merged"
    monkeypatch.setattr(build, "merged_model_dir", lambda folders: target)
    merged, _ = build.load_merged(finetune.AGENT_ADAPTERS)  # a miss: merged, then written
    assert (target / "manifest.json").is_file() and not list(tmp_path.glob(".*partial*"))
    cached, tokenizer = build.load_merged(finetune.AGENT_ADAPTERS)  # a hit: read back
    assert not cached.training and tokenizer.chat_template
    reference = merged.state_dict()
    for name, weight in cached.state_dict().items():
        assert torch.equal(weight, reference[name]), name
