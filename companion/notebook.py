"""Notebook conveniences: the ``%%gpu`` and ``%%online`` cell magics and a seeded set-up.

Load it in the first cell of every chapter::

    %load_ext companion.notebook

A cell that needs a GPU starts with ``%%gpu`` (and carries the cell tag ``gpu`` for readers of the
raw notebook). Under the ``cpu`` profile the cell is not run; it prints one line saying why, the
same in JupyterLab, under nbval and in the book build. Under ``gpu`` it runs as a normal cell.
``%%online`` does the same for cells that reach the Hugging Face Hub (opt in with
``BOOK_ONLINE=1``).
"""

from __future__ import annotations

import inspect
import os
import random
import re
import textwrap
import warnings

from companion import config


def skip_message(kind: str) -> str | None:
    """The note printed instead of running a ``%%gpu`` or ``%%online`` cell, or None to run it."""
    if kind == "gpu":
        active = config.profile()
        if active == "gpu":
            return None
        return (
            f"[skipped] this cell needs the 'gpu' profile; the book is running with '{active}'. "
            f"Set profile: gpu in profile.yml, or {config.PROFILE_ENV}=gpu, to run it."
        )
    if kind == "online":
        if config.online():
            return None
        return (
            "[skipped] this cell downloads from the Hugging Face Hub; the book runs offline. "
            f"Set {config.ONLINE_ENV}=1 to run it."
        )
    raise ValueError(f"unknown cell kind {kind!r}; expected 'gpu' or 'online'")


def _run_or_skip(kind: str, cell: str) -> None:
    from IPython import get_ipython

    message = skip_message(kind)
    if message is not None:
        print(message)
        return
    result = get_ipython().run_cell(cell)
    result.raise_error()


def load_ipython_extension(ipython) -> None:
    """Register ``%%gpu`` and ``%%online`` (called by ``%load_ext companion.notebook``)."""

    def gpu(line: str, cell: str) -> None:
        _run_or_skip("gpu", cell)

    def online(line: str, cell: str) -> None:
        _run_or_skip("online", cell)

    ipython.register_magic_function(gpu, magic_kind="cell", magic_name="gpu")
    ipython.register_magic_function(online, magic_kind="cell", magic_name="online")
    # tqdm warns that ipywidgets is missing and falls back to text bars, which is what we want.
    warnings.filterwarnings("ignore", message="IProgress not found")
    seed_everything(0)


def seed_everything(seed: int = 0) -> None:
    """Seed Python, NumPy and torch so that sampled outputs are reproducible."""
    os.environ.setdefault("PYTHONHASHSEED", str(seed))
    random.seed(seed)
    try:
        import numpy as np

        np.random.seed(seed)  # noqa: NPY002 - seeds the legacy global generator readers use
    except ImportError:  # pragma: no cover - numpy is a requirement
        pass
    import torch

    torch.manual_seed(seed)


class Source(str):
    """Source code that a chapter shows: a highlighted code block on the page, the text elsewhere.

    Jupyter and the book render ``_repr_markdown_`` (a fenced ``python`` block, styled like every
    other code cell); nbval and plain Python see the text itself, so a stored output that no
    longer matches the package fails the notebook's check.
    """

    def _repr_markdown_(self) -> str:
        longest = max((len(run) for run in re.findall(r"`+", self)), default=0)
        fence = "`" * max(3, longest + 1)
        return f"{fence}python\n{self}\n{fence}"

    def __repr__(self) -> str:
        return str(self)


def show_source(*objects: object) -> Source:
    """The source of companion functions, classes or methods, for a chapter page (``remove-input``).

    ``show_source(attention.scaled_dot_product_attention)`` in a cell tagged ``remove-input`` puts
    the function's code on the page, read from the installed package by :func:`inspect.getsource`,
    so the page cannot drift from the code the tests check. Several objects are shown one after
    the other, two blank lines apart, in the order given.
    """
    if not objects:
        raise ValueError("show_source needs at least one function, class or method")
    texts = []
    for obj in objects:
        try:
            texts.append(textwrap.dedent(inspect.getsource(obj)).rstrip())
        except (TypeError, OSError) as err:
            raise TypeError(
                f"show_source shows functions, classes and methods defined in a file; "
                f"got {obj!r} ({err})"
            ) from None
    return Source("\n\n\n".join(texts))
