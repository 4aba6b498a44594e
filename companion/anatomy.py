"""Anatomy of a transformers model: where the parameters live and which family it is (chapter 2).

- :func:`parameter_budget` sorts every parameter into embeddings, self-attention, cross-attention,
  MLP, norms, head or other, counting a tied weight (input embedding = output head) once.
- :func:`module_tree` prints the module hierarchy with repeated layers folded (``30 x``).
- :func:`attention_is_causal` *measures* causality: change the last input token and see whether
  any earlier position's output moves.
- :func:`architecture_family` names the family (encoder-only, decoder-only, encoder-decoder) from
  that behaviour and from the presence of an encoder, not from the model's class name.
- :func:`mean_pool` and :func:`sentence_similarity` show what an encoder-only model is for:
  sentence vectors and their cosine similarity.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING

import torch
from torch import nn

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from transformers import PreTrainedTokenizerBase

CATEGORIES: tuple[str, ...] = (
    "embeddings",
    "attention",
    "cross_attention",
    "mlp",
    "norms",
    "head",
    "other",
)
FAMILIES: tuple[str, ...] = ("encoder-only", "decoder-only", "encoder-decoder")

_CROSS_ATTENTION_NAMES = ("encoder_attn", "encdecattention", "crossattention", "cross_attn")
_ATTENTION_NAMES = ("attn", "attention")
_HEAD_NAMES = ("lm_head", "pooler", "classifier", "score", "qa_outputs", "cls")


@dataclass(frozen=True)
class ParameterBudget:
    """Parameter counts by category; ``total`` equals ``model.num_parameters()``."""

    embeddings: int
    attention: int
    cross_attention: int
    mlp: int
    norms: int
    head: int
    other: int

    @property
    def total(self) -> int:
        """Sum over all categories."""
        return sum(asdict(self).values())

    def as_dict(self) -> dict[str, int]:
        """The counts as ``{category: count}`` in :data:`CATEGORIES` order."""
        return asdict(self)

    def fractions(self) -> dict[str, float]:
        """Each category's share of the total (they sum to 1)."""
        return {name: count / self.total for name, count in asdict(self).items()}


def _category(path: str, module: nn.Module) -> str:
    """The category of the parameters owned directly by ``module`` at dotted ``path``."""
    parts = [part.lower() for part in path.split(".")]
    if "norm" in type(module).__name__.lower() or "norm" in parts[-1]:
        return "norms"
    if any(key in part for part in parts for key in _CROSS_ATTENTION_NAMES):
        return "cross_attention"
    if any(key in part for part in parts for key in _ATTENTION_NAMES):
        return "attention"
    if isinstance(module, nn.Embedding):
        return "embeddings"
    if any(part in _HEAD_NAMES for part in parts):
        return "head"
    if isinstance(module, nn.Linear | nn.Conv1d) or type(module).__name__ == "Conv1D":
        return "mlp"
    return "other"


def parameter_budget(model: nn.Module) -> ParameterBudget:
    """Count parameters by category; a weight shared by several modules counts once (chapter 2).

    Categories come from module paths and types: ``*attn*``/``*attention*`` -> attention (cross
    attention separately), ``*Norm*`` -> norms, ``nn.Embedding`` -> embeddings, ``lm_head``/
    ``pooler``/``classifier`` -> head, other ``nn.Linear`` -> mlp. A tied output head shares the
    embedding matrix and so adds nothing to ``head``.
    """
    if not isinstance(model, nn.Module):
        raise ValueError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    counts = dict.fromkeys(CATEGORIES, 0)
    seen: set[int] = set()
    for path, module in model.named_modules():
        for parameter in module.parameters(recurse=False):
            if id(parameter) in seen:
                continue
            seen.add(id(parameter))
            counts[_category(path, module)] += parameter.numel()
    return ParameterBudget(**counts)


def _fold(children: list[tuple[str, nn.Module]]) -> list[tuple[str, nn.Module, int]]:
    """Fold runs of numbered siblings of one class (``0``, ``1``, ...) into one counted entry."""
    folded: list[tuple[str, nn.Module, int]] = []
    for name, child in children:
        if (
            folded
            and name.isdigit()
            and folded[-1][0].split("-")[0].isdigit()
            and type(folded[-1][1]) is type(child)
        ):
            first, module, count = folded[-1]
            folded[-1] = (f"{first.split('-')[0]}-{name}", module, count + 1)
        else:
            folded.append((name, child, 1))
    return folded


def module_tree(model: nn.Module, max_depth: int = 3) -> str:
    """The module hierarchy, one line per module: ``name (Class) parameters`` (chapter 2).

    Numbered siblings of the same class are folded into one line ``0-29 (30 x Class)`` showing the
    first of them; lines stop at depth ``max_depth``. Counts include shared weights once per module.
    """
    if not isinstance(model, nn.Module):
        raise ValueError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    if isinstance(max_depth, bool) or not isinstance(max_depth, int) or max_depth < 0:
        raise ValueError(f"max_depth must be a non-negative int, got {max_depth!r}")

    def count(module: nn.Module) -> str:
        return f"{sum(p.numel() for p in module.parameters()):,}"

    lines = [f"{type(model).__name__} {count(model)}"]

    def walk(module: nn.Module, depth: int) -> None:
        if depth > max_depth:
            return
        for name, child, times in _fold(list(module.named_children())):
            label = type(child).__name__ if times == 1 else f"{times} x {type(child).__name__}"
            each = " each" if times > 1 else ""
            lines.append(f"{'  ' * depth}{name} ({label}) {count(child)}{each}")
            walk(child, depth + 1)

    walk(model, 1)
    return "\n".join(lines)


