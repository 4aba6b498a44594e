"""The agent's tools: a safe calculator, a unit converter and knowledge-base search (chapter 7).

A :class:`Tool` is plain data: a name, a one-line description, a JSON schema for its arguments and
the Python function that does the work. The agent never runs a function on raw model output:
``tool(arguments)`` first checks the arguments against the schema (:meth:`Tool.validate`), then
runs the function, and turns anything that goes wrong inside into a :class:`ToolExecutionError`
whose message is written for the model to read and recover from.

The calculator is the book's example of a tool that takes *code* from a model. It never calls
``eval``: it parses the expression with ``ast.parse(expression, mode="eval")`` and walks the tree,
accepting only numbers, parentheses, unary ``+``/``-`` and the binary operators
``+ - * / // % **``. ``%`` is Python's remainder, not a percent sign: "15% of 80" is written
``15 / 100 * 80`` (the fine-tuning data always does so). Length, nesting depth, exponents and the
magnitude of every intermediate result are bounded, so ``9**9**9`` is refused instead of freezing
the machine.

Numbers come back in one canonical spelling (:func:`format_number`): integers without ``.0``,
other values rounded to 10 significant digits. The gold answers of the tool-use data set use the
same function, so a model that copies the observation is right by construction.
"""

from __future__ import annotations

import ast
import math
import operator
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Protocol

SIGNIFICANT_DIGITS = 10
MAX_EXPRESSION_CHARS = 200
MAX_DEPTH = 24
MAX_EXPONENT = 100
MAX_MAGNITUDE = 1e15

_SCHEMA_TYPES: dict[str, str] = {
    "string": "a string",
    "number": "a number",
    "integer": "an integer",
    "boolean": "true or false",
}


class ToolArgumentError(ValueError):
    """The arguments of a call do not fit the tool's schema. The message is shown to the model."""


class ToolExecutionError(RuntimeError):
    """The tool ran and failed (bad expression, unknown unit...). The message is for the model."""


class CalculatorError(ValueError):
    """An expression the calculator refuses or cannot evaluate."""


class UnitError(ValueError):
    """A unit the converter does not know, or a conversion between different quantities."""


def _json_type(value: Any) -> str:
    """The JSON name of a Python value's type, for error messages."""
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    if value is None:
        return "null"
    if isinstance(value, list):
        return "array"
    if isinstance(value, dict):
        return "object"
    return type(value).__name__


def _fits(value: Any, kind: str) -> bool:
    """JSON-schema type check (booleans are not numbers; 3.0 counts as an integer)."""
    if kind == "string":
        return isinstance(value, str)
    if kind == "boolean":
        return isinstance(value, bool)
    if isinstance(value, bool) or not isinstance(value, int | float):
        return False
    if not math.isfinite(value):
        return False
    return kind == "number" or float(value).is_integer()


