"""Shared fixtures: the real offline models (loaded once per session) and a network guard."""

from __future__ import annotations

import importlib.util
import os
import socket
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")


class NetworkAccessError(AssertionError):
    """Raised when code under test tries to open a network connection."""


@pytest.fixture
def no_network(monkeypatch):
    """Make any attempt to open an internet socket fail the test (Unix sockets still work)."""

    real_connect = socket.socket.connect

    def guarded_connect(self, address):
        if self.family in (socket.AF_INET, socket.AF_INET6):
            raise NetworkAccessError(f"network access attempted: {address!r}")
        return real_connect(self, address)

    def guarded_create_connection(address, *args, **kwargs):
        raise NetworkAccessError(f"network access attempted: {address!r}")

    monkeypatch.setattr(socket.socket, "connect", guarded_connect)
    monkeypatch.setattr(socket, "create_connection", guarded_create_connection)
    yield


@pytest.fixture(scope="session")
def load_script():
    """Import a script of the repository (``"scripts/x.py"``, ``"benchmarks/y.py"``) as a module."""
    root = Path(__file__).resolve().parent.parent

    def load(relative: str):
        path = root / relative
        spec = importlib.util.spec_from_file_location(path.stem, path)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        return module

    return load


@pytest.fixture(scope="session")
def smollm2():
    """SmolLM2-135M-Instruct ``(model, tokenizer)``, float32, eval mode (shared: do not mutate)."""
    from companion.models import load_smollm2

    return load_smollm2()


@pytest.fixture(scope="session")
def minilm():
    """all-MiniLM-L6-v2 ``(model, tokenizer)``, eval mode (shared: do not mutate)."""
    from companion.models import load_minilm

    return load_minilm()


@pytest.fixture(scope="session")
def sure_llm():
    """A ScriptedLLM that reports a confidence for each reply, as TransformersLLM does:
    ``sure_llm(turns, confidences)`` gives reply k the probability ``confidences[k]``."""
    from companion.agent.llm import GenerationStats, Reply, ScriptedLLM

    class SureLLM(ScriptedLLM):
        def __init__(self, turns, confidences):
            super().__init__(turns)
            self.confidences = list(confidences)

        def __call__(self, messages, tools, max_time_s=None, final_allowed=True):
            reply = super().__call__(messages, tools, max_time_s)
            stats = GenerationStats(0, 1, 0.0, [], [0], token_probs=[self.confidences.pop(0)])
            return Reply(reply.text, stats)

    return SureLLM
