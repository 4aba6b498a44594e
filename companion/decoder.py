"""A decoder-only language model, small enough to read in one sitting (chapter 4: The decoder).

``DecoderLM`` is the Llama recipe that SmolLM2 follows: token embedding, ``n_layers`` blocks of
(RMSNorm, grouped-query self-attention with RoPE, residual; RMSNorm, SwiGLU MLP, residual), a final
RMSNorm and an LM head tied to the embedding. :meth:`DecoderLM.from_hf` copies the weights of a
transformers Llama-family model; ``tests/test_decoder.py`` proves the logits and the generated text
equal transformers'. :meth:`DecoderLM.generate` decodes with a KV cache: greedy, sampling (with
temperature, top-k, top-p) and beam search; ``fast=True`` runs the same model through
:mod:`companion.fastdecode`. The encoder-decoder toy and the character tokenizer of the chapter
live in :mod:`companion.seq2seq`.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor, nn
from torch.nn import functional as F

from companion import fastdecode
from companion.attention import KVCache, MultiHeadAttention, padding_mask, rope_cos_sin

STRATEGIES: tuple[str, ...] = ("greedy", "sample", "top_k", "top_p", "beam")
Cache = list[KVCache]
"""The model's KV cache: one ``(keys, values)`` pair per block."""


@dataclass(frozen=True)
class DecoderConfig:
    """The shape of a :class:`DecoderLM` (chapter 4)."""

    vocab_size: int
    d_model: int
    n_layers: int
    n_heads: int
    d_ff: int
    n_kv_heads: int | None = None
    head_dim: int | None = None
    max_seq_len: int = 2048
    rope_theta: float = 10_000.0
    norm_eps: float = 1e-5
    eos_token_id: int | None = None

    def __post_init__(self) -> None:
        for name in ("vocab_size", "d_model", "n_layers", "n_heads", "d_ff", "max_seq_len"):
            if getattr(self, name) <= 0:
                raise ValueError(f"{name} must be positive, got {getattr(self, name)}")

    @classmethod
    def from_hf(cls, config) -> DecoderConfig:
        """Read a transformers ``LlamaConfig`` (SmolLM2's, for instance)."""
        if not getattr(config, "tie_word_embeddings", True):
            raise ValueError("DecoderLM ties its LM head to the embedding; this model does not")
        if getattr(config, "attention_bias", False) or getattr(config, "mlp_bias", False):
            raise ValueError("DecoderLM has no biases; this model's attention or MLP has some")
        rope = getattr(config, "rope_parameters", None) or {}
        if rope.get("rope_type", "default") != "default":
            raise ValueError(f"only plain RoPE is supported, got rope_type={rope['rope_type']!r}")
        eos = config.eos_token_id
        return cls(
            vocab_size=config.vocab_size,
            d_model=config.hidden_size,
            n_layers=config.num_hidden_layers,
            n_heads=config.num_attention_heads,
            n_kv_heads=config.num_key_value_heads,
            head_dim=getattr(config, "head_dim", None),
            d_ff=config.intermediate_size,
            max_seq_len=config.max_position_embeddings,
            rope_theta=rope.get("rope_theta", getattr(config, "rope_theta", 10_000.0)),
            norm_eps=config.rms_norm_eps,
            eos_token_id=eos[0] if isinstance(eos, list) else eos,
        )


class RMSNorm(nn.Module):
    """``x / sqrt(mean(x^2) + eps) * g``: LayerNorm without the mean and the bias (chapter 4)."""

    def __init__(self, dim: int, eps: float = 1e-5) -> None:
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(dim))

    def forward(self, x: Tensor) -> Tensor:
        x32 = x.float()  # the statistic in float32, as Llama does, whatever the weights' dtype
        x32 = x32 * torch.rsqrt(x32.pow(2).mean(-1, keepdim=True) + self.eps)
        return self.weight * x32.to(x.dtype)


