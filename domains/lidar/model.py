"""AD-L-JEPA: BEV cell masking, conv predictor, cosine loss on occupied and empty masked cells.

Context branch: the encoder sees only the points of context cells; every target cell's token is
replaced by a learnable mask token (whether it holds points or not, so occupancy does not leak),
and context cells without points carry the encoder's empty token. Target branch: the EMA encoder
on the full cloud. Loss = mean cosine distance between L2-normalised predictions and targets at
masked occupied cells + ``empty_weight`` x the same at masked empty cells + a variance hinge with
floor 1/sqrt(D) on the normalised context embeddings of occupied cells.
"""

from __future__ import annotations

import copy
import math

import torch
import torch.nn.functional as F
from einops import rearrange
from torch import nn

from domains.lidar.encoder import BEVEncoder
from jepa_core.ema import ema_update
from jepa_core.losses import VarianceLoss
from jepa_core.masking import Masks, MaskSampler, apply_mask


class BEVCellMask(MaskSampler):
    """Random split of the BEV cells: ``target_ratio`` of them are targets, the rest context.

    Drawn over all cells, so occupied and empty cells are both split at about that ratio without the
    sampler needing the data (the core loop draws masks from ``(batch_size, generator)`` only).
    """

    def __init__(self, grid: tuple[int, int], *, target_ratio: float = 0.5) -> None:
        super().__init__(grid)
        if not 0.0 < target_ratio < 1.0 or self.num_tokens < 2:
            raise ValueError(f"target_ratio must be in (0, 1) on a grid of >= 2 cells, got {target_ratio}, {grid}")
        self.target_ratio = target_ratio

    def __call__(self, batch_size: int, generator: torch.Generator) -> Masks:
        n = self.num_tokens
        n_tgt = min(n - 1, max(1, round(self.target_ratio * n)))
        perm = torch.rand(batch_size, n, generator=generator).argsort(dim=1)
        return Masks(context=perm[:, n_tgt:].sort(dim=1).values, target=perm[:, :n_tgt].sort(dim=1).values)


class ConvPredictor(nn.Module):
    """Small BEV conv net: context map with mask tokens -> predicted target embeddings.

    Shape: (B, H, W, D) -> (B, H, W, D).
    """

    def __init__(self, *, embed_dim: int, hidden: int, depth: int) -> None:
        super().__init__()
        self.mask_token = nn.Parameter(torch.zeros(embed_dim))
        nn.init.trunc_normal_(self.mask_token, std=0.02)
        layers: list[nn.Module] = []
        c = embed_dim
        for _ in range(max(depth, 1)):
            layers += [nn.Conv2d(c, hidden, 3, padding=1, bias=False), nn.BatchNorm2d(hidden), nn.ReLU()]
            c = hidden
        layers.append(nn.Conv2d(c, embed_dim, 1))
        self.net = nn.Sequential(*layers)

    def forward(self, bev: torch.Tensor) -> torch.Tensor:
        out = self.net(rearrange(bev, "b h w d -> b d h w"))
        return rearrange(out, "b d h w -> b h w d")


def _masked_mean(values: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Mean of ``values`` where ``mask``; 0 (still in the graph) when the mask is empty."""
    mask = mask.to(values.dtype)
    return (values * mask).sum() / mask.sum().clamp_min(1.0)


class BEVJEPA(nn.Module):
    """AD-L-JEPA on BEV tokens; same interface as :class:`jepa_core.models.jepa.JEPA` for the core loop."""

    def __init__(
        self,
        *,
        encoder: BEVEncoder,
        predictor: ConvPredictor,
        empty_weight: float = 0.1,
        variance_weight: float = 1.0,
    ) -> None:
        super().__init__()
        self.encoder, self.predictor = encoder, predictor
        self.target_encoder = copy.deepcopy(encoder).requires_grad_(False)
        self.empty_weight, self.variance_weight = empty_weight, variance_weight
        self.variance = VarianceLoss(gamma=1.0 / math.sqrt(encoder.embed_dim))

    @property
    def downstream_encoder(self) -> BEVEncoder:
        return self.target_encoder

    def forward(self, x: torch.Tensor, masks: Masks, step: int = 0) -> dict[str, torch.Tensor]:
        """Shape: x (B, P, 5); masks over the flattened (H*W) BEV grid. Returns ``loss`` and its parts."""
        h, w = self.encoder.grid_for(tuple(x.shape[1:]))
        with torch.no_grad():
            target, occupied = self.target_encoder.encode(x)  # (B, N, D), (B, N)
            target = F.normalize(target.float(), dim=-1)
        context, ctx_occupied = self.encoder.encode(x, keep=masks.context)  # (B, N, D)
        is_target = torch.zeros_like(occupied).scatter_(1, masks.target, True)
        context = torch.where(is_target.unsqueeze(-1), self.predictor.mask_token.to(context.dtype), context)
        pred = self.predictor(rearrange(context, "b (h w) d -> b h w d", h=h, w=w))
        pred = F.normalize(rearrange(pred, "b h w d -> b (h w) d").float(), dim=-1)
        dist = 1.0 - (apply_mask(pred, masks.target) * apply_mask(target, masks.target)).sum(-1)  # (B, Nt)
        tgt_occ = torch.gather(occupied, 1, masks.target)
        parts = {"pred_occupied": _masked_mean(dist, tgt_occ), "pred_empty": _masked_mean(dist, ~tgt_occ)}
        ctx_emb = F.normalize(context.float(), dim=-1)[ctx_occupied & ~is_target]
        if len(ctx_emb) < 2:  # no occupied context cell (e.g. an empty scan): regularise all context cells
            ctx_emb = F.normalize(context.float(), dim=-1)[~is_target]
        parts["variance"] = self.variance(ctx_emb)
        parts["occupied_frac"] = occupied.float().mean().detach()
        parts["loss"] = (
            parts["pred_occupied"] + self.empty_weight * parts["pred_empty"] + self.variance_weight * parts["variance"]
        )
        return parts

    @torch.no_grad()
    def update_target(self, momentum: float) -> None:
        ema_update(self.target_encoder, self.encoder, momentum)
