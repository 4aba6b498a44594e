"""The process that runs a submission for the grader (book/teaching.md, "How grading works").

It runs inside the sandbox (:mod:`companion.teaching.sandbox`) and obeys one command at a time
from the grader on stdin, answering each on a pipe of its own (``GRADER_REPLY_FD``) with the
command's nonce, so that nothing the submission writes before a command is sent can pass for
its answer:

- ``{"op": "run", "kind": "cell", ...}``: run one cell (teacher's or student's) in the IPython
  namespace; an error is reported, never raised.
- ``{"op": "snapshot"}``: after the teacher's cells and the checks' imports, before any student
  code: remember every loaded module's functions and classes, the methods of the tensor and array
  types, and a private deep copy of the teacher's variables.
- ``{"op": "run", "kind": "check", ...}``: undo any change the submission made to those libraries,
  then run the check in a fresh namespace for each question (its checks share it): a new copy of
  the teacher's variables, the real builtins, and the student's own names, which can add to but
  never replace the teacher's. A check
  during which a library changed fails and names what changed.

The grader, not this process, enforces the time limits and counts each check once.
"""

from __future__ import annotations

import ast
import builtins
import contextlib
import copy
import json
import os
import random
import signal
import sys
import types
import warnings
from typing import Any

_FUNCTION_TYPES = (types.FunctionType, types.BuiltinFunctionType, types.MethodType,
                   types.ModuleType, type)
_SKIP_MODULES = ("__main__", "__mp_main__")


class TimeLimit(BaseException):
    """Raised by the alarm when a step runs past the limit the grader gave it."""


def _on_alarm(signum, frame):
    raise TimeLimit("time limit reached")


def describe(err: BaseException) -> str:
    """``Type: first line of the message`` (at most 300 characters)."""
    if isinstance(err, TimeLimit):
        return "time limit reached"
    message = str(err).strip().splitlines()
    return f"{type(err).__name__}: {message[0][:300]}" if message else type(err).__name__


def _watched_classes() -> list[type]:
    classes: list[type] = []
    torch = sys.modules.get("torch")
    if torch is not None:
        classes += [c for c in type(torch.zeros(0)).__mro__ if c is not object]
        classes.append(torch.nn.Module)
    numpy = sys.modules.get("numpy")
    if numpy is not None:
        classes += [numpy.ndarray, numpy.generic]
    pandas = sys.modules.get("pandas")
    if pandas is not None:
        classes += [pandas.DataFrame, pandas.Series, pandas.Index]
    return classes


class Guard:
    """What the libraries looked like before any student code ran, and how to put it back."""

    def __init__(self, namespace: dict[str, Any]) -> None:
        with warnings.catch_warnings():  # reading a deprecated alias warns
            warnings.simplefilter("ignore")
            self._take(namespace)

    def _take(self, namespace: dict[str, Any]) -> None:
        self.modules = {name: (module, {k: v for k, v in vars(module).items()
                                        if isinstance(v, _FUNCTION_TYPES)})
                        for name, module in list(sys.modules.items())
                        if name not in _SKIP_MODULES and isinstance(module, types.ModuleType)
                        and isinstance(getattr(module, "__dict__", None), dict)}
        self.classes = {cls: dict(vars(cls)) for cls in _watched_classes()}
        self.names = set(namespace)
        self.pristine = self._copy(namespace)

    @staticmethod
    def _copy(namespace: dict[str, Any]) -> dict[str, Any]:
        out = {}
        for key, value in namespace.items():
            if key.startswith("__") or isinstance(value, _FUNCTION_TYPES):
                out[key] = value
                continue
            try:
                out[key] = copy.deepcopy(value)
            except Exception:  # noqa: BLE001 - what cannot be copied is shared as it is
                out[key] = value
        return out

    def changes(self, restore: bool) -> list[str]:
        """Names of library attributes that differ from the snapshot (put back if ``restore``)."""
        changed: list[str] = []
        for name, (module, saved) in self.modules.items():
            current = vars(module)
            for key, value in saved.items():
                if current.get(key) is not value:
                    changed.append(f"{name}.{key}")
                    if restore:
                        setattr(module, key, value)
            if sys.modules.get(name, module) is not module:
                changed.append(f"sys.modules[{name!r}]")
                if restore:
                    sys.modules[name] = module
        for cls, saved in self.classes.items():
            current = dict(vars(cls))
            for key in current.keys() | saved.keys():
                if current.get(key) is not saved.get(key):
                    changed.append(f"{cls.__module__}.{cls.__qualname__}.{key}")
                    if restore:
                        with contextlib.suppress(Exception):
                            if key in saved:
                                setattr(cls, key, saved[key])
                            else:
                                delattr(cls, key)
        return changed

    def check_namespace(self, student: dict[str, Any]) -> dict[str, Any]:
        """A new copy of the teacher's variables, plus the student's new names."""
        namespace = self._copy(self.pristine)
        for key, value in student.items():
            if key not in self.names and not key.startswith("_") and not hasattr(builtins, key):
                namespace[key] = value
        namespace["__builtins__"] = builtins
        return namespace


