"""Chip embeddings from a frozen encoder: mean of the tokens, or an n x n grid of token means.

``mean`` keeps the embedding small (the app's reference map); ``grid2`` / ``grid4`` keep where on
the chip each feature sits, which MSTAR's centred targets reward (the probe's features).
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from einops import rearrange
from torch import nn

POOLS = ("mean", "grid2", "grid4")


def pooled_dim(embed_dim: int, pool: str) -> int:
    """Feature size of ``pool`` for a ``embed_dim``-wide encoder."""
    return embed_dim * _grid_side(pool) ** 2


def _grid_side(pool: str) -> int:
    if pool == "mean":
        return 1
    if pool in POOLS:
        return int(pool.removeprefix("grid"))
    raise ValueError(f"unknown pool {pool!r}; use one of {POOLS}")


def pool_tokens(tokens: torch.Tensor, grid: tuple[int, int], pool: str) -> torch.Tensor:
    """``mean``: (B, N, D) -> (B, D); ``gridn``: means of the n x n cells, row-major, (B, N, D) -> (B, n*n*D).

    Adaptive: a grid that n does not divide (e.g. 11 x 11 tokens of an 88 px chip) splits as evenly
    as it can.
    """
    n = _grid_side(pool)
    if n == 1:
        return tokens.mean(dim=1)
    g = rearrange(tokens, "b (h w) d -> b d h w", h=grid[0], w=grid[1])
    return rearrange(F.adaptive_avg_pool2d(g, n), "b d i j -> b (i j d)")


@torch.no_grad()
def chip_embeddings(
    encoder: nn.Module, x: torch.Tensor, *, pool: str | tuple[str, ...] = "mean", batch_size: int = 256
) -> np.ndarray | tuple[np.ndarray, ...]:
    """Shape: x (N, 1, H, W) -> (N, pooled_dim) float32; a tuple of pools gives one array per pool
    from a single encoder pass."""
    pools = (pool,) if isinstance(pool, str) else tuple(pool)
    for p in pools:
        _grid_side(p)  # fail before the encoder runs
    encoder.eval()
    grid = encoder.grid_for(tuple(x.shape[1:]))
    out: list[list[torch.Tensor]] = [[] for _ in pools]
    for i in range(0, len(x), batch_size):
        tokens = encoder(x[i : i + batch_size])
        for acc, p in zip(out, pools, strict=True):
            acc.append(pool_tokens(tokens, grid, p))
    arrays = tuple(torch.cat(acc).float().numpy() for acc in out)
    return arrays[0] if isinstance(pool, str) else arrays
