"""Constrained decoding: the grammar is exactly the tool-call format, and generation obeys it."""

from __future__ import annotations

import json

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from transformers import AutoTokenizer, LlamaConfig, LlamaForCausalLM

from companion.agent.constrained import ToolCallGrammar, ToolCallLogitsProcessor, token_table
from companion.agent.llm import TransformersLLM
from companion.agent.tools import Tool, calculator_tool, default_tools, unit_converter_tool
from companion.models import prepare_smollm2
from companion.toolcall import FINAL_ANSWER_SPEC, format_call, parse_call, system_prompt

SPECS = [t.spec() for t in default_tools()]
FLAG_TOOL = Tool(
    "lookup",
    "a tool with every argument type",
    {
        "type": "object",
        "properties": {
            "word": {"type": "string"},
            "count": {"type": "integer"},
            "scale": {"type": "number"},
            "exact": {"type": "boolean"},
            "lang": {"type": "string", "enum": ["en", "zh"]},
        },
        "required": ["word", "count"],
    },
    lambda **kw: "ok",
)
ALL_TOOLS = [*default_tools(), FLAG_TOOL]
ALL_SPECS = [t.spec() for t in ALL_TOOLS]
FINAL = Tool(
    FINAL_ANSWER_SPEC["name"], "", FINAL_ANSWER_SPEC["parameters"], lambda answer: answer
)


@pytest.fixture(scope="module")
def tokenizer():
    return AutoTokenizer.from_pretrained(prepare_smollm2())


@pytest.fixture(scope="module")
def tiny_llama(tokenizer):
    """A random 2-layer Llama with SmolLM2's vocabulary: an untrained model."""
    torch.manual_seed(0)
    config = LlamaConfig(
        vocab_size=len(tokenizer), hidden_size=32, intermediate_size=64, num_hidden_layers=2,
        num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=2048,
    )
    return LlamaForCausalLM(config).eval()


def validate(text: str) -> None:
    """The independent check: toolcall.parse_call, then the tool's own schema validation."""
    call = parse_call(text)
    tools = {t.name: t for t in [*ALL_TOOLS, FINAL]}
    assert call.name in tools, text
    tools[call.name].validate(call.arguments)


json_text = st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=30)


@st.composite
def lookup_arguments(draw):
    args = {"word": draw(json_text), "count": draw(st.integers(-10**6, 10**6))}
    if draw(st.booleans()):
        args["scale"] = draw(st.floats(allow_nan=False, allow_infinity=False, width=32))
    if draw(st.booleans()):
        args["exact"] = draw(st.booleans())
    if draw(st.booleans()):
        args["lang"] = draw(st.sampled_from(["en", "zh"]))
    return args


@settings(max_examples=200, deadline=None)
@given(lookup_arguments())
def test_grammar_accepts_every_canonical_call_and_each_of_its_prefixes(args):
    grammar = ToolCallGrammar(ALL_SPECS, max_string_chars=200, max_number_chars=32)
    text = format_call("lookup", args)
    assert grammar.accepts(text), text
    state = grammar.start
    for i, ch in enumerate(text):
        assert grammar.min_chars_to_end(state) <= len(text) - i
        state = grammar.step(state, ch)
        assert state is not None, text[: i + 1]


@pytest.mark.parametrize(
    "text",
    [
        '{"name": "rm", "arguments": {}}',  # unknown tool
        '{"name": "calculator", "arguments": {"expression": 12}}',  # number for a string
        '{"name": "calculator", "arguments": {}}',  # missing required argument
        '{"name": "calculator", "arguments": {"expression": "1", "x": "2"}}',  # extra key
        format_call("convert_units", {"value": "5", "from_unit": "mi", "to_unit": "km"}),
        '{"name": "lookup", "arguments": {"word": "a", "count": 1.5}}',  # float for an integer
        '{"name": "lookup", "arguments": {"word": "a", "count": 1, "lang": "fr"}}',  # not in enum
        '{"name": "lookup", "arguments": {"count": 1, "word": "a"}}',  # keys out of schema order
        '{"name": "final_answer", "arguments": {"answer": "84"}} extra',  # trailing text
        '{"name":"final_answer","arguments":{"answer":"84"}}',  # not the canonical spacing
        '{"name": "final_answer", "arguments": {"answer": "a\nb"}}',  # raw control character
        '{"name": "lookup", "arguments": {"word": "a", "count": 01}}',  # leading zero
    ],
)
def test_grammar_rejects_calls_that_break_the_format_or_the_schema(text):
    assert not ToolCallGrammar(ALL_SPECS).accepts(text)


