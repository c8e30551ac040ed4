"""Latent prediction losses and anti-collapse regularisers (SIGReg, variance)."""

from __future__ import annotations

import torch
import torch.distributed as dist
import torch.nn.functional as F
from torch import nn


class _GatherBatch(torch.autograd.Function):
    @staticmethod
    def forward(ctx, z: torch.Tensor) -> torch.Tensor:
        parts = [torch.empty_like(z) for _ in range(dist.get_world_size())]
        dist.all_gather(parts, z.contiguous())
        ctx.rank, ctx.rows, ctx.world = dist.get_rank(), z.shape[0], len(parts)
        return torch.cat(parts)

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> torch.Tensor:
        # Every rank computes the same loss of the same gathered batch, so the gradient w.r.t. this
        # rank's rows is the same everywhere; DDP averages gradients over ranks, hence x world.
        return grad[ctx.rank * ctx.rows : (ctx.rank + 1) * ctx.rows] * ctx.world


def gather_batch(z: torch.Tensor) -> torch.Tensor:
    """Concatenate ``z`` from every DDP rank (in rank order) along dim 0; identity in one process.

    For batch statistics (SIGReg, variance) of the global batch under DDP: gradients flow back to
    each rank's own rows, scaled so that after DDP's gradient averaging they equal the single-process
    gradient. Every rank must call it, with the same shape, and use the result in the same loss.
    Shape: z (N, ...) -> (world_size * N, ...).
    """
    if not (dist.is_available() and dist.is_initialized()) or dist.get_world_size() == 1:
        return z
    return _GatherBatch.apply(z)


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
