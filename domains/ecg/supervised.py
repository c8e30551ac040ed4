"""Supervised-from-scratch beat classifier (ECG-specific part; window classifiers live in jepa_core.eval.supervised).

Beats: one forward per 10 s window gives logits for every beat in it (the same beat pooling
as the probes). Records: window logits, averaged over a record's windows at test time.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from domains.ecg.embed import beat_embed_dim, pool_beats
from jepa_core.eval.supervised import class_weights, fit


def train_beat_classifier(
    encoder: nn.Module,
    windows: torch.Tensor,
    beat_win: torch.Tensor,
    beat_tok: torch.Tensor,
    labels: np.ndarray,
    classes: list[str],
    *,
    epochs: int = 8,
    batch_size: int = 32,
    lr: float = 1e-3,
    seed: int = 0,
) -> nn.Module:
    """Train ``encoder`` + head on beats. windows (W, L, T); beat_* (B,) index beats into windows."""
    torch.manual_seed(seed)
    head = nn.Linear(beat_embed_dim(encoder.embed_dim), len(classes))
    y = torch.tensor([classes.index(c) for c in labels])
    weights = class_weights(labels, classes)
    by_window = [torch.nonzero(beat_win == w).flatten() for w in range(len(windows))]

    def loss_fn(batch: list[int]) -> torch.Tensor:
        sel = torch.cat([by_window[w] for w in batch])
        if len(sel) == 0:
            return torch.zeros((), requires_grad=True)
        remap = torch.full((len(windows),), -1, dtype=torch.long)
        remap[torch.tensor(batch)] = torch.arange(len(batch))
        tokens = encoder(windows[batch])
        logits = head(pool_beats(tokens, remap[beat_win[sel]], beat_tok[sel]))
        return F.cross_entropy(logits, y[sel], weight=weights)

    fit(
        encoder,
        head,
        len(windows),
        loss_fn,
        epochs=epochs,
        batch_size=batch_size,
        lr=lr,
        seed=seed,
        desc="supervised beats",
    )
    return head


@torch.no_grad()
def predict_beats(encoder, head, windows: torch.Tensor, beat_win, beat_tok, batch_size: int = 64) -> np.ndarray:
    """Class probabilities per beat. Shape: (B, C)."""
    tokens = torch.cat([encoder(windows[i : i + batch_size]) for i in range(0, len(windows), batch_size)])
    return F.softmax(head(pool_beats(tokens, beat_win, beat_tok)), dim=1).numpy()