def test_grammar_without_final_answer_admits_only_the_real_tools():
    grammar = ToolCallGrammar(SPECS, final_answer=False)
    assert not grammar.is_prefix('{"name": "f')
    assert grammar.accepts(format_call("calculator", {"expression": "1 + 1"}))
    assert not grammar.accepts(format_call("final_answer", {"answer": "2"}))
    assert ToolCallGrammar(SPECS).accepts(format_call("final_answer", {"answer": "2"}))
    with pytest.raises(ValueError, match="no call could be written"):
        ToolCallGrammar([], final_answer=False)


def test_shortest_completion_is_hand_counted():
    empty = Tool("ab", "no arguments", {"type": "object", "properties": {}}, lambda: "")
    grammar = ToolCallGrammar([empty.spec()])
    shortest = '{"name": "ab", "arguments": {}}'
    assert grammar.min_chars_to_end(grammar.start) == len(shortest) == 31
    assert grammar.min_chars_to_end(grammar.advance(grammar.start, shortest[:-1])) == 1
    # inside final_answer's string: close the quote, then "}}"
    inside = grammar.advance(grammar.start, '{"name": "final_answer", "arguments": {"answer": "x')
    assert grammar.min_chars_to_end(inside) == 3


def test_grammar_refuses_schema_types_it_cannot_constrain():
    bad = {"name": "t", "description": "", "parameters": {"type": "object", "properties": {
        "xs": {"type": "array"}}}}
    with pytest.raises(ValueError, match="array"):
        ToolCallGrammar([bad])


def test_token_table_texts_concatenate_to_the_decoded_text(tokenizer):
    table = token_table(tokenizer)
    text = format_call("convert_units", {"value": 5.5, "from_unit": "mile", "to_unit": "km"})
    ids = tokenizer(text)["input_ids"]
    assert "".join(table.texts[i] for i in ids) == tokenizer.decode(ids) == text


def test_allowed_tokens_match_a_brute_force_scan_of_the_vocabulary(tokenizer):
    grammar = ToolCallGrammar(ALL_SPECS, max_string_chars=40)
    table = token_table(tokenizer)
    prefixes = ['', '{"name": "c', '{"name": "lookup", "arguments": {"word": "ab',
                '{"name": "lookup", "arguments": {"word": "a", "count": 1',
                '{"name": "final_answer", "arguments": {"answer": "84"}}']
    for prefix in prefixes:
        proc = ToolCallLogitsProcessor(grammar, table, 0, [2], max_new_tokens=400)
        state = grammar.advance(grammar.start, prefix)
        got = set(proc._allowed(state).nonzero().flatten().tolist())
        if state == grammar.end:
            assert got == {2}
            continue
        want = {i for i, t in enumerate(table.texts) if t and grammar.advance(state, t) is not None}
        assert got == want, prefix


@pytest.mark.parametrize("max_new_tokens", [60, 96])
def test_untrained_model_only_writes_valid_calls_when_constrained(tiny_llama, tokenizer,
                                                                  max_new_tokens):
    llm = TransformersLLM(tiny_llama, tokenizer, constrained=True, max_new_tokens=max_new_tokens,
                          max_string_chars=64)
    for task in ["What is 12 times 7?", "Who wrote BERT?"]:
        messages = [{"role": "system", "content": system_prompt(ALL_SPECS)},
                    {"role": "user", "content": task}]
        reply = llm(messages, ALL_SPECS)
        validate(reply.text)
        assert reply.stats.new_tokens <= max_new_tokens
        assert min(reply.stats.allowed_per_step) >= 1  # the mask never removes every token


def _teacher_forced_probs(model, llm, messages, token_ids) -> torch.Tensor:
    """softmax over the whole vocabulary at each generated position, recomputed in one pass."""
    prompt = llm.prompt_ids(messages)[0]
    ids = torch.cat([prompt, torch.tensor(token_ids)])
    with torch.no_grad():
        logits = model(ids[None]).logits[0, len(prompt) - 1 : -1]
    return torch.softmax(logits.float(), -1)[torch.arange(len(ids) - len(prompt)),
                                              ids[len(prompt):]]


