"""Token encoder: a domain tokenizer, fixed positional codes and timm ViT blocks."""

from __future__ import annotations

from functools import partial

import torch
from timm.models.vision_transformer import Block
from torch import nn

from jepa_core.layers.pos_embed import sincos_pos_embed
from jepa_core.layers.tokenizers import Tokenizer, flatten_grid
from jepa_core.masking import apply_mask


def init_weights(module: nn.Module) -> None:
    """ViT/I-JEPA initialisation: truncated normal linears, unit layer norms."""
    if isinstance(module, nn.Linear):
        nn.init.trunc_normal_(module.weight, std=0.02)
        if module.bias is not None:
            nn.init.zeros_(module.bias)
    elif isinstance(module, nn.LayerNorm):
        nn.init.ones_(module.weight)
        nn.init.zeros_(module.bias)


def vit_blocks(dim: int, depth: int, num_heads: int, mlp_ratio: float, drop_path: float) -> nn.ModuleList:
    """``depth`` timm ViT blocks (fused ``scaled_dot_product_attention`` inside) with a linear drop-path ramp."""
    rates = torch.linspace(0, drop_path, depth).tolist() if depth > 1 else [drop_path] * depth
    norm = partial(nn.LayerNorm, eps=1e-6)
    return nn.ModuleList(
        Block(dim, num_heads, mlp_ratio, qkv_bias=True, drop_path=rate, norm_layer=norm) for rate in rates
    )


class TokenEncoder(nn.Module):
    """Tokenize, add positions, optionally keep a subset of tokens, run ViT blocks.

    This one module is both the context encoder (``keep`` = context indices) and, as an EMA copy,
    the target encoder (``keep=None``: every token).
    """

    def __init__(
        self,
        *,
        tokenizer: Tokenizer,
        depth: int,
        num_heads: int,
        mlp_ratio: float = 4.0,
        drop_path: float = 0.0,
    ) -> None:
        super().__init__()
        self.tokenizer = tokenizer
        self.embed_dim = tokenizer.embed_dim
        self.blocks = vit_blocks(self.embed_dim, depth, num_heads, mlp_ratio, drop_path)
        self.norm = nn.LayerNorm(self.embed_dim, eps=1e-6)
        self.apply(init_weights)

    def grid_for(self, sample_shape: tuple[int, ...]) -> tuple[int, ...]:
        return self.tokenizer.grid_for(sample_shape)

    def forward(self, x: torch.Tensor, keep: torch.Tensor | None = None) -> torch.Tensor:
        """Shape: x (B, ...) , keep (B, K) or None -> (B, K or N, D)."""
        if keep is not None and hasattr(self.tokenizer, "embed_kept"):  # embed the kept patches only
            tokens = self.tokenizer.embed_kept(x, keep)  # (B, K, D)
            pos = sincos_pos_embed(self.embed_dim, self.tokenizer.grid_for(tuple(x.shape[1:]))).to(tokens)
            tokens = tokens + apply_mask(pos.expand(len(tokens), -1, -1), keep)
        else:
            tokens, grid = flatten_grid(self.tokenizer(x))  # (B, N, D)
            tokens = tokens + sincos_pos_embed(self.embed_dim, grid).to(tokens)
            if keep is not None:
                tokens = apply_mask(tokens, keep)
        for block in self.blocks:
            tokens = block(tokens)
        return self.norm(tokens)
