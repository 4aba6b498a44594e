"""Model anatomy (chapter 2): parameter budgets by hand, module trees, causality and families."""

from __future__ import annotations

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn
from transformers import (
    BartConfig,
    BartForConditionalGeneration,
    BertConfig,
    BertModel,
    GPT2Config,
    GPT2LMHeadModel,
    LlamaConfig,
    LlamaForCausalLM,
    T5Config,
    T5ForConditionalGeneration,
)

from companion.anatomy import (
    CATEGORIES,
    architecture_family,
    attention_is_causal,
    mean_pool,
    module_tree,
    parameter_budget,
    plot_budgets,
    sentence_similarity,
)


def tiny_llama(tie: bool = True, layers: int = 2, hidden: int = 32, heads: int = 4, kv: int = 2,
               ff: int = 64, vocab: int = 100) -> LlamaForCausalLM:
    torch.manual_seed(0)
    config = LlamaConfig(vocab_size=vocab, hidden_size=hidden, num_hidden_layers=layers,
                         num_attention_heads=heads, num_key_value_heads=kv, intermediate_size=ff,
                         tie_word_embeddings=tie, max_position_embeddings=64)
    return LlamaForCausalLM(config).eval()


def tiny_bert(**extra) -> BertModel:
    torch.manual_seed(0)
    config = BertConfig(vocab_size=100, hidden_size=32, num_hidden_layers=2, num_attention_heads=4,
                        intermediate_size=64, max_position_embeddings=64, **extra)
    return BertModel(config).eval()


def tiny_bart() -> BartForConditionalGeneration:
    torch.manual_seed(0)
    config = BartConfig(vocab_size=100, d_model=32, encoder_layers=2, decoder_layers=3,
                        encoder_attention_heads=4, decoder_attention_heads=4, encoder_ffn_dim=64,
                        decoder_ffn_dim=64, max_position_embeddings=64)
    return BartForConditionalGeneration(config).eval()


def llama_budget_by_hand(layers, hidden, heads, kv, ff, vocab, tie):
    head_dim = hidden // heads
    attention = hidden * hidden * 2 + 2 * hidden * kv * head_dim  # q, o + k, v (no biases)
    return {
        "embeddings": vocab * hidden,
        "attention": layers * attention,
        "cross_attention": 0,
        "mlp": layers * 3 * hidden * ff,  # gate, up, down
        "norms": layers * 2 * hidden + hidden,  # two RMSNorms per layer + the final one
        "head": 0 if tie else vocab * hidden,
        "other": 0,
    }


@pytest.mark.parametrize("tie", [True, False])
def test_llama_budget_matches_the_hand_count_and_a_tied_head_counts_once(tie):
    model = tiny_llama(tie=tie)
    budget = parameter_budget(model)
    assert budget.as_dict() == llama_budget_by_hand(2, 32, 4, 2, 64, 100, tie)
    assert budget.total == model.num_parameters()
    assert budget.total == sum(p.numel() for p in model.parameters())  # torch dedups shared ones


@settings(max_examples=8, deadline=None)
@given(layers=st.integers(1, 3), heads=st.sampled_from([2, 4]), kv_div=st.sampled_from([1, 2]),
       ff=st.integers(8, 48), vocab=st.integers(20, 90), tie=st.booleans())
def test_llama_budget_for_any_small_config(layers, heads, kv_div, ff, vocab, tie):
    kv = heads // kv_div
    model = tiny_llama(tie=tie, layers=layers, hidden=16, heads=heads, kv=kv, ff=ff, vocab=vocab)
    assert parameter_budget(model).as_dict() == llama_budget_by_hand(
        layers, 16, heads, kv, ff, vocab, tie
    )


