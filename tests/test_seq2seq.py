"""companion.seq2seq: the character tokenizer and the encoder-decoder that learns to reverse."""

from __future__ import annotations

import pytest
import torch

from companion.seq2seq import (
    REVERSAL_BOS,
    CharTokenizer,
    EncoderDecoder,
    greedy_translate,
    reversal_batch,
    train_reversal,
)


def test_char_tokenizer_round_trips_and_rejects_unknown_characters():
    chars = CharTokenizer("hello world")
    assert chars.vocab_size == 8 and chars.decode(chars.encode("low hello")) == "low hello"
    with pytest.raises(ValueError, match=r"not in the vocabulary: \['z'\]"):
        chars.encode("zero")


def test_encoder_decoder_cross_attention_learns_to_reverse():
    torch.manual_seed(0)
    model = EncoderDecoder(vocab_size=6, d_model=32, n_heads=2, n_layers=1, max_len=8)
    source, target = reversal_batch(4, 5, 5, torch.Generator().manual_seed(1))
    assert torch.equal(target, source.flip(1)) and source.min() >= 1
    logits, cross = model(source, target)
    assert logits.shape == (4, 5, 6) and cross[0].shape == (4, 2, 5, 5)
    torch.testing.assert_close(cross[0].sum(-1), torch.ones(4, 2, 5))
    train_reversal(model, steps=120, length=5, n_symbols=5,
                   generator=torch.Generator().manual_seed(0))
    source, target = reversal_batch(200, 5, 5, torch.Generator().manual_seed(2))
    predicted, _ = greedy_translate(model, source)
    assert (predicted == target).float().mean() > 0.9


def test_encoder_decoder_rejects_sequences_longer_than_max_len():
    model = EncoderDecoder(vocab_size=6, d_model=16, n_heads=2, n_layers=1, max_len=4)
    with pytest.raises(ValueError, match="sequence of 5 tokens exceeds max_len=4"):
        model(torch.ones(1, 5, dtype=torch.long), torch.ones(1, 2, dtype=torch.long))


def test_char_tokenizer_rejects_an_empty_text():
    with pytest.raises(ValueError, match="non-empty text"):
        CharTokenizer("")


def test_reversal_never_uses_the_start_symbol():
    source, _ = reversal_batch(64, 6, 3, torch.Generator().manual_seed(0))
    assert source.min() > REVERSAL_BOS and source.max() <= 3
