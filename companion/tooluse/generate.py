"""The tool-use data set: questions generated from meaning, solved with the real tools (chapter 5).

Every record is a whole conversation in the :mod:`companion.toolcall` format: the system prompt
listing the agent's tools, the user's question, the tool calls that solve it, the observations that
*running the tools* returned, and the final answer. Nothing after a call is typed by hand, so the
data cannot disagree with the tools the agent will use.

Questions come from five makers, each drawing a meaning first and wording it second:

- **frames** (``calculator.yaml``, ``word_problems.yaml``): arithmetic said in words and word
  problems, each answered by *one* calculator expression over the numbers that matter;
- **typed expressions**: random expression trees written the ways people type them (``x``, ``×``,
  ``^``, ``÷``, separators, spaces or none), answered by the canonical expression;
- **conversions** (``conversions.yaml``): every usual unit word, symbol and plural, and implied
  quantities ("minutes in a week");
- **facts** (``facts.yaml``): knowledge-base questions in many forms, one search;
- **fact chains**: years between two subjects (two searches, one subtraction), years since one.

Surface noise (``noise.yaml``: casing, filler, missing punctuation, a small typo) and sentences with
numbers that do not matter (``distractors`` in ``lexicon.yaml``) are added on top.

**Held-out splits.** ``train``, ``validation`` and ``test`` come from the same frames and
templates (in-distribution: different draws). ``heldout`` comes only from frames marked
``held_out: true`` and from the *last* template of every other list of three or more, which
training never sees: it measures generalisation to new meanings and wordings, not recall.

Run ``python -m companion.tooluse`` to regenerate ``data/sets/tooluse/*.jsonl`` (byte-identical for
the same seed on the same software).
"""

from __future__ import annotations

import json
import random
import re
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import yaml

from companion.agent.retrieval import load_knowledge_base
from companion.agent.tools import (
    SearchIndex,
    Tool,
    ToolExecutionError,
    default_tools,
    format_number,
)
from companion.paths import TOOLUSE_DATA
from companion.toolcall import ToolCall, conversation, stated_value, system_prompt
from companion.tooluse.frames import Frame, FrameError, frame_from_dict, lexicon_values
from companion.tooluse.grammar import realise
from companion.tooluse.spoken import say_number

SPLITS: tuple[str, ...] = ("train", "validation", "test", "heldout")
KINDS: tuple[str, ...] = ("word_problem", "calculator", "expression", "conversion", "fact",
                          "years_between", "years_since")
DATA_DIR = TOOLUSE_DATA
GRAMMAR_DIR = DATA_DIR / "grammar"


# --------------------------------------------------------------------------------------------
# The grammar files


@dataclass(frozen=True)
class Grammar:
    """Everything read from the grammar folder, checked."""

    lexicon: dict[str, list[str]]
    frames: tuple[Frame, ...]
    conversions: dict[str, Any]
    facts: dict[str, Any]
    expressions: dict[str, Any]
    noise: dict[str, Any]
    mix: dict[str, float]
    focus_mix: dict[str, float]


def _read_yaml(path: Path) -> Any:
    if not path.exists():
        raise FileNotFoundError(f"grammar file {path.name} is missing from {path.parent}")
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def load_grammar(folder: Path = GRAMMAR_DIR) -> Grammar:
    """Read and check the grammar files (a bad entry raises :class:`FrameError` naming it)."""
    folder = Path(folder)
    lexicon = _read_yaml(folder / "lexicon.yaml")
    for key, values in lexicon.items():
        if not isinstance(values, list) or not values:
            raise FrameError(f"lexicon list {key!r} must be a non-empty list")
    frames = []
    for name in ("calculator.yaml", "word_problems.yaml"):
        for entry in _read_yaml(folder / name)["frames"]:
            frames.append(frame_from_dict(entry, lexicon))
    names = Counter(f.name for f in frames)
    twice = [n for n, c in names.items() if c > 1]
    if twice:
        raise FrameError(f"frame names must be unique; repeated: {twice}")
    rest = {name: _read_yaml(folder / f"{name}.yaml")
            for name in ("conversions", "facts", "expressions", "noise", "mix", "focus_mix")}
    for name in ("mix", "focus_mix"):
        unknown = set(rest[name]) - set(KINDS)
        if unknown:
            raise FrameError(f"{name}.yaml names unknown kinds {sorted(unknown)}; "
                             f"expected some of {list(KINDS)}")
    return Grammar(lexicon, tuple(frames), rest["conversions"], rest["facts"],
                   rest["expressions"], rest["noise"], rest["mix"], rest["focus_mix"])