@dataclass(frozen=True)
class Tool:
    """A named function with a JSON schema for its arguments; calling it validates first."""

    name: str
    description: str
    parameters: dict[str, Any]
    function: Callable[..., str]

    def __post_init__(self) -> None:
        if not self.name.isidentifier():
            raise ValueError(f"tool name {self.name!r} must be an identifier like 'calculator'")
        params = self.parameters
        if params.get("type") != "object" or not isinstance(params.get("properties"), dict):
            raise ValueError(
                f"parameters of {self.name!r} must be a JSON schema "
                f'{{"type": "object", "properties": {{...}}}}, got {params!r}'
            )
        for arg, prop in params["properties"].items():
            if prop.get("type") not in _SCHEMA_TYPES:
                raise ValueError(
                    f"argument {arg!r} of {self.name!r} has type {prop.get('type')!r}; "
                    f"expected one of {sorted(_SCHEMA_TYPES)}"
                )
        unknown = set(params.get("required", [])) - set(params["properties"])
        if unknown:
            raise ValueError(
                f"required arguments {sorted(unknown)} of {self.name!r} are not in its properties"
            )

    def spec(self) -> dict[str, Any]:
        """The ``{"name", "description", "parameters"}`` dict for ``toolcall.system_prompt``."""
        return {"name": self.name, "description": self.description, "parameters": self.parameters}

    def signature(self) -> str:
        """``name(arg: type, ...)``, for error messages."""
        props = self.parameters["properties"]
        return f"{self.name}(" + ", ".join(f"{k}: {v['type']}" for k, v in props.items()) + ")"

    def validate(self, arguments: dict[str, Any]) -> dict[str, Any]:
        """Return ``arguments`` if they fit the schema (types, required, no extras, enum).

        Raises :class:`ToolArgumentError` naming the bad argument and what was expected.
        """
        if not isinstance(arguments, dict):
            raise ToolArgumentError(
                f"arguments of {self.name} must be an object, got {_json_type(arguments)}; "
                f"expected {self.signature()}"
            )
        props = self.parameters["properties"]
        extra = [k for k in arguments if k not in props]
        if extra and self.parameters.get("additionalProperties", True) is False:
            raise ToolArgumentError(
                f"unknown argument {extra[0]!r} for {self.name}; expected {self.signature()}"
            )
        for arg in self.parameters.get("required", []):
            if arg not in arguments:
                raise ToolArgumentError(
                    f"missing argument {arg!r} ({props[arg]['type']}) for {self.name}; "
                    f"expected {self.signature()}"
                )
        for arg, value in arguments.items():
            if arg not in props:
                continue
            kind = props[arg]["type"]
            if not _fits(value, kind):
                raise ToolArgumentError(
                    f"argument {arg!r} of {self.name} must be {_SCHEMA_TYPES[kind]}, "
                    f"got {_json_type(value)} {value!r}"
                )
            allowed = props[arg].get("enum")
            if allowed is not None and value not in allowed:
                raise ToolArgumentError(
                    f"argument {arg!r} of {self.name} must be one of {allowed}, got {value!r}"
                )
        return arguments

    def __call__(self, arguments: dict[str, Any]) -> str:
        """Validate, run and return the observation text.

        Schema problems raise :class:`ToolArgumentError`; any error inside the function becomes a
        :class:`ToolExecutionError` with a message for the model.
        """
        self.validate(arguments)
        try:
            result = self.function(**arguments)
        except Exception as err:  # any failure inside a tool is reported, never propagated raw
            raise ToolExecutionError(f"{self.name} error: {err}") from err
        return str(result)


# --------------------------------------------------------------------------------------------
# Numbers


def format_number(value: float | int) -> str:
    """Canonical text of a number: integers without ``.0``, others to 10 significant digits.

    ``format_number(84.0) == "84"``, ``format_number(0.1 + 0.2) == "0.3"``,
    ``format_number(100 / 3) == "33.33333333"``; values from 1e15 up or below 1e-6 use
    scientific notation (``"1.5e-07"``).
    """
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"expected an int or float, got {type(value).__name__} {value!r}")
    if isinstance(value, int):
        return str(value)
    if not math.isfinite(value):
        raise ValueError(f"expected a finite number, got {value!r}")
    rounded = float(f"{value:.{SIGNIFICANT_DIGITS}g}")
    if rounded == 0:
        return "0"
    if rounded.is_integer() and abs(rounded) < MAX_MAGNITUDE:
        return str(int(rounded))
    if 1e-6 <= abs(rounded) < MAX_MAGNITUDE:
        text = format(Decimal(repr(rounded)), "f")
        return text.rstrip("0").rstrip(".") if "." in text else text
    return f"{rounded:.{SIGNIFICANT_DIGITS}g}"


# --------------------------------------------------------------------------------------------
# Calculator

