"""Chip embeddings from a frozen encoder: mean of the tokens, or a 2x2 grid of token means."""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from einops import rearrange
from torch import nn

POOLS = ("mean", "grid2")


def pool_tokens(tokens: torch.Tensor, grid: tuple[int, int], pool: str) -> torch.Tensor:
    """``mean``: (B, N, D) -> (B, D); ``grid2``: means of the four quadrants, (B, N, D) -> (B, 4 D)."""
    if pool == "mean":
        return tokens.mean(dim=1)
    if pool == "grid2":  # adaptive: odd grids (e.g. 11 x 11 tokens of an 88 px chip) split as evenly as they can
        g = rearrange(tokens, "b (h w) d -> b d h w", h=grid[0], w=grid[1])
        return rearrange(F.adaptive_avg_pool2d(g, 2), "b d i j -> b (i j d)")
    raise ValueError(f"unknown pool {pool!r}; use one of {POOLS}")


@torch.no_grad()
def chip_embeddings(encoder: nn.Module, x: torch.Tensor, *, pool: str = "mean", batch_size: int = 256) -> np.ndarray:
    """Shape: x (N, 1, H, W) -> (N, D) or (N, 4 D) float32."""
    encoder.eval()
    grid = encoder.grid_for(tuple(x.shape[1:]))
    out = [pool_tokens(encoder(x[i : i + batch_size]), grid, pool) for i in range(0, len(x), batch_size)]
    return torch.cat(out).float().numpy()