def test_token_probs_are_the_probabilities_of_the_chosen_tokens(tiny_llama, tokenizer):
    messages = [{"role": "system", "content": system_prompt(SPECS)},
                {"role": "user", "content": "What is 12 times 7?"}]
    free = TransformersLLM(tiny_llama, tokenizer, max_new_tokens=12)
    stats = free(messages, SPECS).stats
    assert len(stats.token_probs) == stats.new_tokens == 12
    reference = _teacher_forced_probs(tiny_llama, free, messages, stats.token_ids)
    assert stats.token_probs == pytest.approx(reference.tolist(), rel=1e-4)
    assert stats.confidence == min(stats.token_probs)
    # constrained: renormalised over the allowed tokens, so never below the unconstrained value
    bound = TransformersLLM(tiny_llama, tokenizer, constrained=True, max_new_tokens=60,
                            max_string_chars=8)
    reply = bound(messages, SPECS)
    validate(reply.text)
    stats = reply.stats
    unconstrained = _teacher_forced_probs(tiny_llama, bound, messages, stats.token_ids).tolist()
    assert all(p >= u * (1 - 1e-4) and p <= 1 + 1e-6
               for p, u in zip(stats.token_probs, unconstrained, strict=True))
    forced = [p for p, n in zip(stats.token_probs, stats.allowed_per_step, strict=True)
              if n == 1]  # a token the grammar forces is certain
    assert forced and all(p == pytest.approx(1.0) for p in forced)


def test_a_constrained_model_told_not_to_answer_yet_calls_a_tool(tiny_llama, tokenizer):
    """With ``final_allowed=False`` no token may start the name final_answer."""
    llm = TransformersLLM(tiny_llama, tokenizer, constrained=True, max_new_tokens=64,
                          max_string_chars=16)
    proc = llm.processor(SPECS, 0, final_allowed=False)
    name_state = proc.grammar.advance(proc.grammar.start, '{"name": "')
    texts = [proc.table.texts[i] for i in proc._allowed(name_state).nonzero().flatten().tolist()]
    assert texts and not any("final_answer".startswith(t) for t in texts)
    assert any("calculator".startswith(t) for t in texts)
    messages = [{"role": "system", "content": system_prompt(SPECS)},
                {"role": "user", "content": "What is 12 times 7?"}]
    text = llm(messages, SPECS, final_allowed=False).text
    validate(text)
    assert json.loads(text)["name"] != "final_answer"


def test_sampled_constrained_outputs_all_parse_and_validate(tiny_llama, tokenizer):
    """Sampling at high temperature walks far more of the grammar than greedy decoding."""
    grammar = ToolCallGrammar(ALL_SPECS, max_string_chars=16)
    table = token_table(tokenizer, tiny_llama.config.vocab_size)
    prompt = tokenizer("<|im_start|>assistant\n", return_tensors="pt")["input_ids"]
    seen_tools = set()
    for seed in range(4):
        torch.manual_seed(seed)
        proc = ToolCallLogitsProcessor(grammar, table, prompt.shape[1], [2], max_new_tokens=64)
        out = tiny_llama.generate(
            prompt, attention_mask=torch.ones_like(prompt), logits_processor=[proc],
            do_sample=True, temperature=5.0, top_k=0, max_new_tokens=64, eos_token_id=2,
            pad_token_id=2,
        )
        text = tokenizer.decode(out[0, prompt.shape[1]:], skip_special_tokens=True)
        validate(text)
        seen_tools.add(json.loads(text)["name"])
        assert min(proc.allowed_counts) >= 1
    assert len(seen_tools) >= 2


def test_constraint_lets_the_model_choose_its_own_tokenisation(tokenizer):
    """'{"' is one token of the vocabulary: the processor allows it *and* '{' alone, and leaves
    the choice to the model instead of inserting a fixed token sequence."""
    grammar = ToolCallGrammar(SPECS)
    proc = ToolCallLogitsProcessor(grammar, token_table(tokenizer), 0, [2], max_new_tokens=96)
    allowed = proc._allowed(grammar.start)
    for piece in ['{', '{"']:
        ids = tokenizer.convert_tokens_to_ids([piece])
        assert allowed[ids[0]], piece
    assert tokenizer.tokenize('{"name"')[0] == '{"'


