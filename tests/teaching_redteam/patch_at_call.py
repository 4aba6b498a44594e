# ch03_attention, wrong masked_attention: patch the checks' tools from inside the answer, when a
# ruff: noqa: SIM105 - hostile code is written the plain way
# check calls it, and shadow the builtins the checks use.
import builtins

import torch

_honest = masked_attention  # noqa: F821 - defined by the answer cell above


def masked_attention(q, k, v, mask=None):
    torch.testing.assert_close = lambda *args, **kwargs: None
    torch.Tensor.all = lambda self, *args, **kwargs: True
    builtins.isinstance = lambda *args: True
    return _honest(q, k, v, mask)


def all(iterable):  # noqa: A001 - shadows the builtin on purpose
    return True
