"""Frozen-encoder embeddings of a dataset (in batches, no gradients)."""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn
from torch.utils.data import DataLoader, Dataset


@torch.no_grad()
def embed_dataset(
    encoder: nn.Module,
    dataset: Dataset,
    pool: Callable[[torch.Tensor], torch.Tensor],
    *,
    batch_size: int = 64,
    device: torch.device | str = "cpu",
) -> torch.Tensor:
    """Pooled embeddings of every item's ``"x"``. Shape: returns (len(dataset), D) float32 on CPU."""
    was_training = encoder.training
    encoder.eval()
    out = []
    for batch in DataLoader(dataset, batch_size=batch_size, shuffle=False):
        out.append(pool(encoder(batch["x"].to(device))).float().cpu())
    encoder.train(was_training)
    return torch.cat(out)
