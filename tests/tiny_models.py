"""Tiny random models shared by the tests (not a test module: pytest collects nothing here)."""

from __future__ import annotations

import torch
from transformers import LlamaConfig, LlamaForCausalLM


def tiny_llama(seed: int = 0, n_kv_heads: int = 2, eos: int = 2) -> LlamaForCausalLM:
    """A random 2-layer Llama: fast, and every feature of SmolLM2's layout (GQA, RoPE, tying)."""
    torch.manual_seed(seed)
    config = LlamaConfig(
        vocab_size=64, hidden_size=32, intermediate_size=48, num_hidden_layers=2,
        num_attention_heads=4, num_key_value_heads=n_kv_heads, max_position_embeddings=64,
        rope_theta=1000.0, rms_norm_eps=1e-5, tie_word_embeddings=True, eos_token_id=eos,
        pad_token_id=eos, bos_token_id=1,
    )
    return LlamaForCausalLM(config).eval()
