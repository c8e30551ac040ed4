"""Fixed sine-cosine positional embeddings for 1-D, 2-D and 3-D token grids."""

from __future__ import annotations

import functools

import torch


def _sincos_1d(dim: int, positions: torch.Tensor) -> torch.Tensor:
    """Shape: positions (N,) -> (N, dim). ``dim`` must be even."""
    omega = torch.arange(dim // 2, dtype=torch.float64) / (dim / 2.0)
    omega = 1.0 / 10000**omega
    angles = positions.double()[:, None] * omega[None, :]  # (N, dim/2)
    return torch.cat([angles.sin(), angles.cos()], dim=1).float()


@functools.lru_cache(maxsize=64)
def sincos_pos_embed(dim: int, grid: tuple[int, ...]) -> torch.Tensor:
    """Positional table for a token grid flattened in row-major order.

    The embedding dimension is split evenly over the grid axes (1-D: time; 2-D: rows, cols;
    3-D: frames, rows, cols), each axis getting its own sine-cosine code, as in MAE/I-JEPA/V-JEPA.

    Shape: returns (prod(grid), dim). Cached: the returned tensor must not be modified in place.
    """
    n_axes = len(grid)
    if n_axes not in (1, 2, 3):
        raise ValueError(f"token grids have 1, 2 or 3 axes, got {grid}")
    per_axis = (dim // n_axes) // 2 * 2  # even share per axis; the remainder is padded with zeros
    if per_axis == 0:
        raise ValueError(f"embedding dim {dim} too small for a {n_axes}-D grid")
    coords = torch.meshgrid(*[torch.arange(g) for g in grid], indexing="ij")
    parts = [_sincos_1d(per_axis, c.reshape(-1)) for c in coords]
    table = torch.cat(parts, dim=1)  # (N, per_axis * n_axes)
    pad = dim - table.shape[1]
    if pad:
        table = torch.cat([table, table.new_zeros(table.shape[0], pad)], dim=1)
    return table
