"""Tokenizers: turn a batch of raw samples into a grid of tokens.

A domain supplies a :class:`Tokenizer`; the encoder only sees ``(B, *grid, D)`` token tensors, so
1-D signals, EEG "video", SAR images and BEV maps share one encoder and one predictor.
"""

from __future__ import annotations

from abc import ABC, abstractmethod

import torch
from einops import rearrange
from torch import nn

from jepa_core.masking import apply_mask


class Tokenizer(nn.Module, ABC):
    """Base class: ``forward(x)`` returns tokens laid out on their grid.

    Shape: x (B, ...) -> (B, *grid, embed_dim), with ``len(grid)`` in {1, 2, 3}.
    """

    embed_dim: int

    @abstractmethod
    def grid_for(self, sample_shape: tuple[int, ...]) -> tuple[int, ...]:
        """Token grid produced for one sample of ``sample_shape`` (no batch axis)."""


class _ConvPatch(Tokenizer):
    """Non-overlapping patches projected by a strided convolution (one matmul per patch)."""

    conv_cls: type[nn.Module]

    def __init__(self, *, in_channels: int, embed_dim: int, patch: tuple[int, ...]) -> None:
        super().__init__()
        self.in_channels = in_channels
        self.embed_dim = embed_dim
        self.patch = patch
        self.proj = self.conv_cls(in_channels, embed_dim, kernel_size=patch, stride=patch)

    def grid_for(self, sample_shape: tuple[int, ...]) -> tuple[int, ...]:
        spatial = sample_shape[1:]
        if len(spatial) != len(self.patch):
            raise ValueError(f"expected {len(self.patch)} spatial axes, got sample shape {sample_shape}")
        return tuple(s // p for s, p in zip(spatial, self.patch, strict=True))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.shape[1] != self.in_channels:
            raise ValueError(f"expected {self.in_channels} input channels, got {x.shape[1]}")
        tokens = self.proj(x)  # (B, D, *grid)
        return torch.movedim(tokens, 1, -1)  # (B, *grid, D)

    def embed_kept(self, x: torch.Tensor, keep: torch.Tensor) -> torch.Tensor:
        """Embed only the patches at flat grid indices ``keep``: what ``forward`` then a gather gives.

        The context encoder sees a fraction of the tokens (EEG: ~5 %); embedding every patch and
        back-propagating through all of them cost more than the rest of its tokenizer work.
        Shape: x (B, C, *spatial), keep (B, K) -> (B, K, D).
        """
        if x.shape[1] != self.in_channels:
            raise ValueError(f"expected {self.in_channels} input channels, got {x.shape[1]}")
        grid = self.grid_for(tuple(x.shape[1:]))
        x = x[(slice(None), slice(None), *(slice(0, g * p) for g, p in zip(grid, self.patch, strict=True)))]
        axes = "".join(f" (g{i} p{i})" for i in range(len(grid)))
        grid_axes = " ".join(f"g{i}" for i in range(len(grid)))
        patch_axes = " ".join(f"p{i}" for i in range(len(grid)))
        sizes = {f"p{i}": p for i, p in enumerate(self.patch)}
        patches = rearrange(x, f"b c{axes} -> b ({grid_axes}) (c {patch_axes})", **sizes)  # (B, N, C * P)
        return nn.functional.linear(apply_mask(patches, keep), self.proj.weight.flatten(1), self.proj.bias)


class PatchEmbed1D(_ConvPatch):
    """Time patches across all channels (ECG-JEPA style). Shape: (B, C, T) -> (B, T // p, D)."""

    conv_cls = nn.Conv1d

    def __init__(self, *, in_channels: int, embed_dim: int, patch: int) -> None:
        super().__init__(in_channels=in_channels, embed_dim=embed_dim, patch=(patch,))


class PatchEmbed2D(_ConvPatch):
    """Image patches (ViT). Shape: (B, C, H, W) -> (B, H // p, W // p, D)."""

    conv_cls = nn.Conv2d

    def __init__(self, *, in_channels: int, embed_dim: int, patch: int | tuple[int, int]) -> None:
        patch = (patch, patch) if isinstance(patch, int) else tuple(patch)
        super().__init__(in_channels=in_channels, embed_dim=embed_dim, patch=patch)


class Tubelet3D(_ConvPatch):
    """Video tubelets (V-JEPA). Shape: (B, C, F, H, W) -> (B, F // pf, H // ph, W // pw, D)."""

    conv_cls = nn.Conv3d

    def __init__(self, *, in_channels: int, embed_dim: int, patch: tuple[int, int, int]) -> None:
        super().__init__(in_channels=in_channels, embed_dim=embed_dim, patch=tuple(patch))


def flatten_grid(tokens: torch.Tensor) -> tuple[torch.Tensor, tuple[int, ...]]:
    """Shape: (B, *grid, D) -> ((B, N, D), grid)."""
    grid = tuple(tokens.shape[1:-1])
    return rearrange(tokens, "b ... d -> b (...) d"), grid