def test_gpt2_budget_matches_the_hand_count():
    torch.manual_seed(0)
    d, layers, vocab, positions = 32, 2, 100, 64
    model = GPT2LMHeadModel(GPT2Config(vocab_size=vocab, n_embd=d, n_layer=layers, n_head=4,
                                       n_positions=positions))
    budget = parameter_budget(model).as_dict()
    assert budget["embeddings"] == vocab * d + positions * d  # wte + wpe
    assert budget["attention"] == layers * ((d * 3 * d + 3 * d) + (d * d + d))  # c_attn, c_proj
    assert budget["mlp"] == layers * ((d * 4 * d + 4 * d) + (4 * d * d + d))  # c_fc, c_proj
    assert budget["norms"] == layers * 2 * 2 * d + 2 * d  # ln_1, ln_2 per layer + ln_f
    assert budget["head"] == budget["other"] == 0
    assert sum(budget.values()) == model.num_parameters()


def test_bert_budget_puts_the_pooler_in_the_head():
    model = tiny_bert()
    budget = parameter_budget(model)
    assert budget.head == 32 * 32 + 32
    assert budget.embeddings == (100 + 64 + 2) * 32  # words, positions, token types
    assert budget.cross_attention == 0
    assert budget.total == model.num_parameters()


def test_bart_has_cross_attention_only_in_its_decoder_layers():
    model = tiny_bart()
    budget = parameter_budget(model)
    d = 32
    per_layer = 4 * (d * d + d)  # q, k, v, out projections with biases
    assert budget.cross_attention == 3 * per_layer  # three decoder layers
    assert budget.attention == (2 + 3) * per_layer  # self-attention in every layer
    assert budget.head == 0  # lm_head is tied to the shared embedding
    assert budget.total == model.num_parameters()
    assert budget.other == 0


def test_t5_budget_sums_to_num_parameters_with_nothing_left_over():
    torch.manual_seed(0)
    model = T5ForConditionalGeneration(
        T5Config(vocab_size=100, d_model=32, d_kv=8, d_ff=64, num_layers=2, num_heads=4)
    )
    budget = parameter_budget(model)
    assert budget.total == model.num_parameters()
    assert budget.other == 0
    assert budget.cross_attention == 2 * 4 * 32 * 32  # q, k, v, o without biases, 2 layers


def test_fractions_sum_to_one_and_keep_category_order():
    fractions = parameter_budget(tiny_llama()).fractions()
    assert tuple(fractions) == CATEGORIES
    assert sum(fractions.values()) == pytest.approx(1.0)


def test_real_models_budget(smollm2, minilm):
    model, _ = smollm2
    budget = parameter_budget(model)
    assert budget.total == model.num_parameters() == 134_515_008
    assert budget.embeddings == 49_152 * 576
    assert budget.head == 0  # SmolLM2 ties its output head to the input embedding
    assert budget.mlp > budget.attention > 0
    encoder, _ = minilm
    assert parameter_budget(encoder).total == encoder.num_parameters() == 22_713_216


def test_module_tree_folds_repeated_layers_and_respects_depth():
    tree = module_tree(tiny_llama(layers=3))
    lines = tree.splitlines()
    assert lines[0] == f"LlamaForCausalLM {tiny_llama(layers=3).num_parameters():,}"
    assert any("0-2 (3 x LlamaDecoderLayer)" in line and line.endswith("each") for line in lines)
    assert not any(line.strip().startswith("1 (") for line in lines)
    assert module_tree(tiny_llama(), max_depth=0).splitlines() == [lines[0].replace(
        f"{tiny_llama(layers=3).num_parameters():,}", f"{tiny_llama().num_parameters():,}")]
    assert max(len(line) - len(line.lstrip()) for line in module_tree(tiny_llama(), 1).splitlines()
               ) == 2


def test_module_tree_does_not_fold_different_classes():
    model = nn.Sequential(nn.Linear(2, 2), nn.ReLU(), nn.Linear(2, 2))
    assert module_tree(model).splitlines()[1:] == [
        "  0 (Linear) 6", "  1 (ReLU) 0", "  2 (Linear) 6"
    ]