class SwiGLU(nn.Module):
    """The feed-forward network ``W_down (silu(W_gate x) * W_up x)`` (chapter 4)."""

    def __init__(self, d_model: int, d_ff: int) -> None:
        super().__init__()
        self.gate_proj = nn.Linear(d_model, d_ff, bias=False)
        self.up_proj = nn.Linear(d_model, d_ff, bias=False)
        self.down_proj = nn.Linear(d_ff, d_model, bias=False)

    def forward(self, x: Tensor) -> Tensor:
        return self.down_proj(F.silu(self.gate_proj(x)) * self.up_proj(x))


class Block(nn.Module):
    """One pre-norm block: ``x + Attn(Norm(x))``, then ``x + MLP(Norm(x))`` (chapter 4)."""

    def __init__(self, config: DecoderConfig) -> None:
        super().__init__()
        self.attn_norm = RMSNorm(config.d_model, config.norm_eps)
        self.attn = MultiHeadAttention(
            config.d_model, config.n_heads, config.n_kv_heads, config.head_dim,
            rope_theta=config.rope_theta,
        )
        self.mlp_norm = RMSNorm(config.d_model, config.norm_eps)
        self.mlp = SwiGLU(config.d_model, config.d_ff)

    def forward(
        self, x: Tensor, mask: Tensor | None, causal: bool, rope: tuple[Tensor, Tensor],
        cache: KVCache | None, use_cache: bool,
    ) -> tuple[Tensor, KVCache | None]:
        attended = self.attn(
            self.attn_norm(x), mask=mask, causal=causal, rope=rope, cache=cache,
            use_cache=use_cache,
        )
        x = x + attended.output
        return x + self.mlp(self.mlp_norm(x)), attended.cache


def filter_logits(
    logits: Tensor, temperature: float = 1.0, top_k: int | None = None, top_p: float | None = None
) -> Tensor:
    """Sampling logits: ``logits / T``, then keep the ``top_k`` best and the smallest set whose
    probability reaches ``top_p``; the rest become ``-inf`` (chapter 4)."""
    if temperature <= 0:
        raise ValueError(f"temperature must be > 0 (use strategy='greedy' for T -> 0), got "
                         f"{temperature}")
    if top_k is not None and top_k < 1:
        raise ValueError(f"top_k must be >= 1, got {top_k}")
    if top_p is not None and not 0 < top_p <= 1:
        raise ValueError(f"top_p must be in (0, 1], got {top_p}")
    logits = logits / temperature
    if top_k is not None and top_k < logits.shape[-1]:
        kth = logits.topk(top_k, dim=-1).values[..., -1:]
        logits = logits.masked_fill(logits < kth, float("-inf"))
    if top_p is not None and top_p < 1:
        sorted_logits, order = logits.sort(dim=-1, descending=True)
        cumulative = sorted_logits.softmax(dim=-1).cumsum(dim=-1)
        # Drop a token when the tokens ranked above it already reach top_p (the first always stays).
        drop_sorted = (cumulative - sorted_logits.softmax(dim=-1)) >= top_p
        drop = drop_sorted.scatter(-1, order, drop_sorted)
        logits = logits.masked_fill(drop, float("-inf"))
    return logits


def cache_bytes(cache: Cache) -> int:
    """Bytes held by a KV cache: ``2 * layers * batch * kv_heads * T * head_dim * bytes``."""
    return sum(k.nbytes + v.nbytes for k, v in cache)


