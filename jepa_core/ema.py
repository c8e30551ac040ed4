"""EMA target encoder: scheduled momentum and an in-place ``lerp_`` update."""

from __future__ import annotations

import torch
from torch import nn


def momentum_at(step: int, total_steps: int, start: float = 0.996, end: float = 1.0) -> float:
    """Linear momentum ramp from ``start`` to ``end`` over training (I-JEPA)."""
    frac = min(max(step / max(total_steps, 1), 0.0), 1.0)
    return start + (end - start) * frac


@torch.no_grad()
def ema_update(target: nn.Module, online: nn.Module, momentum: float) -> None:
    """``target = momentum * target + (1 - momentum) * online`` for every parameter.

    Buffers are copied as they are. Uses one fused ``_foreach_lerp_`` over all parameters.
    """
    t_params = [p for p in target.parameters()]
    o_params = [p.detach() for p in online.parameters()]
    if len(t_params) != len(o_params):
        raise ValueError("target and online modules have different parameter lists")
    torch._foreach_lerp_(t_params, o_params, 1.0 - momentum)
    for t_buf, o_buf in zip(target.buffers(), online.buffers(), strict=True):
        t_buf.copy_(o_buf)