def template_pool(templates: tuple[str, ...] | list[str], held_out: bool) -> list[int]:
    """Indices of the templates a split may use: the last of three or more is held out."""
    n = len(templates)
    if n >= 3:
        return [n - 1] if held_out else list(range(n - 1))
    return [] if held_out else list(range(n))


# --------------------------------------------------------------------------------------------
# One task


@dataclass
class Task:
    """A question and the tool calls that answer it, before the conversation is written."""

    maker: str
    frame: str
    template: str
    question: str
    calls: list[tuple[str, dict[str, Any]]]
    answer_from: Callable[[list[str]], str]


class Unanswerable(ValueError):
    """A draw whose tools did not bring back what its answer needs; the maker draws again."""


class Maker:
    """Draws tasks of every kind from a :class:`Grammar` (one random generator per split)."""

    def __init__(self, grammar: Grammar, rng: random.Random) -> None:
        self.g, self.rng = grammar, rng
        self.passages = [p for p in load_knowledge_base() if not p.adversarial]
        self.aliases: dict[str, list[str]] = grammar.facts.get("aliases", {})

    # ---- frames
    def frame(self, frames: list[Frame], held_out: bool) -> Task:
        frame = self.rng.choices(frames, weights=[f.weight for f in frames])[0]
        pool = list(range(len(frame.templates))) if frame.held_out else template_pool(
            frame.templates, held_out)
        index = self.rng.choice(pool)
        values = frame.draw_values(self.rng)
        slots = {**frame.spoken(values, self.rng),
                 **lexicon_values(frame.lexicon_slots, self.g.lexicon, self.rng)}
        text = realise(frame.templates[index], slots, self.rng)
        if frame.wrap:
            text = realise(self.rng.choice(self.g.lexicon["ask"]), {"core": text}, self.rng)
        if frame.distractors and self.rng.random() < self.g.noise["distractor_share"]:
            text = self._with_distractor(text)
        return Task("frame", frame.name, f"{frame.name}/{index}", text,
                    [("calculator", {"expression": frame.expression_for(values)})],
                    lambda obs: obs[-1])

    def _with_distractor(self, text: str) -> str:
        sentence = realise(self.rng.choice(self.g.lexicon["distractor"]),
                           {"x": say_number(self.rng.randint(2, 95), self.rng),
                            **lexicon_values(frozenset({"name", "item"}), self.g.lexicon,
                                             self.rng)}, self.rng)
        parts = re.split(r"(?<=[.!])\s+", text)
        at = self.rng.randrange(len(parts))  # before any sentence, never after the question
        return " ".join([*parts[:at], sentence, *parts[at:]])

    # ---- typed expressions
    def expression(self, held_out: bool) -> Task:
        spec = self.g.expressions
        for _ in range(50):
            canonical, typed = self._tree(self.rng.randint(2, spec["max_operands"]))
            if canonical.count("(") <= 2:
                break
        wrappers = spec["wrappers"]
        index = self.rng.choice(template_pool(wrappers, held_out))
        text = realise(wrappers[index], {"e": typed}, self.rng)
        return Task("expression", "typed_expression", f"typed_expression/{index}", text,
                    [("calculator", {"expression": canonical})], lambda obs: obs[-1])

    def _operand(self) -> tuple[str, str]:
        rng, spec = self.rng, self.g.expressions
        if rng.random() < spec["decimal_share"]:
            value: int | float = round(rng.uniform(0.1, 99), rng.choice([1, 2]))
        else:
            value = rng.choice([rng.randint(1, 20), rng.randint(2, 999), rng.randint(100, 99999)])
        text = format_number(value)
        typed = say_number(value, rng, words=0.0, separators=spec["separator_share"])
        return text, typed

    def _tree(self, operands: int) -> tuple[str, str]:
        """A random expression: (canonical text, typed text), parentheses where precedence needs."""
        rng, spec = self.rng, self.g.expressions
        canonical, typed = self._operand()
        level = 3  # precedence of the expression so far: 3 atom, 2 power, 1 product, 0 sum
        for _ in range(operands - 1):
            op = rng.choice(spec["operators"])
            right, right_typed = self._operand()
            op_level = {"+": 0, "-": 0, "*": 1, "/": 1, "**": 2}[op]
            if op == "**":
                right = right_typed = str(rng.randint(2, 4))
            if level < op_level or (op == "**" and level <= 2):
                canonical, typed = f"({canonical})", f"({typed})"
            level = min(level, op_level) if level >= op_level else op_level
            symbol = rng.choice(spec["symbols"][op])
            space = " " if rng.random() < spec["spaced_share"] else ""
            canonical = f"{canonical} {op} {right}"
            typed = f"{typed}{space}{symbol}{space}{right_typed}"
        return canonical, typed

    # ---- conversions
    def conversion(self, held_out: bool) -> Task:
        spec, rng = self.g.conversions, self.rng
        quantity = rng.choice(sorted(spec["quantities"]))
        units = spec["quantities"][quantity]
        source, target = rng.sample(units["units"], 2)
        implied = rng.random() < spec["implied_share"] and quantity == "time"
        if implied:
            value: int | float = 1
            pool = spec["templates_one"]
        else:
            lo, hi = units["range"]
            value = rng.randint(lo, hi) if rng.random() < 0.75 else round(rng.uniform(lo, hi), 1)
            pool = spec["templates"]
        index = rng.choice(template_pool(pool, held_out))
        words = spec["words"]
        plural = "one" if value == 1 else "many"
        slots = {"v": say_number(value, rng),
                 "from": rng.choice(words[source][plural]),
                 "to": rng.choice(words[target]["many"]),
                 "from_one": rng.choice(words[source]["one"])}
        text = realise(pool[index], slots, rng)
        name = "implied_quantity" if implied else "conversion"
        return Task("conversion", name, f"{name}/{index}", text,
                    [("convert_units", {"value": value, "from_unit": source, "to_unit": target})],
                    lambda obs: stated_value(obs[-1]))

    # ---- facts
    def _subject(self, relation: str) -> tuple[Any, str]:
        passage = self.rng.choice([p for p in self.passages if relation in p.facts])
        names = [passage.subject, *self.aliases.get(passage.subject, [])]
        name = self.rng.choice(names)
        return passage, name

    def _query(self, name: str, relation: str) -> str:
        word = self.g.facts["query_words"][relation]
        return f"{re.sub(r'^the ', '', name)} {word}"

    def fact(self, held_out: bool) -> Task:
        relation = self.rng.choice(sorted(self.g.facts["templates"]))
        passage, name = self._subject(relation)
        pool = self.g.facts["templates"][relation]
        index = self.rng.choice(template_pool(pool, held_out))
        text = realise(pool[index], {"subject": name}, self.rng)
        gold = passage.facts[relation]

        def answer(obs: list[str]) -> str:
            if gold not in obs[0]:
                raise Unanswerable(f"search for {name!r} did not return {gold!r}")
            return gold

        return Task("fact", f"fact_{relation}", f"fact_{relation}/{index}", text,
                    [("search", {"query": self._query(name, relation)})], answer)

    def years_between(self, held_out: bool) -> Task:
        first, name1 = self._subject("year")
        second, name2 = self._subject("year")
        y1, y2 = int(first.facts["year"]), int(second.facts["year"])
        if y1 == y2:
            raise Unanswerable("same year")
        pool = self.g.facts["between"]
        index = self.rng.choice(template_pool(pool, held_out))
        text = realise(pool[index], {"subject": name1, "subject2": name2}, self.rng)
        later, earlier = max(y1, y2), min(y1, y2)
        calls = [("search", {"query": self._query(name1, "year")}),
                 ("search", {"query": self._query(name2, "year")}),
                 ("calculator", {"expression": f"{later} - {earlier}"})]

        def answer(obs: list[str]) -> str:
            if str(y1) not in obs[0] or str(y2) not in obs[1]:
                raise Unanswerable("a year was not retrieved")
            return obs[2]

        return Task("chain", "years_between", f"years_between/{index}", text, calls, answer)

    def years_since(self, held_out: bool) -> Task:
        passage, name = self._subject("year")
        year = int(passage.facts["year"])
        now = self.rng.randint(max(year + 1, 2000), 2040)
        pool = self.g.facts["since"]
        index = self.rng.choice(template_pool(pool, held_out))
        text = realise(pool[index], {"subject": name, "now": str(now)}, self.rng)
        calls = [("search", {"query": self._query(name, "year")}),
                 ("calculator", {"expression": f"{now} - {year}"})]

        def answer(obs: list[str]) -> str:
            if str(year) not in obs[0]:
                raise Unanswerable("the year was not retrieved")
            return obs[1]

        return Task("chain", "years_since", f"years_since/{index}", text, calls, answer)

    # ---- noise
    def noisy(self, text: str, protect: str = "") -> str:
        """Casing, filler, punctuation and a typo, as readers type (``protect``: keep verbatim)."""
        rng, noise = self.rng, self.g.noise
        if rng.random() < noise["typo_share"]:
            words = [w for w in re.findall(r"[a-z]{5,}", text) if w not in protect.lower()]
            if words:
                word = rng.choice(words)
                i = rng.randrange(1, len(word) - 2)
                typo = word[:i] + word[i + 1] + word[i] + word[i + 2:]
                text = re.sub(rf"\b{word}\b", typo, text, count=1)
        if rng.random() < noise["filler_share"]:
            text = realise(rng.choice(noise["fillers"]), {"q": text[:1].lower() + text[1:]}, rng)
        if rng.random() < noise["no_final_punctuation_share"]:
            text = text.rstrip("?.!")
        if rng.random() < noise["lower_case_share"]:
            text = text.lower()
        return text[:1].upper() + text[1:] if rng.random() < 0.85 else text


