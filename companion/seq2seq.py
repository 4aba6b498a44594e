"""Chapter 4's two toys beside the decoder: characters as tokens, and the original Transformer's
encoder-decoder in miniature.

- :class:`CharTokenizer`: every character its own token, the tokenizer of chapter 4's pretraining
  in miniature (a :class:`~companion.decoder.DecoderLM` trained on Python's documentation).
- :class:`EncoderDecoder`: an encoder (bidirectional self-attention) and a decoder whose blocks add
  cross-attention to the encoder's output, trained on a toy translation, reversing a sequence
  (:func:`reversal_batch`, :func:`train_reversal`, :func:`greedy_translate`).

Built from the decoder's parts (``RMSNorm``, ``SwiGLU``) and chapter 3's ``MultiHeadAttention``;
imports point down: seq2seq -> decoder -> attention.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn
from torch.nn import functional as F

from companion.attention import MultiHeadAttention
from companion.decoder import RMSNorm, SwiGLU


class CharTokenizer:
    """Characters as tokens: the simplest tokenizer, for pretraining in miniature (chapter 4)."""

    def __init__(self, text: str) -> None:
        if not text:
            raise ValueError("CharTokenizer needs a non-empty text to collect its characters")
        self.chars = sorted(set(text))
        self.index = {c: i for i, c in enumerate(self.chars)}

    @property
    def vocab_size(self) -> int:
        return len(self.chars)

    def encode(self, text: str) -> Tensor:
        """Token ids of ``text``; characters never seen raise ValueError."""
        unknown = sorted(set(text) - self.index.keys())
        if unknown:
            raise ValueError(f"characters not in the vocabulary: {unknown[:10]}")
        return torch.tensor([self.index[c] for c in text], dtype=torch.long)

    def decode(self, ids: Tensor | list[int]) -> str:
        return "".join(self.chars[i] for i in (ids.tolist() if isinstance(ids, Tensor) else ids))


class EncoderDecoder(nn.Module):
    """The original Transformer's layout, tiny: an encoder (bidirectional self-attention) and a
    decoder whose blocks add encoder-decoder (cross) attention between self-attention and the MLP:
    ``y = y + CrossAttn(Norm(y), memory)`` (chapter 4). Learned positions, no RoPE."""

    def __init__(self, vocab_size: int, d_model: int = 64, n_heads: int = 4, n_layers: int = 2,
                 max_len: int = 64) -> None:
        super().__init__()
        self.embed = nn.Embedding(vocab_size, d_model)
        self.position = nn.Embedding(max_len, d_model)

        def block(cross: bool) -> nn.ModuleDict:
            parts = {"norm1": RMSNorm(d_model), "self_attn": MultiHeadAttention(d_model, n_heads),
                     "norm2": RMSNorm(d_model), "mlp": SwiGLU(d_model, 4 * d_model)}
            if cross:
                parts |= {"norm_x": RMSNorm(d_model),
                          "cross_attn": MultiHeadAttention(d_model, n_heads)}
            return nn.ModuleDict(parts)

        self.encoder = nn.ModuleList(block(False) for _ in range(n_layers))
        self.decoder = nn.ModuleList(block(True) for _ in range(n_layers))
        self.encoder_norm = RMSNorm(d_model)
        self.norm = RMSNorm(d_model)
        self.lm_head = nn.Linear(d_model, vocab_size, bias=False)

    def _embed(self, ids: Tensor) -> Tensor:
        if ids.shape[1] > self.position.num_embeddings:
            raise ValueError(f"sequence of {ids.shape[1]} tokens exceeds max_len="
                             f"{self.position.num_embeddings}")
        return self.embed(ids) + self.position(torch.arange(ids.shape[1], device=ids.device))

    def forward(self, source: Tensor, target: Tensor) -> tuple[Tensor, list[Tensor]]:
        """Logits ``(B, T_target, vocab)`` for the next target tokens, and each decoder layer's
        cross-attention weights ``(B, heads, T_target, T_source)``."""
        memory = self._embed(source)
        for blk in self.encoder:
            memory = memory + blk["self_attn"](blk["norm1"](memory)).output
            memory = memory + blk["mlp"](blk["norm2"](memory))
        memory = self.encoder_norm(memory)
        y, cross = self._embed(target), []
        for blk in self.decoder:
            y = y + blk["self_attn"](blk["norm1"](y), causal=True).output
            attended = blk["cross_attn"](blk["norm_x"](y), context=memory, need_weights=True)
            y = y + attended.output
            cross.append(attended.weights)
            y = y + blk["mlp"](blk["norm2"](y))
        return self.lm_head(self.norm(y)), cross


REVERSAL_BOS = 0
"""Start symbol of the reversal task; the symbols to reverse are 1..n_symbols."""


def reversal_batch(
    batch_size: int, length: int, n_symbols: int, generator: torch.Generator | None = None
) -> tuple[Tensor, Tensor]:
    """A toy translation task: ``source`` random symbols, ``target`` the same reversed."""
    source = torch.randint(1, n_symbols + 1, (batch_size, length), generator=generator)
    return source, source.flip(1)


def train_reversal(
    model: EncoderDecoder, steps: int, length: int, n_symbols: int, batch_size: int = 64,
    lr: float = 3e-3, generator: torch.Generator | None = None,
) -> list[float]:
    """Teacher forcing: the decoder reads ``[BOS] + target[:-1]`` and predicts ``target``."""
    optimizer = torch.optim.AdamW(model.parameters(), lr=lr)
    losses = []
    model.train()
    for _ in range(steps):
        source, target = reversal_batch(batch_size, length, n_symbols, generator)
        decoder_in = F.pad(target[:, :-1], (1, 0), value=REVERSAL_BOS)
        logits, _ = model(source, decoder_in)
        loss = F.cross_entropy(logits.flatten(0, 1), target.flatten())
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    model.eval()
    return losses


@torch.no_grad()
def greedy_translate(model: EncoderDecoder, source: Tensor) -> tuple[Tensor, list[Tensor]]:
    """Decode as many tokens as ``source`` has, greedily; returns them and the last step's
    cross-attention weights of every decoder layer."""
    out = torch.full((source.shape[0], 1), REVERSAL_BOS, dtype=torch.long, device=source.device)
    for _ in range(source.shape[1]):
        logits, cross = model(source, out)
        out = torch.cat((out, logits[:, -1:].argmax(-1)), dim=1)
    return out[:, 1:], cross
