"""SAR-JEPA targets: multi-scale ratio-of-averages (ROA) gradient magnitudes, patchified per token.

For each pixel and radius ``r`` the operator takes the mean intensity in the left/right (and
top/bottom) half-windows of a (2r+1) x (2r+1) window, and the log of their ratio:
``Gx = log(mean_right / mean_left)``, ``Gy = log(mean_bottom / mean_top)``, ``G = sqrt(Gx^2 + Gy^2)``.
A ratio is unchanged by a multiplicative gain, which is why it suits speckled SAR intensity
(the ratio edge detector of Touzi et al. 1988, used as the target of SAR-JEPA, Li et al. 2024).
All half-window means of all radii come from one fixed, batched convolution (or a separable variant).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
import torch.nn.functional as F
from einops import rearrange
from torch import nn

EPS = 1e-6


def scaled_radii(size: int, base: Sequence[int] = (2, 4, 6, 8), base_size: int = 64) -> list[int]:
    """Window radii scaled to ``size`` px: r = 2, 4, 6, 8 at 64 px (the paper: 5, 9, 13, 17 at 224 px,
    which would be 1-5 px at 64 px; MSTAR's 0.3 m pixels make targets large, so we keep wider windows)."""
    radii: list[int] = []
    for r in base:
        scaled = max(1, round(r * size / base_size))
        radii.append(max(scaled, radii[-1] + 1) if radii else scaled)
    return radii


def roa_kernels(radii: Sequence[int]) -> torch.Tensor:
    """Averaging kernels of the left, right, top and bottom half-windows of every radius.

    Shape: (4 * len(radii), 1, K, K) with K = 2 * max(radii) + 1; order [L, R, T, B] per radius.
    The centre row/column is left out of the half-window that it would split.
    """
    big = max(radii)
    size = 2 * big + 1
    kernels = torch.zeros(len(radii), 4, size, size)
    for i, r in enumerate(radii):
        lo, hi = big - r, big + r + 1
        kernels[i, 0, lo:hi, lo:big] = 1.0  # left: columns -r .. -1
        kernels[i, 1, lo:hi, big + 1 : hi] = 1.0  # right: columns 1 .. r
        kernels[i, 2, lo:big, lo:hi] = 1.0  # top: rows -r .. -1
        kernels[i, 3, big + 1 : hi, lo:hi] = 1.0  # bottom: rows 1 .. r
    kernels /= kernels.sum(dim=(-1, -2), keepdim=True)
    return rearrange(kernels, "s k h w -> (s k) 1 h w")


def _separable_kernels(radii: Sequence[int]) -> tuple[torch.Tensor, torch.Tensor]:
    """1-D averaging kernels, all of length K = 2 * max(radii) + 1.

    Returns ``full`` (S, K): the centred (2r+1) box of every radius, and ``halves`` (2S, K): for every
    radius its [-r, -1] and [1, r] half boxes, in that order.
    """
    big = max(radii)
    full = torch.zeros(len(radii), 2 * big + 1)
    halves = torch.zeros(2 * len(radii), 2 * big + 1)
    for i, r in enumerate(radii):
        full[i, big - r : big + r + 1] = 1.0 / (2 * r + 1)
        halves[2 * i, big - r : big] = 1.0 / r
        halves[2 * i + 1, big + 1 : big + r + 1] = 1.0 / r
    return full, halves


class RatioGradient(nn.Module):
    """Multi-scale ROA gradient magnitude of linear intensity. Shape: (B, 1, H, W) -> (B, S, H, W).

    Default: one dense 2-D convolution with the 4 S kernels of :func:`roa_kernels`. ``separable=True``:
    a half-window mean is a full box along one axis times a half box along the other, so all scales
    take four batched 1-D convolutions (two grouped), about 11x fewer multiply-adds; on our 2-core
    CPU it is nevertheless ~1.3x slower at 64 px (grouped 1-D convs are poorly optimised there), so it
    is not the default. Both give the same result up to float rounding.
    """

    def __init__(self, radii: Sequence[int], *, separable: bool = False) -> None:
        super().__init__()
        self.radii = [int(r) for r in radii]
        self.pad = max(self.radii)
        self.separable = separable
        full, halves = _separable_kernels(self.radii)
        self.register_buffer("full", full, persistent=False)
        self.register_buffer("halves", halves, persistent=False)
        self.register_buffer("kernels", roa_kernels(self.radii), persistent=False)

    def _means(self, padded: torch.Tensor) -> torch.Tensor:
        """Half-window means [L, R, T, B] per radius. Shape: (B, 1, H + 2p, W + 2p) -> (B, S, 4, H, W)."""
        if not self.separable:
            means = F.conv2d(padded, self.kernels.to(padded))  # (B, 4S, H, W)
            return rearrange(means, "b (s k) h w -> b s k h w", k=4)
        s = len(self.radii)
        full, halves = self.full.to(padded), self.halves.to(padded)
        cols = F.conv2d(padded, full[:, None, :, None])  # (B, S, H, W + 2p): vertical boxes
        rows = F.conv2d(padded, full[:, None, None, :])  # (B, S, H + 2p, W): horizontal boxes
        left_right = F.conv2d(cols, halves[:, None, None, :], groups=s)  # (B, 2S, H, W)
        top_bottom = F.conv2d(rows, halves[:, None, :, None], groups=s)  # (B, 2S, H, W)
        lr = rearrange(left_right, "b (s k) h w -> b s k h w", k=2)
        tb = rearrange(top_bottom, "b (s k) h w -> b s k h w", k=2)
        return torch.cat([lr, tb], dim=2)

    def forward(self, intensity: torch.Tensor) -> torch.Tensor:
        if min(intensity.shape[-2:]) <= self.pad:
            raise ValueError(f"image {tuple(intensity.shape[-2:])} too small for radius {self.pad}")
        padded = F.pad(intensity.float(), (self.pad,) * 4, mode="reflect")  # no false edges at the border
        logs = self._means(padded).clamp_min(EPS).log()  # (B, S, 4, H, W)
        gx = logs[:, :, 1] - logs[:, :, 0]
        gy = logs[:, :, 3] - logs[:, :, 2]
        return torch.sqrt(gx * gx + gy * gy + EPS * EPS) - EPS


def ratio_gradient_loop(intensity: torch.Tensor, radii: Sequence[int]) -> torch.Tensor:
    """Reference: the same operator, one radius and one half-window at a time (for tests and benchmark).

    Shape: (B, 1, H, W) -> (B, S, H, W).
    """
    out = []
    for r in radii:
        padded = F.pad(intensity.float(), (r,) * 4, mode="reflect")
        k = 2 * r + 1
        means = []
        for window in (
            (slice(None), slice(0, r)),
            (slice(None), slice(r + 1, k)),
            (slice(0, r), slice(None)),
            (slice(r + 1, k), slice(None)),
        ):
            kernel = torch.zeros(1, 1, k, k, device=intensity.device)
            kernel[0, 0][window] = 1.0
            means.append(F.conv2d(padded, kernel / kernel.sum()).clamp_min(EPS).log())
        gx, gy = means[1] - means[0], means[3] - means[2]
        out.append(torch.sqrt(gx * gx + gy * gy + EPS * EPS) - EPS)
    return torch.cat(out, dim=1)


class GradientTargets(nn.Module):
    """``target_fn`` for SAR-JEPA: model input -> per-patch multi-scale gradient features.

    The input is relative dB over ``db_scale`` (see ``domains.sar.preprocess``), so
    ``exp(x * db_scale * ln(10) / 10)`` is intensity relative to the chip median.
    Shape: x (B, 1, H, W) -> (B, (H/p) * (W/p), S * p * p).
    """

    def __init__(self, *, radii: Sequence[int], patch: int, db_scale: float = 10.0, max_db: float = 60.0) -> None:
        super().__init__()
        self.gradient = RatioGradient(radii)
        self.patch = patch
        self.log_gain = db_scale * math.log(10.0) / 10.0
        self.max_x = max_db / db_scale  # clamp before exp: no overflow on any input

    @property
    def dim(self) -> int:
        return len(self.gradient.radii) * self.patch * self.patch

    def maps(self, x: torch.Tensor) -> torch.Tensor:
        """Gradient maps of the model input. Shape: (B, 1, H, W) -> (B, S, H, W)."""
        intensity = torch.exp(x.float().clamp(-self.max_x, self.max_x) * self.log_gain)
        return self.gradient(intensity)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        with torch.autocast(device_type=x.device.type, enabled=False):  # log-ratios of close means need fp32
            g = self.maps(x.float())  # (B, S, H, W)
        return rearrange(g, "b s (h p) (w q) -> b (h w) (s p q)", p=self.patch, q=self.patch)