_BINARY: dict[type[ast.operator], Callable[[Any, Any], Any]] = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.Div: operator.truediv,
    ast.FloorDiv: operator.floordiv,
    ast.Mod: operator.mod,
    ast.Pow: operator.pow,
}
_UNARY: dict[type[ast.unaryop], Callable[[Any], Any]] = {
    ast.UAdd: operator.pos,
    ast.USub: operator.neg,
}
_HINTS: dict[type[ast.AST], str] = {
    ast.Name: "names are not allowed (only numbers and + - * / // % **)",
    ast.Call: "function calls are not allowed (only numbers and + - * / // % **)",
    ast.Attribute: "attribute access is not allowed",
    ast.Subscript: "indexing is not allowed",
    ast.BitXor: "^ is not a power here; write ** for powers, e.g. 2 ** 10",
    ast.Compare: "comparisons are not allowed; the calculator only does arithmetic",
}


def _check_magnitude(value: int | float) -> int | float:
    if isinstance(value, complex) or not math.isfinite(value) or abs(value) > MAX_MAGNITUDE:
        raise CalculatorError(
            f"result {value!r} is out of range; the calculator handles magnitudes up to 1e15"
        )
    return value


def _power(base: int | float, exponent: int | float) -> int | float:
    """``base ** exponent`` after checking that the result stays in range (chapter 7)."""
    if abs(exponent) > MAX_EXPONENT:
        raise CalculatorError(f"exponent {exponent!r} is too large (limit {MAX_EXPONENT})")
    if base < 0 and not float(exponent).is_integer():
        raise CalculatorError(f"({base!r}) ** {exponent!r} is not a real number")
    if base == 0 and exponent < 0:
        raise CalculatorError("division by zero (0 raised to a negative power)")
    if base != 0 and exponent * math.log10(abs(base)) > math.log10(MAX_MAGNITUDE):
        raise CalculatorError(f"{base!r} ** {exponent!r} is out of range (limit 1e15)")
    return base**exponent


def _evaluate(node: ast.AST, depth: int) -> int | float:
    """Walk one node of the expression tree, allowing only arithmetic."""
    if depth > MAX_DEPTH:
        raise CalculatorError(f"expression is nested too deeply (limit {MAX_DEPTH} levels)")
    if isinstance(node, ast.Constant):
        value = node.value
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise CalculatorError(f"only numbers are allowed, got {value!r}")
        return _check_magnitude(value)
    if isinstance(node, ast.UnaryOp) and type(node.op) in _UNARY:
        return _UNARY[type(node.op)](_evaluate(node.operand, depth + 1))
    if isinstance(node, ast.BinOp) and type(node.op) in _BINARY:
        left = _evaluate(node.left, depth + 1)
        right = _evaluate(node.right, depth + 1)
        if isinstance(node.op, ast.Pow):
            return _check_magnitude(_power(left, right))
        if isinstance(node.op, ast.Div | ast.FloorDiv | ast.Mod) and right == 0:
            raise CalculatorError("division by zero")
        return _check_magnitude(_BINARY[type(node.op)](left, right))
    kind = type(node.op) if isinstance(node, ast.BinOp | ast.UnaryOp) else type(node)
    hint = _HINTS.get(kind, f"{kind.__name__} is not allowed (only numbers and + - * / // % **)")
    raise CalculatorError(hint)


def calculate(expression: str) -> str:
    """Evaluate an arithmetic expression safely and return it formatted (chapter 7).

    Grammar: numbers, ``( )``, unary ``+ -``, binary ``+ - * / // % **`` (``%`` = remainder).
    Raises :class:`CalculatorError` for anything else or anything out of bounds.
    """
    if not isinstance(expression, str):
        raise CalculatorError(f"expected the expression as a string, got {expression!r}")
    if len(expression) > MAX_EXPRESSION_CHARS:
        raise CalculatorError(
            f"expression is {len(expression)} characters long (limit {MAX_EXPRESSION_CHARS})"
        )
    if not expression.strip():
        raise CalculatorError("empty expression; write arithmetic like 12 * 7")
    try:
        tree = ast.parse(expression.strip(), mode="eval")
    except SyntaxError:
        hint = " (for a percentage write 15 / 100 * 80)" if "%" in expression else ""
        raise CalculatorError(f"cannot parse {expression!r} as arithmetic{hint}") from None
    except RecursionError:
        raise CalculatorError(
            f"expression is nested too deeply (limit {MAX_DEPTH} levels)"
        ) from None
    return format_number(_evaluate(tree.body, 0))