def _first_output(
    model: nn.Module, input_ids: torch.Tensor, decoder_ids: torch.Tensor | None
) -> torch.Tensor:
    kwargs = {"input_ids": input_ids}
    if decoder_ids is not None:
        kwargs["decoder_input_ids"] = decoder_ids
    with torch.no_grad():
        return model(**kwargs)[0]


def attention_is_causal(model: nn.Module, length: int = 8, seed: int = 0) -> bool:
    """True if no output position ``i < n-1`` changes when input token ``n-1`` changes (ch. 2).

    A causal model computes position ``i`` from tokens ``0..i`` only. We run random token ids of
    ``length``, change the last one, and compare the other positions' outputs (``atol=1e-5``).
    For an encoder-decoder the probe runs on the decoder input, with the encoder input held fixed.
    """
    if isinstance(length, bool) or not isinstance(length, int) or length < 2:
        raise ValueError(f"length must be an int >= 2, got {length!r}")
    vocab = model.config.vocab_size
    generator = torch.Generator().manual_seed(seed)
    ids = torch.randint(0, vocab, (1, length), generator=generator)
    changed = ids.clone()
    changed[0, -1] = (ids[0, -1] + 1) % vocab
    if getattr(model.config, "is_encoder_decoder", False):
        before = _first_output(model, ids, ids)
        after = _first_output(model, ids, changed)
    else:
        before = _first_output(model, ids, None)
        after = _first_output(model, changed, None)
    return torch.allclose(before[:, :-1], after[:, :-1], atol=1e-5)


def architecture_family(model: nn.Module) -> str:
    """``encoder-decoder`` if the model has a separate encoder fed to the decoder through cross
    attention; else ``decoder-only`` if its attention is causal, ``encoder-only`` if not (ch. 2)."""
    if getattr(model.config, "is_encoder_decoder", False):
        return "encoder-decoder"
    return "decoder-only" if attention_is_causal(model) else "encoder-only"


def mean_pool(hidden: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
    """Sentence vectors as the mean of token vectors over real (unpadded) tokens (chapter 2):
    ``sum_t m_t h_t / sum_t m_t`` for hidden ``(batch, seq, dim)`` and mask ``(batch, seq)``."""
    if hidden.ndim != 3 or attention_mask.shape != hidden.shape[:2]:
        raise ValueError(
            f"expected hidden (batch, seq, dim) and mask (batch, seq), got {tuple(hidden.shape)} "
            f"and {tuple(attention_mask.shape)}"
        )
    mask = attention_mask.to(hidden.dtype).unsqueeze(-1)
    return (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)


def sentence_similarity(
    model: nn.Module, tokenizer: PreTrainedTokenizerBase, sentences: list[str]
) -> torch.Tensor:
    """Cosine similarity matrix of mean-pooled encoder outputs, ``S_ij = cos(e_i, e_j)`` (ch. 2).

    This is how sentence-transformers uses all-MiniLM-L6-v2: encode, mean-pool, normalise.
    """
    if isinstance(sentences, str) or not sentences:
        raise ValueError("sentences must be a non-empty list of strings (not a single string)")
    batch = tokenizer(list(sentences), padding=True, truncation=True, return_tensors="pt")
    with torch.no_grad():
        hidden = model(**batch).last_hidden_state
    embeddings = torch.nn.functional.normalize(mean_pool(hidden, batch["attention_mask"]), dim=-1)
    return embeddings @ embeddings.T


def plot_budgets(budgets: dict[str, ParameterBudget], ax: Axes | None = None) -> Axes:
    """Horizontal stacked bars: each model's share of parameters per category, in % (chapter 2).

    Returns the matplotlib ``Axes``; tick labels carry each model's total in millions and
    segments of at least 8% their share.
    """
    import matplotlib.pyplot as plt

    if not budgets:
        raise ValueError("budgets must map at least one model name to a ParameterBudget")
    if ax is None:
        _, ax = plt.subplots(figsize=(9, 1.6 + 0.8 * len(budgets)))
    names = list(budgets)
    left = [0.0] * len(names)
    for category in CATEGORIES:
        shares = [100 * budgets[name].fractions()[category] for name in names]
        if not any(shares):
            continue
        color = plt.get_cmap("tab10")(CATEGORIES.index(category))  # same colour in every figure
        bars = ax.barh(names, shares, left=left, label=category.replace("_", " "), color=color)
        ax.bar_label(bars, [f"{v:.0f}%" if v >= 8 else "" for v in shares], label_type="center")
        left = [a + b for a, b in zip(left, shares, strict=True)]
    ax.set_yticks(range(len(names)))
    ax.set_yticklabels([f"{name}\n{budgets[name].total / 1e6:.1f} M" for name in names])
    ax.invert_yaxis()
    ax.set_xlim(0, 100)
    ax.set_xlabel("share of parameters (%)")
    ax.legend(ncols=3, loc="upper center", bbox_to_anchor=(0.5, -0.35), frameon=False)
    return ax
