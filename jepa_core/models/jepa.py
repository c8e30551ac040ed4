"""JEPA assembly: context encoder, EMA target encoder (or feature targets), predictor, losses."""

from __future__ import annotations

import copy

import torch
import torch.nn.functional as F
from torch import nn

from jepa_core.ema import ema_update
from jepa_core.losses import LatentLoss, SIGReg, VarianceLoss, gather_batch
from jepa_core.masking import Masks, apply_mask
from jepa_core.models.encoder import TokenEncoder
from jepa_core.models.predictor import Predictor


class JEPA(nn.Module):
    """Joint-embedding predictive architecture.

    Targets are either the layer-normed output of an EMA copy of the encoder (``use_ema=True``,
    I-JEPA/V-JEPA), the stop-gradient output of the online encoder itself (``use_ema=False``,
    to be paired with SIGReg or the variance term, as in LeJEPA), or fixed features from
    ``target_fn`` (SAR-JEPA's gradient maps), a module mapping the raw input to ``(B, N, Dt)``.

    Downstream use: :meth:`downstream_encoder` returns the EMA target encoder when there is one
    (I-JEPA evaluates the target encoder), else the online encoder.
    """

    def __init__(
        self,
        *,
        encoder: TokenEncoder,
        predictor: Predictor,
        loss: LatentLoss | None = None,
        use_ema: bool = True,
        target_fn: nn.Module | None = None,
        sigreg: SIGReg | None = None,
        sigreg_weight: float = 0.0,
        variance: VarianceLoss | None = None,
        variance_weight: float = 0.0,
    ) -> None:
        super().__init__()
        self.encoder = encoder
        self.predictor = predictor
        self.loss = loss or LatentLoss("l1")
        self.target_fn = target_fn
        self.target_encoder: TokenEncoder | None = None
        if use_ema and target_fn is None:
            self.target_encoder = copy.deepcopy(encoder).requires_grad_(False)
        self.sigreg, self.sigreg_weight = sigreg, sigreg_weight
        self.variance, self.variance_weight = variance, variance_weight

    @property
    def downstream_encoder(self) -> TokenEncoder:
        return self.target_encoder if self.target_encoder is not None else self.encoder

    @torch.no_grad()
    def targets(self, x: torch.Tensor, target_idx: torch.Tensor) -> torch.Tensor:
        """Shape: x (B, ...), target_idx (B, Nt) -> (B, Nt, Dt)."""
        if self.target_fn is not None:
            feats = self.target_fn(x)
        else:
            feats = (self.target_encoder or self.encoder)(x)
            feats = F.layer_norm(feats, feats.shape[-1:])
        return apply_mask(feats, target_idx)

    def forward(self, x: torch.Tensor, masks: Masks, step: int = 0) -> dict[str, torch.Tensor]:
        """One JEPA objective. Returns ``loss`` (to minimise) and its parts for logging.

        ``step`` seeds SIGReg's directions, so all DDP ranks use the same ones; SIGReg and the
        variance term see the global batch (:func:`gather_batch`), as in a single process.
        """
        grid = self.encoder.grid_for(tuple(x.shape[1:]))
        target = self.targets(x, masks.target)
        context = self.encoder(x, keep=masks.context)  # (B, Nc, D)
        pred = self.predictor(context, masks.context, masks.target, grid)  # (B, Nt, Dt)
        parts = {"pred_loss": self.loss(pred.float(), target.float())}
        loss = parts["pred_loss"]
        if self.sigreg is not None and self.sigreg_weight > 0:
            parts["sigreg"] = self.sigreg(gather_batch(context.mean(dim=1)), seed=step)
            loss = loss + self.sigreg_weight * parts["sigreg"]
        if self.variance is not None and self.variance_weight > 0:
            parts["variance"] = self.variance(gather_batch(context.reshape(-1, context.shape[-1])))
            loss = loss + self.variance_weight * parts["variance"]
        parts["loss"] = loss
        return parts

    @torch.no_grad()
    def update_target(self, momentum: float) -> None:
        if self.target_encoder is not None:
            ema_update(self.target_encoder, self.encoder, momentum)