def calculator_tool() -> Tool:
    """The ``calculator`` tool: ``{"expression": string}`` -> the value, canonically formatted."""
    return Tool(
        name="calculator",
        description=(
            "Evaluate arithmetic with + - * / // % ** and parentheses "
            "(% is remainder; write 15% of 80 as 15 / 100 * 80)."
        ),
        parameters={
            "type": "object",
            "properties": {
                "expression": {"type": "string", "description": "arithmetic, e.g. (3 + 4) * 12"}
            },
            "required": ["expression"],
            "additionalProperties": False,
        },
        function=calculate,
    )


# --------------------------------------------------------------------------------------------
# Unit conversion


@dataclass(frozen=True)
class Unit:
    """A unit: canonical name, symbol, quantity, and ``value_in_base = value * scale + offset``."""

    name: str
    symbol: str
    quantity: str
    scale: float
    offset: float = 0.0
    aliases: tuple[str, ...] = ()


UNITS: tuple[Unit, ...] = (
    # length, base metre
    Unit("meter", "m", "length", 1.0, aliases=("m",)),
    Unit("kilometer", "km", "length", 1e3, aliases=("km",)),
    Unit("centimeter", "cm", "length", 1e-2, aliases=("cm",)),
    Unit("millimeter", "mm", "length", 1e-3, aliases=("mm",)),
    Unit("mile", "mi", "length", 1609.344, aliases=("mi",)),
    Unit("yard", "yd", "length", 0.9144, aliases=("yd",)),
    Unit("foot", "ft", "length", 0.3048, aliases=("ft", "feet")),
    Unit("inch", "in", "length", 0.0254, aliases=("in", "inches")),
    # mass, base kilogram
    Unit("kilogram", "kg", "mass", 1.0, aliases=("kg", "kilo")),
    Unit("gram", "g", "mass", 1e-3, aliases=("g",)),
    Unit("milligram", "mg", "mass", 1e-6, aliases=("mg",)),
    Unit("tonne", "t", "mass", 1e3, aliases=("t", "metric ton")),
    Unit("pound", "lb", "mass", 0.45359237, aliases=("lb", "lbs")),
    Unit("ounce", "oz", "mass", 0.028349523125, aliases=("oz",)),
    # temperature, base kelvin
    Unit("kelvin", "K", "temperature", 1.0, aliases=("k",)),
    Unit("celsius", "°C", "temperature", 1.0, 273.15, aliases=("c", "°c", "centigrade")),
    Unit("fahrenheit", "°F", "temperature", 5 / 9, 273.15 - 32 * 5 / 9, aliases=("f", "°f")),
    # time, base second
    Unit("second", "s", "time", 1.0, aliases=("s", "sec")),
    Unit("minute", "min", "time", 60.0, aliases=("min",)),
    Unit("hour", "h", "time", 3600.0, aliases=("h", "hr", "hrs")),
    Unit("day", "d", "time", 86400.0, aliases=("d",)),
    Unit("week", "wk", "time", 604800.0, aliases=("wk",)),
    # volume, base litre (US customary units)
    Unit("liter", "L", "volume", 1.0, aliases=("l",)),
    Unit("milliliter", "mL", "volume", 1e-3, aliases=("ml",)),
    Unit("gallon", "gal", "volume", 3.785411784, aliases=("gal", "us gallon")),
    Unit("quart", "qt", "volume", 0.946352946, aliases=("qt",)),
    Unit("pint", "pt", "volume", 0.473176473, aliases=("pt",)),
    Unit("cup", "cup", "volume", 0.2365882365),
)
_UNIT_BY_NAME: dict[str, Unit] = {
    key: unit for unit in UNITS for key in (unit.name, *unit.aliases)
}


