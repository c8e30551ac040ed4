"""Latent prediction losses and anti-collapse regularisers (SIGReg, variance)."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


class LatentLoss(nn.Module):
    """Regression loss between predicted and target tokens, averaged over all elements.

    ``kind``: ``"l1"`` (V-JEPA, ECG-JEPA), ``"smooth_l1"`` or ``"mse"`` (I-JEPA, SAR-JEPA).
    Shape: pred, target (B, Nt, D) -> scalar.
    """

    def __init__(self, kind: str = "l1", beta: float = 1.0) -> None:
        super().__init__()
        if kind not in ("l1", "smooth_l1", "mse"):
            raise ValueError(f"unknown latent loss {kind!r}; use l1, smooth_l1 or mse")
        self.kind, self.beta = kind, beta

    def forward(self, pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        if self.kind == "l1":
            return F.l1_loss(pred, target)
        if self.kind == "smooth_l1":
            return F.smooth_l1_loss(pred, target, beta=self.beta)
        return F.mse_loss(pred, target)


class SIGReg(nn.Module):
    """LeJEPA's Sketched Isotropic Gaussian Regulariser.

    Projects embeddings on ``num_slices`` random unit directions and measures, per direction, the
    Epps-Pulley distance between the empirical characteristic function and that of N(0, 1) on
    ``knots`` points of [0, 3] (trapezoid rule, Gaussian window). Zero for isotropic Gaussian
    embeddings, large for collapsed ones. Directions come from ``seed`` so that every DDP rank
    draws the same ones (pass the global step).

    Shape: z (N, D) -> scalar.
    """

    def __init__(self, *, num_slices: int = 256, knots: int = 17, t_max: float = 3.0) -> None:
        super().__init__()
        t = torch.linspace(0.0, t_max, knots)
        dt = t_max / (knots - 1)
        trapezoid = torch.full((knots,), 2.0 * dt)
        trapezoid[[0, -1]] = dt
        gauss_cf = torch.exp(-0.5 * t**2)  # characteristic function of N(0, 1)
        self.num_slices = num_slices
        self.register_buffer("t", t, persistent=False)
        self.register_buffer("gauss_cf", gauss_cf, persistent=False)
        self.register_buffer("weights", trapezoid * gauss_cf, persistent=False)

    def directions(self, dim: int, seed: int, device: torch.device) -> torch.Tensor:
        gen = torch.Generator().manual_seed(int(seed))
        a = torch.randn(dim, self.num_slices, generator=gen)
        return (a / a.norm(dim=0, keepdim=True)).to(device)  # (D, S)

    def forward(self, z: torch.Tensor, seed: int = 0) -> torch.Tensor:
        z = z.float()
        proj = z @ self.directions(z.shape[-1], seed, z.device)  # (N, S)
        xt = proj.unsqueeze(-1) * self.t  # (N, S, K)
        real = xt.cos().mean(0) - self.gauss_cf  # (S, K)
        imag = xt.sin().mean(0)
        statistic = (real.square() + imag.square()) @ self.weights * z.shape[0]  # (S,)
        return statistic.mean()


class VarianceLoss(nn.Module):
    """VICReg variance term: hinge on the per-dimension standard deviation.

    ``gamma`` is the std floor (VICReg: 1; AD-L-JEPA on L2-normalised embeddings: 1/sqrt(D)).
    Shape: z (N, D) -> scalar.
    """

    def __init__(self, gamma: float = 1.0, eps: float = 1e-4) -> None:
        super().__init__()
        self.gamma, self.eps = gamma, eps

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        std = torch.sqrt(z.float().var(dim=0) + self.eps)
        return F.relu(self.gamma - std).mean()