class DecoderLM(nn.Module):
    """A Llama-style decoder-only language model (chapter 4)."""

    def __init__(self, config: DecoderConfig) -> None:
        super().__init__()
        self.config = config
        self.embed = nn.Embedding(config.vocab_size, config.d_model)
        self.blocks = nn.ModuleList(Block(config) for _ in range(config.n_layers))
        self.norm = RMSNorm(config.d_model, config.norm_eps)
        self.lm_head = nn.Linear(config.d_model, config.vocab_size, bias=False)
        self.lm_head.weight = self.embed.weight  # tied: one matrix reads and writes tokens
        self.apply(self._init)

    @staticmethod
    def _init(module: nn.Module) -> None:
        if isinstance(module, nn.Linear | nn.Embedding):
            nn.init.normal_(module.weight, std=0.02)

    @classmethod
    def from_hf(cls, hf_model: nn.Module) -> DecoderLM:
        """Build a DecoderLM with the weights of a transformers ``LlamaForCausalLM``."""
        config = DecoderConfig.from_hf(hf_model.config)
        names = {"input_layernorm": "attn_norm", "self_attn": "attn",
                 "post_attention_layernorm": "mlp_norm", "mlp": "mlp"}
        state = {}
        for key, value in hf_model.state_dict().items():
            if key == "model.embed_tokens.weight":
                state["embed.weight"] = value
            elif key == "model.norm.weight":
                state["norm.weight"] = value
            elif key.startswith("model.layers."):
                _, _, index, part, rest = key.split(".", 4)
                state[f"blocks.{index}.{names[part]}.{rest}"] = value
        model = cls(config).to(hf_model.dtype)
        missing, unexpected = model.load_state_dict(state, strict=False)
        if missing != ["lm_head.weight"] or unexpected:  # lm_head is the tied embedding
            raise ValueError(f"weights do not fit: missing {missing}, unexpected {unexpected}")
        return model.eval()

    def forward(
        self,
        input_ids: Tensor,
        attention_mask: Tensor | None = None,
        past: Cache | None = None,
        use_cache: bool = False,
    ) -> Tensor | tuple[Tensor, Cache]:
        """Logits ``(batch, T, vocab)`` for ``input_ids`` ``(batch, T)``, after ``past`` tokens.

        ``attention_mask`` (``(batch, T_past + T)``, 1 = token, 0 = padding) hides padding.
        With ``use_cache=True`` returns ``(logits, cache)``, the cache extended by these tokens.
        """
        if input_ids.dim() != 2 or input_ids.shape[1] == 0:
            raise ValueError(
                f"input_ids must be (batch, T) with T >= 1, got shape {tuple(input_ids.shape)}"
            )
        if past is not None and len(past) != len(self.blocks):
            raise ValueError(f"past has {len(past)} layers, the model {len(self.blocks)}")
        if input_ids.min() < 0 or input_ids.max() >= self.config.vocab_size:
            raise ValueError(
                f"token ids must be in [0, {self.config.vocab_size}), got "
                f"[{input_ids.min().item()}, {input_ids.max().item()}]"
            )
        b, t = input_ids.shape
        start = 0 if past is None else past[0][0].shape[-2]
        if start + t > self.config.max_seq_len:
            raise ValueError(
                f"context of {start + t} tokens ({start} cached + {t} new) exceeds "
                f"max_seq_len={self.config.max_seq_len}"
            )
        mask = None
        if attention_mask is not None:
            if attention_mask.shape != (b, start + t):
                raise ValueError(
                    f"attention_mask must be (batch, T_past + T) = {(b, start + t)}, got "
                    f"{tuple(attention_mask.shape)}"
                )
            mask = padding_mask(attention_mask)
        x = self.embed(input_ids)
        positions = torch.arange(start, start + t, device=input_ids.device)
        rope = rope_cos_sin(positions, self.blocks[0].attn.head_dim, self.config.rope_theta,
                            dtype=x.dtype)
        cache: Cache = []
        for i, block in enumerate(self.blocks):
            x, layer_cache = block(x, mask, t > 1, rope, None if past is None else past[i],
                                   use_cache)
            cache.append(layer_cache)
        logits = self.lm_head(self.norm(x))
        return (logits, cache) if use_cache else logits

    def _check_generate(self, input_ids: Tensor, max_new_tokens: int, strategy: str) -> None:
        if strategy not in STRATEGIES:
            raise ValueError(f"unknown strategy {strategy!r}; expected one of {STRATEGIES}")
        if input_ids.dim() != 2 or input_ids.shape[1] == 0:
            raise ValueError(
                f"the prompt must be (batch, T) with T >= 1 token, got shape "
                f"{tuple(input_ids.shape)}"
            )
        if max_new_tokens < 1:
            raise ValueError(f"max_new_tokens must be >= 1, got {max_new_tokens}")
        total = input_ids.shape[1] + max_new_tokens
        if total > self.config.max_seq_len:
            raise ValueError(
                f"prompt ({input_ids.shape[1]} tokens) + max_new_tokens ({max_new_tokens}) = "
                f"{total} exceeds max_seq_len={self.config.max_seq_len}"
            )

    @torch.no_grad()
    def generate(
        self,
        input_ids: Tensor,
        max_new_tokens: int,
        strategy: str = "greedy",
        *,
        temperature: float = 1.0,
        top_k: int | None = None,
        top_p: float | None = None,
        num_beams: int = 4,
        length_penalty: float = 1.0,
        eos_token_id: int | None = None,
        use_cache: bool = True,
        generator: torch.Generator | None = None,
        fast: bool = False,
        draft_tokens: int = 8,
    ) -> Tensor:
        """Extend ``input_ids`` (``(batch, T)``, no padding) by up to ``max_new_tokens`` (ch. 4).

        ``strategy``: ``greedy`` (argmax), ``sample`` (softmax(logits / temperature), optionally
        filtered by ``top_k``/``top_p``), ``top_k`` (default k = 50), ``top_p`` (default p = 0.9)
        or ``beam`` (``num_beams`` beams scored by sum log p / length^length_penalty, batch 1,
        as transformers). A row stops at ``eos_token_id`` (default: the config's) and is padded
        with it. ``use_cache=False`` re-reads the whole sequence each step (for comparison).
        ``fast=True`` runs the same model through :mod:`companion.fastdecode` (fused projections,
        a static cache): the same tokens, faster; not for beam search or ``use_cache=False``.
        Greedy and fast for one sequence, a bfloat16 copy of the weights also guesses
        ``draft_tokens`` tokens ahead and one pass checks them (:func:`fastdecode.speculate
        <companion.fastdecode.speculate>`; 0 turns it off): the same tokens again, in fewer
        float32 passes. Returns prompt and new tokens, ``(batch, T + n)``.
        """
        self._check_generate(input_ids, max_new_tokens, strategy)
        if fast and (strategy == "beam" or not use_cache):
            raise ValueError(f"fast=True decodes greedy and sampled text with a KV cache; got "
                             f"strategy={strategy!r}, use_cache={use_cache}")
        if draft_tokens < 0:
            raise ValueError(f"draft_tokens must be >= 0 (0: no drafting), got {draft_tokens}")
        eos = self.config.eos_token_id if eos_token_id is None else eos_token_id
        if strategy == "beam":
            return self._beam_search(input_ids, max_new_tokens, num_beams, length_penalty, eos)
        if strategy == "top_k":
            top_k = 50 if top_k is None else top_k
        if strategy == "top_p":
            top_p = 0.9 if top_p is None else top_p

        def choose(logits: Tensor) -> Tensor:
            """The next token of each row, from its ``(batch, vocab)`` logits."""
            if strategy == "greedy":
                return logits.argmax(dim=-1)
            probs = filter_logits(logits, temperature, top_k, top_p).softmax(dim=-1)
            return torch.multinomial(probs, 1, generator=generator)[:, 0]

        if fast and strategy == "greedy" and input_ids.shape[0] == 1 and draft_tokens > 0:
            return fastdecode.speculate(self, self._fused(), self._fused(torch.bfloat16),
                                        input_ids, max_new_tokens, eos, draft_tokens)
        if fast:
            return fastdecode.decode(self, self._fused(), input_ids, max_new_tokens, choose, eos)
        sequence, past = input_ids, None
        step_input = input_ids
        finished = torch.zeros(input_ids.shape[0], dtype=torch.bool, device=input_ids.device)
        for _ in range(max_new_tokens):
            if use_cache:
                logits, past = self(step_input, past=past, use_cache=True)
            else:
                logits = self(sequence)
            token = choose(logits[:, -1].float())
            if eos is not None:
                token = token.masked_fill(finished, eos)
                finished |= token == eos
            step_input = token[:, None]
            sequence = torch.cat((sequence, step_input), dim=1)
            if finished.all():
                break
        return sequence

    def _fused(self, dtype: torch.dtype | None = None) -> fastdecode.Weights:
        """The fast path's stacked weights (in ``dtype``, if given), rebuilt when a weight was
        replaced or changed."""
        # Every in-place change (an optimizer step, load_state_dict) bumps a tensor's _version;
        # .to() or a new Parameter changes its data_ptr. Either makes the stacked copies stale.
        stamp = tuple((p.data_ptr(), p._version) for p in self.parameters())
        if getattr(self, "_fused_stamp", None) != stamp:
            self._fused_weights, self._fused_stamp = {}, stamp
        if dtype not in self._fused_weights:
            self._fused_weights[dtype] = fastdecode.fuse(self, dtype)
        return self._fused_weights[dtype]

    def _beam_search(
        self, input_ids: Tensor, max_new_tokens: int, num_beams: int, length_penalty: float,
        eos: int | None,
    ) -> Tensor:
        """Beam search with transformers' rules (``early_stopping=False``), for one prompt.

        Each step keeps the ``2 * num_beams`` best continuations of all beams; those among the
        first ``num_beams`` that end (EOS or the length limit) join the finished list with score
        ``sum log p / n_new^length_penalty``; the best unfinished ones carry on. The search stops
        when no running beam can beat the worst of ``num_beams`` finished ones.
        """
        if input_ids.shape[0] != 1:
            raise ValueError(f"beam search takes one prompt, got a batch of {input_ids.shape[0]}")
        if num_beams < 1:
            raise ValueError(f"num_beams must be >= 1, got {num_beams}")
        logits, past = self(input_ids, use_cache=True)
        past = [(k.expand(num_beams, -1, -1, -1), v.expand(num_beams, -1, -1, -1))
                for k, v in past]
        logits = logits[:, -1].float().expand(num_beams, -1)
        beams = input_ids.expand(num_beams, -1)
        scores = torch.full((num_beams,), -1e9, device=input_ids.device)
        scores[0] = 0.0  # all beams start equal: let only the first one expand
        finished: list[tuple[float, Tensor]] = []
        improvable = True
        vocab = logits.shape[-1]
        for step in range(1, max_new_tokens + 1):
            candidates = (F.log_softmax(logits, dim=-1) + scores[:, None]).flatten()
            top_scores, top_index = candidates.topk(2 * num_beams)
            origin, token = top_index // vocab, top_index % vocab
            done = torch.full_like(token, step == max_new_tokens, dtype=torch.bool)
            if eos is not None:
                done |= token == eos
            if improvable:
                for rank in range(num_beams):
                    if done[rank]:
                        sequence = torch.cat((beams[origin[rank]], token[rank : rank + 1]))
                        finished.append((top_scores[rank].item() / step**length_penalty,
                                         sequence))
                finished = sorted(finished, key=lambda item: -item[0])[:num_beams]
            keep = (top_scores - done.float() * 1e9).topk(num_beams).indices
            scores, origin, token = top_scores[keep], origin[keep], token[keep]
            beams = torch.cat((beams[origin], token[:, None]), dim=1)
            if len(finished) == num_beams:  # could the best running beam still beat the worst?
                best_possible = scores[0].item() / step**length_penalty
                improvable = improvable and best_possible > finished[-1][0]
            if not improvable or bool(done.all()):
                break
            past = [(k[origin], v[origin]) for k, v in past]
            logits, past = self(token[:, None], past=past, use_cache=True)
            logits = logits[:, -1].float()
        return finished[0][1][None]


def train_lm(
    model: nn.Module,
    tokens: Tensor,
    steps: int,
    batch_size: int = 16,
    seq_len: int = 64,
    lr: float = 3e-3,
    generator: torch.Generator | None = None,
) -> list[float]:
    """Pretrain by next-token prediction on random windows of ``tokens`` (1-D); AdamW with a cosine
    schedule. Returns the loss of every step (chapter 4)."""
    if tokens.dim() != 1 or tokens.numel() <= seq_len + 1:
        raise ValueError(
            f"tokens must be 1-D and longer than seq_len + 1 = {seq_len + 1}, got shape "
            f"{tuple(tokens.shape)}"
        )
    optimizer = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=0.01)
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=steps)
    offsets = torch.arange(seq_len + 1)
    losses = []
    model.train()
    for _ in range(steps):
        starts = torch.randint(0, tokens.numel() - seq_len - 1, (batch_size, 1),
                               generator=generator)
        window = tokens[starts + offsets]
        logits = model(window[:, :-1])
        loss = F.cross_entropy(logits.flatten(0, 1), window[:, 1:].flatten())
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        schedule.step()
        losses.append(loss.item())
    model.eval()
    return losses