# --------------------------------------------------------------------------------------------
# Records and one split


class _CachedTool:
    """A tool whose observations are memoised by arguments (search runs MiniLM once per query)."""

    def __init__(self, tool: Tool) -> None:
        self.tool, self.cache = tool, {}

    def __call__(self, arguments: dict[str, Any]) -> str:
        key = json.dumps(arguments, sort_keys=True)
        if key not in self.cache:
            self.cache[key] = self.tool(arguments)
        return self.cache[key]


def _as_written(call: tuple[str, dict[str, Any]], question: str) -> tuple[str, dict[str, Any]]:
    """A search query that copies the name as the question spells it (case included)."""
    name, arguments = call
    if name != "search":
        return call
    subject, _, word = arguments["query"].rpartition(" ")
    found = re.search(re.escape(subject), question, flags=re.IGNORECASE)
    if found is None:
        return call
    return name, {"query": f"{found.group()} {word}"}


def _record(task: Task, tools: dict[str, Any], system: str) -> dict[str, Any]:
    try:
        observations = [tools[name](arguments) for name, arguments in task.calls]
    except ToolExecutionError as err:  # out of the calculator's range: draw again
        raise Unanswerable(str(err)) from None
    answer = task.answer_from(observations)
    turns = [(ToolCall(name, args), obs)
             for (name, args), obs in zip(task.calls, observations, strict=True)]
    final = (ToolCall("final_answer", {"answer": answer}), "")
    return {"maker": task.maker, "frame": task.frame, "template": task.template,
            "tool": "+".join(dict.fromkeys(name for name, _ in task.calls)),
            "task": task.question, "messages": conversation(system, task.question, [*turns, final]),
            "answer": answer, "calls": [{"name": n, "arguments": a} for n, a in task.calls]}


