"""Narrow predictor transformer: context tokens + mask tokens at target positions -> targets."""

from __future__ import annotations

import torch
from torch import nn

from jepa_core.layers.pos_embed import sincos_pos_embed
from jepa_core.masking import apply_mask
from jepa_core.models.encoder import init_weights, vit_blocks


class Predictor(nn.Module):
    """I-JEPA predictor: a thinner ViT over [context ; mask tokens], read out at the targets.

    ``out_dim`` defaults to the encoder width (latent targets); a domain with feature targets
    (SAR gradients) sets it to the feature size.
    """

    def __init__(
        self,
        *,
        embed_dim: int,
        pred_dim: int,
        depth: int,
        num_heads: int,
        out_dim: int | None = None,
        mlp_ratio: float = 4.0,
    ) -> None:
        super().__init__()
        self.pred_dim = pred_dim
        self.embed = nn.Linear(embed_dim, pred_dim)
        self.mask_token = nn.Parameter(torch.zeros(1, 1, pred_dim))
        self.blocks = vit_blocks(pred_dim, depth, num_heads, mlp_ratio, drop_path=0.0)
        self.norm = nn.LayerNorm(pred_dim, eps=1e-6)
        self.proj = nn.Linear(pred_dim, out_dim or embed_dim)
        self.apply(init_weights)
        nn.init.trunc_normal_(self.mask_token, std=0.02)

    def forward(
        self, context: torch.Tensor, context_idx: torch.Tensor, target_idx: torch.Tensor, grid: tuple[int, ...]
    ) -> torch.Tensor:
        """Shape: context (B, Nc, D), context_idx (B, Nc), target_idx (B, Nt) -> (B, Nt, out_dim)."""
        batch, n_ctx = context_idx.shape
        pos = sincos_pos_embed(self.pred_dim, tuple(grid)).to(context).expand(batch, -1, -1)  # (B, N, Dp)
        x = self.embed(context) + apply_mask(pos, context_idx)
        queries = self.mask_token.expand(batch, target_idx.shape[1], -1) + apply_mask(pos, target_idx)
        x = torch.cat([x, queries], dim=1)  # (B, Nc + Nt, Dp)
        for block in self.blocks:
            x = block(x)
        return self.proj(self.norm(x[:, n_ctx:]))