def _seed() -> None:
    random.seed(0)
    if "numpy" in sys.modules:
        sys.modules["numpy"].random.seed(0)
    if "torch" in sys.modules:
        sys.modules["torch"].manual_seed(0)


def explain(err: BaseException, code: str, label: str, namespace: dict[str, Any]) -> str:
    """The error, and for a bare failing ``assert a == b`` the assert and both sides' values."""
    text = describe(err)
    if not isinstance(err, AssertionError) or str(err).strip():
        return text
    lineno = None
    tb = err.__traceback__
    while tb is not None:
        if tb.tb_frame.f_code.co_filename == label:
            lineno = tb.tb_lineno
        tb = tb.tb_next
    try:
        tree = ast.parse(code)
    except SyntaxError:
        return text
    node = next((n for n in ast.walk(tree) if isinstance(n, ast.Assert)
                 and n.lineno <= (lineno or 0) <= (n.end_lineno or n.lineno)), None)
    if node is None:
        return text
    text = f"AssertionError: `{ast.get_source_segment(code, node.test)}` is false"
    test = node.test
    if isinstance(test, ast.Compare) and len(test.ops) == 1:
        sides = []
        for side in (test.left, test.comparators[0]):
            try:
                value = eval(compile(ast.Expression(side), label, "eval"), namespace)
                sides.append(f"`{ast.get_source_segment(code, side)}` = {value!r}"[:300])
            except BaseException:  # noqa: BLE001 - a side that fails again is left out
                return text
        text += " (" + "; ".join(sides) + ")"
    return text


class Harness:
    """The commands of the module docstring, on one IPython shell."""

    def __init__(self, shell) -> None:
        self.shell = shell
        self.guard: Guard | None = None
        self.question: str | None = None
        self.namespace: dict[str, Any] = {}

    def handle(self, command: dict[str, Any]) -> dict[str, Any]:
        """Obey one command; the reply carries its nonce. Student errors are replies, not raised."""
        reply: dict[str, Any] = {"nonce": command.get("nonce"), "error": None, "tampered": []}
        if command["op"] == "snapshot":
            for code in command.get("imports", []):  # references first, before student code
                with contextlib.suppress(Exception):
                    exec(compile(code, "<imports>", "exec"), dict(self.shell.user_ns))
            self.guard = Guard(self.shell.user_ns)
        elif command["kind"] == "cell":
            signal.setitimer(signal.ITIMER_REAL, command["limit"])
            try:
                result = self.shell.run_cell(command["code"], store_history=False, silent=True)
                if not result.success:
                    reply["error"] = describe(result.error_in_exec or result.error_before_exec)
            except BaseException as err:  # noqa: BLE001 - a failing cell is a result
                reply["error"] = describe(err)
            finally:
                signal.setitimer(signal.ITIMER_REAL, 0)
        else:
            reply.update(self._check(command))
        return reply

    def _check(self, command: dict[str, Any]) -> dict[str, Any]:
        guard = self.guard
        if guard is None:
            raise RuntimeError("the grader sends a snapshot before the first check")
        guard.changes(restore=True)
        if command.get("question") != self.question or not self.namespace:
            self.question = command.get("question")
            self.namespace = guard.check_namespace(self.shell.user_ns)
        namespace = self.namespace
        _seed()
        error = None
        signal.setitimer(signal.ITIMER_REAL, command["limit"])
        try:
            exec(compile(command["code"], command["label"], "exec"), namespace)
        except BaseException as err:  # noqa: BLE001 - a failing check is a score
            signal.setitimer(signal.ITIMER_REAL, 0)
            error = describe(err)
            with contextlib.suppress(BaseException):
                guard.changes(restore=True)
                signal.setitimer(signal.ITIMER_REAL, 2)
                error = explain(err, command["code"], command["label"], namespace)
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
        return {"error": error, "tampered": guard.changes(restore=True)[:5]}


def main() -> None:
    """Obey the grader's commands until stdin closes."""
    from IPython.core.interactiveshell import InteractiveShell

    commands = sys.stdin.buffer
    replies = os.fdopen(int(os.environ.pop("GRADER_REPLY_FD")), "w", encoding="utf-8")
    signal.signal(signal.SIGALRM, _on_alarm)
    harness = Harness(InteractiveShell.instance())
    while line := commands.readline():
        replies.write(json.dumps(harness.handle(json.loads(line))) + "\n")
        replies.flush()