def generate_split(split: str, n: int, seed: int = 0, grammar: Grammar | None = None,
                   index: SearchIndex | None = None,
                   exclude: set[str] | frozenset[str] = frozenset()) -> list[dict[str, Any]]:
    """``n`` distinct tasks of one split, solved with the real tools (deterministic in ``seed``).

    ``exclude`` holds questions that must not appear (the evaluation splits, when making train).
    """
    if split not in SPLITS:
        raise ValueError(f"unknown split {split!r}; expected one of {SPLITS}")
    if n < 0:
        raise ValueError(f"n must be a non-negative number of tasks, got {n!r}")
    grammar = grammar or load_grammar()
    specs = default_tools(index)
    system = system_prompt([t.spec() for t in specs])
    tools = {t.name: _CachedTool(t) for t in specs}
    rng = random.Random(f"tooluse:{seed}:{split}")
    maker = Maker(grammar, rng)
    held_out = split == "heldout"
    # train, validation and test never see a held-out frame; heldout sees those frames (weighted
    # up) and the held-out last template of every other frame that has one
    usable = [f for f in grammar.frames if f.held_out or not held_out or len(f.templates) >= 3]
    if held_out:
        usable = [replace(f, weight=f.weight * 5) if f.held_out else f for f in usable]
    else:
        usable = [f for f in usable if not f.held_out]
    frames = {kind: [f for f in usable if f.kind == kind]
              for kind in ("calculator", "word_problem")}

    def draw(kind: str) -> Task:
        """One task of a kind of :data:`KINDS`: from a frame, or from the Maker method so named."""
        if kind in frames:
            return maker.frame(frames[kind], held_out)
        return getattr(maker, kind)(held_out)

    kinds = sorted(grammar.mix)
    weights = [grammar.mix[k] for k in kinds]
    records, seen = [], set(exclude)
    for _ in range(50 * n + 100):
        if len(records) == n:
            break
        try:
            task = draw(rng.choices(kinds, weights=weights)[0])
            protect = " ".join(str(a.get("query", "")) for _, a in task.calls)
            task.question = maker.noisy(task.question, protect)
            task.calls = [_as_written(call, task.question) for call in task.calls]
            if task.question in seen:
                continue
            record = _record(task, tools, system)
        except Unanswerable:
            continue
        seen.add(task.question)
        records.append({"split": split, **record})
    if len(records) < n:
        raise ValueError(f"could only make {len(records)} distinct {split} tasks, asked for {n}")
    return [{"id": f"{split}-{k:05d}", **r} for k, r in enumerate(records)]