def test_real_model_writes_a_valid_call_with_the_constraint(smollm2):
    model, tokenizer = smollm2
    llm = TransformersLLM(model, tokenizer, constrained=True, max_new_tokens=64)
    specs = [calculator_tool().spec(), unit_converter_tool().spec()]
    messages = [{"role": "system", "content": system_prompt(specs)},
                {"role": "user", "content": "Convert 5 miles to kilometers."}]
    text = llm(messages, specs).text
    validate(text)


def test_reusing_the_kept_cache_changes_nothing_but_the_work(tiny_llama, tokenizer):
    """A growing chat through one LLM with and without the kept cache: the same replies."""
    system = {"role": "system", "content": system_prompt(ALL_SPECS)}
    chats = [
        [system, {"role": "user", "content": "What is 12 times 7?"}],
        [system, {"role": "user", "content": "What is 12 times 7?"},
         {"role": "assistant", "content": format_call("calculator", {"expression": "12 * 7"})},
         {"role": "tool", "content": "84"}],
        [system, {"role": "user", "content": "Who wrote BERT?"}],  # a new task: system shared
    ]
    replies = {}
    for reuse in (False, True):
        llm = TransformersLLM(tiny_llama, tokenizer, constrained=True, max_new_tokens=60,
                              max_string_chars=16, reuse_prefix=reuse)
        replies[reuse], cached = [], []
        for chat in chats:
            reply = llm(chat, ALL_SPECS)
            replies[reuse].append(reply.text)
            cached.append(reply.stats.cached_tokens)
        if reuse:
            prompts = [llm.prompt_ids(chat)[0].tolist() for chat in chats]
            system_ids = tokenizer.apply_chat_template([system], return_dict=True)["input_ids"]
            assert cached[0] == 0  # nothing kept yet
            assert len(prompts[0]) <= cached[1] < len(prompts[1])  # the whole first prompt
            assert len(system_ids) <= cached[2] < len(prompts[2])
            llm.reset()
            assert llm(chats[0], ALL_SPECS).stats.cached_tokens == 0
        else:
            assert cached == [0, 0, 0]
    assert replies[True] == replies[False]


def test_jump_forward_changes_nothing_but_the_number_of_forward_passes(tiny_llama, tokenizer):
    """Batching the tokens the grammar forces gives the same reply, token for token, as choosing
    each one: same ids, same allowed counts, probabilities within float tolerance. An untrained
    model often splits the forced text its own way, so guesses are rejected too."""
    chats = [
        [{"role": "system", "content": system_prompt(ALL_SPECS)},
         {"role": "user", "content": task}]
        for task in ["What is 12 times 7?", "Who wrote BERT?", "Look up the word 'cat'."]
    ]
    stats = {}
    for jump in (False, True):
        llm = TransformersLLM(tiny_llama, tokenizer, constrained=True, max_new_tokens=60,
                              max_string_chars=12, jump_forward=jump)
        stats[jump] = [llm(chat, ALL_SPECS).stats for chat in chats]
    for plain, jumped in zip(stats[False], stats[True], strict=True):
        assert jumped.token_ids == plain.token_ids
        assert jumped.allowed_per_step == plain.allowed_per_step
        assert jumped.token_probs == pytest.approx(plain.token_probs, abs=1e-4)
        assert plain.forward_passes == plain.new_tokens
        assert jumped.forward_passes <= plain.forward_passes
    assert sum(s.forward_passes for s in stats[True]) < sum(s.forward_passes for s in stats[False])


def test_forced_text_is_what_every_call_shares(tokenizer):
    grammar = ToolCallGrammar(SPECS)
    assert grammar.forced_text(grammar.start) == '{"name": "'
    state = grammar.advance(grammar.start, '{"name": "calcul')
    assert grammar.forced_text(state) == 'ator", "arguments": {"expression": "'
    inside = grammar.advance(state, 'ator", "arguments": {"expression": "1')
    assert grammar.forced_text(inside) == ""  # a free string: nothing is forced
    assert grammar.forced_text(grammar.end) == ""
