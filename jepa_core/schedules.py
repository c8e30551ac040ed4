"""Learning-rate and weight-decay schedules, and AdamW parameter groups."""

from __future__ import annotations

import math

import torch
from torch import nn


def cosine_lr(step: int, *, total: int, base: float, minimum: float, warmup: int) -> float:
    """Linear warm-up to ``base`` over ``warmup`` steps, then cosine decay to ``minimum``."""
    if step < warmup:
        return base * (step + 1) / warmup
    progress = min(1.0, (step - warmup) / max(1, total - warmup))
    return minimum + 0.5 * (base - minimum) * (1.0 + math.cos(math.pi * progress))


def cosine_ramp(step: int, *, total: int, start: float, end: float) -> float:
    """Cosine ramp from ``start`` to ``end`` (I-JEPA's weight-decay schedule)."""
    progress = min(1.0, step / max(1, total))
    return end + 0.5 * (start - end) * (1.0 + math.cos(math.pi * progress))


def param_groups(model: nn.Module) -> list[dict]:
    """Two AdamW groups: weights decay; biases, norms, tokens and other 1-D parameters do not."""
    decay, no_decay = [], []
    for name, param in model.named_parameters():
        if not param.requires_grad:
            continue
        (no_decay if param.ndim <= 1 or name.endswith(".bias") or "token" in name else decay).append(param)
    return [{"params": decay, "apply_wd": True}, {"params": no_decay, "apply_wd": False, "weight_decay": 0.0}]


def make_optimizer(model: nn.Module, *, lr: float, betas=(0.9, 0.999), weight_decay: float = 0.0) -> torch.optim.AdamW:
    """AdamW over :func:`param_groups`, fused: one kernel per step instead of ~10 per parameter.

    On CPU the default is a Python loop over parameters, which costs a tiny model (EEG: 100
    parameters, ~1 M values) more than its EMA update; fused AdamW runs on CPU and CUDA alike.
    """
    return torch.optim.AdamW(param_groups(model), lr=lr, betas=tuple(betas), weight_decay=weight_decay, fused=True)
