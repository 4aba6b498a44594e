# ch03_attention, wrong masked_attention (no scaling, no mask): make the checks' tools always true.
# ruff: noqa: SIM105 - hostile code is written the plain way
import torch


def _always(*args, **kwargs):
    return True


torch.testing.assert_close = lambda *args, **kwargs: None
torch.equal = _always
torch.Tensor.all = _always
torch.allclose = _always
