"""The LiDAR encoder: padded point batch -> voxels -> sparse backbone -> BEV tokens.

Cells with no active sparse site hold a learnable *empty token* (AD-L-JEPA), so that empty space
has an embedding of its own and the EMA target encoder carries its own copy of it.
"""

from __future__ import annotations

import torch
from einops import rearrange
from torch import nn

from domains.lidar.backbone import SparseBEVBackbone
from domains.lidar.voxel import VoxelGrid
from jepa_core.layers.tokenizers import Tokenizer


class SparseBEVTokenizer(Tokenizer):
    """Voxelise a padded batch and run the sparse backbone.

    ``keep`` (context BEV cells) drops every voxel whose BEV cell is not kept, i.e. the context
    encoder never sees the points of target cells.
    """

    def __init__(self, *, grid: VoxelGrid, channels: tuple[int, ...], embed_dim: int) -> None:
        super().__init__()
        self.grid, self.embed_dim = grid, embed_dim
        self.backbone = SparseBEVBackbone(grid=grid, in_channels=4, channels=channels, embed_dim=embed_dim)

    def grid_for(self, sample_shape: tuple[int, ...]) -> tuple[int, int]:
        return self.backbone.bev_shape

    def cells_of(self, indices: torch.Tensor) -> torch.Tensor:
        """Flat BEV cell of each voxel. Shape: indices (V, 4) (b, z, y, x) -> (V,) long."""
        s = self.backbone.stride
        _, w = self.backbone.bev_shape
        return (indices[:, 2].long() // s) * w + indices[:, 3].long() // s

    def encode(
        self, x: torch.Tensor, keep: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Shape: x (B, P, 5), keep (B, K) -> bev (B, H, W, D), active (B, H, W), occupied (B, H, W) bool.

        ``occupied``: the cell holds at least one (kept) voxel; ``active``: the backbone has an output
        site there (strided convs dilate the occupied set a little).
        """
        b = x.shape[0]
        h, w = self.backbone.bev_shape
        feats, indices = self.grid.voxelize_batch(x.float())
        cells = self.cells_of(indices)
        if keep is not None:
            kept = torch.zeros(b, h * w, dtype=torch.bool, device=x.device)
            kept.scatter_(1, keep, True)
            sel = kept[indices[:, 0].long(), cells]
            feats, indices, cells = feats[sel], indices[sel], cells[sel]
        occupied = torch.zeros(b, h * w, dtype=torch.bool, device=x.device)
        occupied[indices[:, 0].long(), cells] = True
        if len(feats) == 0:  # nothing in range: an all-empty map, still differentiable
            bev = torch.zeros(b, h, w, self.embed_dim, device=x.device) + 0 * self.backbone.project.bias
            return bev, occupied.view(b, h, w), occupied.view(b, h, w)
        bev, active = self.backbone(feats, indices, b)
        return bev, active, occupied.view(b, h, w)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Shape: x (B, P, 5) -> (B, H, W, D)."""
        return self.encode(x)[0]


class BEVEncoder(nn.Module):
    """Tokenizer + empty token + LayerNorm. ``forward`` gives every cell's token, (B, H*W, D)."""

    def __init__(self, *, tokenizer: SparseBEVTokenizer) -> None:
        super().__init__()
        self.tokenizer = tokenizer
        self.embed_dim = tokenizer.embed_dim
        self.empty_token = nn.Parameter(torch.zeros(self.embed_dim))
        nn.init.trunc_normal_(self.empty_token, std=0.02)
        self.norm = nn.LayerNorm(self.embed_dim, eps=1e-6)

    def grid_for(self, sample_shape: tuple[int, ...]) -> tuple[int, int]:
        return self.tokenizer.grid_for(sample_shape)

    def encode(self, x: torch.Tensor, keep: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """Shape: x (B, P, 5), keep (B, K) or None -> tokens (B, H*W, D), occupied (B, H*W) bool."""
        bev, active, occupied = self.tokenizer.encode(x, keep)
        tokens = torch.where(active.unsqueeze(-1), bev, self.empty_token.to(bev.dtype))
        tokens = self.norm(rearrange(tokens, "b h w d -> b (h w) d"))
        return tokens, rearrange(occupied, "b h w -> b (h w)")

    def forward(self, x: torch.Tensor, keep: torch.Tensor | None = None) -> torch.Tensor:
        return self.encode(x, keep)[0]
