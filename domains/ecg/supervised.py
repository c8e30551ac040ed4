"""Supervised-from-scratch baseline: the same encoder architecture plus a linear head, trained end to end.

Beats: one forward per 10 s window gives logits for every beat in it (the same beat pooling
as the probes). Records: window logits, averaged over a record's windows at test time.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from tqdm.auto import tqdm

from domains.ecg.embed import beat_embed_dim, pool_beats


def class_weights(labels: np.ndarray, classes: list[str]) -> torch.Tensor:
    """Inverse-frequency weights (classes absent from training get weight 0)."""
    counts = np.array([(labels == c).sum() for c in classes], dtype=np.float64)
    w = np.where(counts > 0, counts.sum() / np.maximum(counts, 1) / max((counts > 0).sum(), 1), 0.0)
    return torch.tensor(w, dtype=torch.float32)


def _fit(
    encoder,
    head,
    n_items: int,
    loss_fn: Callable[[list[int]], torch.Tensor],
    *,
    epochs: int,
    batch_size: int,
    lr: float,
    seed: int,
    desc: str,
) -> None:
    params = list(encoder.parameters()) + list(head.parameters())
    opt = torch.optim.AdamW(params, lr=lr, weight_decay=0.05)
    total = epochs * max(1, n_items // batch_size)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=lr, total_steps=total, pct_start=0.1)
    gen = torch.Generator().manual_seed(seed)
    encoder.train(), head.train()
    with tqdm(total=total, desc=desc, leave=False) as bar:
        for _ in range(epochs):
            perm = torch.randperm(n_items, generator=gen).tolist()
            for i in range(0, len(perm) - batch_size + 1, batch_size):
                loss = loss_fn(perm[i : i + batch_size])
                opt.zero_grad(set_to_none=True)
                loss.backward()
                torch.nn.utils.clip_grad_norm_(params, 1.0)
                opt.step(), sched.step(), bar.update(1)
    encoder.eval(), head.eval()


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

    _fit(
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


def train_window_classifier(
    encoder: nn.Module,
    windows: torch.Tensor,
    labels: np.ndarray,
    classes: list[str],
    *,
    epochs: int = 8,
    batch_size: int = 32,
    lr: float = 1e-3,
    seed: int = 0,
) -> nn.Module:
    """Train ``encoder`` + head on windows labelled with their record's class. windows (W, L, T)."""
    torch.manual_seed(seed)
    head = nn.Linear(encoder.embed_dim, len(classes))
    y = torch.tensor([classes.index(c) for c in labels])
    weights = class_weights(labels, classes)

    def loss_fn(batch: list[int]) -> torch.Tensor:
        logits = head(encoder(windows[batch]).mean(dim=1))
        return F.cross_entropy(logits, y[batch], weight=weights)

    _fit(
        encoder,
        head,
        len(windows),
        loss_fn,
        epochs=epochs,
        batch_size=batch_size,
        lr=lr,
        seed=seed,
        desc="supervised windows",
    )
    return head


@torch.no_grad()
def predict_beats(encoder, head, windows: torch.Tensor, beat_win, beat_tok, batch_size: int = 64) -> np.ndarray:
    """Class probabilities per beat. Shape: (B, C)."""
    tokens = torch.cat([encoder(windows[i : i + batch_size]) for i in range(0, len(windows), batch_size)])
    return F.softmax(head(pool_beats(tokens, beat_win, beat_tok)), dim=1).numpy()


@torch.no_grad()
def predict_windows(encoder, head, windows: torch.Tensor, batch_size: int = 64) -> np.ndarray:
    """Class probabilities per window. Shape: (W, C)."""
    out = [
        F.softmax(head(encoder(windows[i : i + batch_size]).mean(1)), dim=1) for i in range(0, len(windows), batch_size)
    ]
    return torch.cat(out).numpy()