def test_causal_probe_detects_a_causal_mask():
    assert attention_is_causal(tiny_llama()) is True
    assert attention_is_causal(tiny_bert()) is False
    # the same BERT weights-and-code with the decoder flag on become causal: the probe follows
    assert attention_is_causal(tiny_bert(is_decoder=True)) is True
    assert attention_is_causal(tiny_bart()) is True  # its decoder


def test_family_of_tiny_and_real_models(smollm2, minilm):
    assert architecture_family(tiny_llama()) == "decoder-only"
    assert architecture_family(tiny_bert()) == "encoder-only"
    assert architecture_family(tiny_bart()) == "encoder-decoder"
    assert architecture_family(smollm2[0]) == "decoder-only"
    assert architecture_family(minilm[0]) == "encoder-only"


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: parameter_budget("not a model"), "torch.nn.Module"),
        (lambda: module_tree(42), "torch.nn.Module"),
        (lambda: module_tree(nn.Linear(1, 1), max_depth=-1), "max_depth"),
        (lambda: attention_is_causal(tiny_llama(), length=1), "length"),
    ],
)
def test_bad_input_raises_value_error(call, message):
    with pytest.raises(ValueError, match=message):
        call()


def test_mean_pool_ignores_padding_by_hand():
    hidden = torch.tensor([[[1.0, 2.0], [3.0, 4.0], [100.0, 100.0]]])
    mask = torch.tensor([[1, 1, 0]])
    assert torch.equal(mean_pool(hidden, mask), torch.tensor([[2.0, 3.0]]))


@settings(max_examples=20, deadline=None)
@given(st.integers(1, 4), st.integers(1, 6), st.integers(0, 2**16))
def test_mean_pool_equals_the_mean_of_each_unpadded_prefix(batch, seq, seed):
    generator = torch.Generator().manual_seed(seed)
    hidden = torch.randn(batch, seq, 3, generator=generator)
    lengths = torch.randint(1, seq + 1, (batch,), generator=generator)
    mask = (torch.arange(seq)[None, :] < lengths[:, None]).long()
    pooled = mean_pool(hidden, mask)
    for row in range(batch):
        torch.testing.assert_close(pooled[row], hidden[row, : lengths[row]].mean(0))


def test_minilm_similarity_matches_sklearn_cosine_and_ranks_paraphrases(minilm):
    from sklearn.metrics.pairwise import cosine_similarity

    model, tokenizer = minilm
    texts = ["How do I reset my password?", "I forgot my password.", "The cat sat on the mat."]
    similarity = sentence_similarity(model, tokenizer, texts)
    batch = tokenizer(texts, padding=True, return_tensors="pt")
    with torch.no_grad():
        pooled = mean_pool(model(**batch).last_hidden_state, batch["attention_mask"])
    reference = cosine_similarity(pooled.numpy())
    torch.testing.assert_close(similarity, torch.from_numpy(reference).float(), atol=1e-5, rtol=0)
    assert similarity[0, 1] > similarity[0, 2] + 0.3


def test_pooling_and_similarity_reject_bad_shapes(minilm):
    with pytest.raises(ValueError, match="mask"):
        mean_pool(torch.zeros(2, 3, 4), torch.ones(2, 4))
    with pytest.raises(ValueError, match="sentences"):
        sentence_similarity(*minilm, "one string")


def test_plot_budgets_draws_one_bar_per_model_and_nonzero_category():
    import matplotlib

    matplotlib.use("Agg")
    budgets = {"llama": parameter_budget(tiny_llama()), "bart": parameter_budget(tiny_bart())}
    ax = plot_budgets(budgets)
    nonzero = [c for c in CATEGORIES if any(b.as_dict()[c] for b in budgets.values())]
    assert len(ax.patches) == len(budgets) * len(nonzero)
    widths = {}
    for patch in ax.patches:
        widths.setdefault(round(patch.get_y(), 3), []).append(patch.get_width())
    assert all(sum(w) == pytest.approx(100) for w in widths.values())
    with pytest.raises(ValueError, match="budgets"):
        plot_budgets({})
