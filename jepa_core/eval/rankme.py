"""RankMe: effective rank of an embedding matrix (Garrido et al., 2023)."""

from __future__ import annotations

import torch


def rankme(embeddings: torch.Tensor, eps: float = 1e-7) -> float:
    """``exp`` of the entropy of the normalised singular values.

    Near ``min(N, D)`` for isotropic Gaussian embeddings, near 1 for rank-1 (collapsed) ones.
    Shape: embeddings (N, D) -> float.
    """
    s = torch.linalg.svdvals(embeddings.double())
    p = s / (s.sum() + eps) + eps
    return float(torch.exp(-(p * p.log()).sum()))
