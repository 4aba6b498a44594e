"""The book's one hardware switch: the *profile* (chapter: Setup).

The profile is ``cpu`` (the default: every notebook runs on two CPU cores in minutes) or ``gpu``
(cells marked ``%%gpu`` run too, and notebooks take their larger sizes). It is read from, in order:

1. the environment variable ``BOOK_PROFILE`` (one run), then
2. the ``profile:`` key of ``profile.yml`` at the repository root (the documented setting), then
3. the default, ``cpu``.

Notebooks take their sizes from it with :func:`pick`, so there is one code path with two sizes::

    steps = pick(cpu=20, gpu=2_000)
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TypeVar

import yaml

from companion.paths import REPO_ROOT

PROFILES: tuple[str, ...] = ("cpu", "gpu")
PROFILE_ENV = "BOOK_PROFILE"
ONLINE_ENV = "BOOK_ONLINE"
PROFILE_FILE = REPO_ROOT / "profile.yml"

T = TypeVar("T")


class ProfileError(ValueError):
    """An unknown profile value, or an unreadable profile file."""


def _check(value: object, where: str) -> str:
    text = str(value).strip().lower()
    if text not in PROFILES:
        raise ProfileError(
            f"unknown profile {value!r} (from {where}); expected one of {', '.join(PROFILES)}"
        )
    return text


def profile(path: Path | None = None) -> str:
    """Return the active profile, ``"cpu"`` or ``"gpu"``.

    ``BOOK_PROFILE`` wins over ``profile.yml``; a missing file means ``"cpu"``.
    Any other value raises :class:`ProfileError` naming the allowed values.
    """
    env = os.environ.get(PROFILE_ENV)
    if env is not None and env.strip():
        return _check(env, f"${PROFILE_ENV}")
    path = PROFILE_FILE if path is None else path
    if not path.is_file():
        return "cpu"
    data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    if not isinstance(data, dict):
        raise ProfileError(f"{path.name} must hold a mapping like 'profile: cpu', got {data!r}")
    return _check(data.get("profile", "cpu"), path.name)


def is_gpu() -> bool:
    """True when the profile is ``gpu``."""
    return profile() == "gpu"


def online() -> bool:
    """True when the reader has opted in to cells that reach the Hugging Face Hub.

    Set ``BOOK_ONLINE=1``; the default (unset or ``0``) keeps every run offline.
    """
    return os.environ.get(ONLINE_ENV, "0").strip().lower() in {"1", "true", "yes"}


def pick(*, cpu: T, gpu: T) -> T:
    """Choose a size by profile: ``pick(cpu=20, gpu=2000)`` is 20 under ``cpu``."""
    return gpu if is_gpu() else cpu


def device() -> str:
    """The torch device a notebook should use: ``"cuda"`` under ``gpu`` when one is present."""
    if is_gpu():
        import torch

        if torch.cuda.is_available():
            return "cuda"
    return "cpu"