def find_unit(name: str) -> Unit:
    """Look a unit up by canonical name, symbol or alias (case-insensitive).

    Plurals (``miles``), British spellings (``metre``) and a leading ``degrees`` are accepted.
    Raises :class:`UnitError` listing the known canonical names.
    """
    key = " ".join(str(name).strip().lower().split()).removeprefix("degrees ")
    if key.endswith(("tre", "tres")):  # metre, litres -> meter, liters
        key = key[: key.rindex("tre")] + "ter" + key[key.rindex("tre") + 3 :]
    for candidate in (key, key.removesuffix("s") if len(key) > 3 else key):  # not ms -> m
        if candidate in _UNIT_BY_NAME:
            return _UNIT_BY_NAME[candidate]
    known = ", ".join(u.name for u in UNITS)
    raise UnitError(f"unknown unit {name!r}; known units: {known}")


def convert(value: float, from_unit: str, to_unit: str) -> float:
    """``value`` in ``from_unit`` as ``to_unit``: ``(value * s_from + o_from - o_to) / s_to``."""
    source, target = find_unit(from_unit), find_unit(to_unit)
    if source.quantity != target.quantity:
        raise UnitError(
            f"cannot convert {source.quantity} ({source.name}) to {target.quantity} ({target.name})"
        )
    if source is target:
        return value
    return (value * source.scale + source.offset - target.offset) / target.scale


def convert_units(value: float, from_unit: str, to_unit: str) -> str:
    """The ``convert_units`` observation: ``"5 mi = 8.04672 km"`` (canonical numbers)."""
    source, target = find_unit(from_unit), find_unit(to_unit)
    result = convert(value, source.name, target.name)
    return f"{format_number(value)} {source.symbol} = {format_number(result)} {target.symbol}"


def unit_converter_tool() -> Tool:
    """The ``convert_units`` tool: length, mass, temperature, time and volume."""
    return Tool(
        name="convert_units",
        description=(
            "Convert a value between units of length, mass, temperature, time or volume "
            "(e.g. mile to kilometer, pound to kilogram, fahrenheit to celsius)."
        ),
        parameters={
            "type": "object",
            "properties": {
                "value": {"type": "number", "description": "the amount to convert"},
                "from_unit": {"type": "string", "description": "unit of the value, e.g. mile"},
                "to_unit": {"type": "string", "description": "unit wanted, e.g. kilometer"},
            },
            "required": ["value", "from_unit", "to_unit"],
            "additionalProperties": False,
        },
        function=convert_units,
    )


# --------------------------------------------------------------------------------------------
# Search


class SearchIndex(Protocol):
    """Anything with ``search(query, k) -> hits``; hits have ``.title``, ``.text``, ``.source``."""

    def search(self, query: str, k: int = 3) -> list[Any]: ...


def format_hits(hits: list[Any]) -> str:
    """The ``search`` observation: one numbered line per passage, ``[1] Title: text (source)``."""
    if not hits:
        return "no passages found"
    return "\n".join(
        f"[{i}] {hit.title}: {hit.text} (source: {hit.source})" for i, hit in enumerate(hits, 1)
    )


def search_tool(index: SearchIndex | None = None, k: int = 3) -> Tool:
    """The ``search`` tool over a retrieval index (the shipped knowledge base when ``None``).

    The shipped index is built on first use, so listing the tool costs nothing.
    """
    if k < 1:
        raise ValueError(f"k must be a positive number of passages, got {k!r}")

    def search(query: str) -> str:
        if not query.strip():
            raise ValueError("empty query; ask about a person, model, paper or library")
        nonlocal index
        if index is None:
            from companion.agent.retrieval import default_index

            index = default_index()
        return format_hits(index.search(query, k=k))

    return Tool(
        name="search",
        description=(
            "Search the local knowledge base about language models, their papers, people and "
            "libraries; returns the top passages with their sources."
        ),
        parameters={
            "type": "object",
            "properties": {"query": {"type": "string", "description": "what to look up"}},
            "required": ["query"],
            "additionalProperties": False,
        },
        function=search,
    )


def default_tools(index: SearchIndex | None = None) -> list[Tool]:
    """The agent's tools, in prompt order: calculator, convert_units, search (chapter 7)."""
    return [calculator_tool(), unit_converter_tool(), search_tool(index)]
