"""Supervised-from-scratch baseline: an encoder plus a linear head on pooled tokens, trained end to end.

Used by every domain's evaluation as the "supervised" method: the same architecture as the
pretrained encoder, random initialisation, class-weighted cross-entropy, one-cycle AdamW.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from jepa_core.progress import progress


def class_weights(labels: np.ndarray, classes: list[str]) -> torch.Tensor:
    """Inverse-frequency weights (classes absent from training get weight 0)."""
    counts = np.array([(labels == c).sum() for c in classes], dtype=np.float64)
    w = np.where(counts > 0, counts.sum() / np.maximum(counts, 1) / max((counts > 0).sum(), 1), 0.0)
    return torch.tensor(w, dtype=torch.float32)


def fit(
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
    """Class-weighted AdamW with a one-cycle schedule; a training set smaller than a batch is one batch."""
    if n_items < 1:
        raise ValueError("no training items")
    params = list(encoder.parameters()) + list(head.parameters())
    opt = torch.optim.AdamW(params, lr=lr, weight_decay=0.05)
    batch_size = min(batch_size, n_items)
    total = epochs * (n_items // batch_size)
    # One-cycle needs at least two warm-up steps (tiny sets), and at least three steps in all.
    total = max(total, 3)
    sched = torch.optim.lr_scheduler.OneCycleLR(
        opt, max_lr=lr, total_steps=total, pct_start=min(0.5, max(0.1, 2.0 / total))
    )
    gen = torch.Generator().manual_seed(seed)
    encoder.train(), head.train()
    with progress(total=total, desc=desc, leave=False) as bar:
        for _ in range(epochs):
            perm = torch.randperm(n_items, generator=gen).tolist()
            for i in range(0, len(perm) - batch_size + 1, batch_size):
                loss = loss_fn(perm[i : i + batch_size])
                opt.zero_grad(set_to_none=True)
                loss.backward()
                torch.nn.utils.clip_grad_norm_(params, 1.0)
                opt.step(), bar.update(1)
                if sched.last_epoch < total - 1:
                    sched.step()
    encoder.eval(), head.eval()


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
    """Train ``encoder`` + head on windows, one label each. windows (W, ...) as the encoder takes them."""
    torch.manual_seed(seed)
    head = nn.Linear(encoder.embed_dim, len(classes))
    y = torch.tensor([classes.index(c) for c in labels])
    weights = class_weights(labels, classes)

    def loss_fn(batch: list[int]) -> torch.Tensor:
        logits = head(encoder(windows[batch]).mean(dim=1))
        return F.cross_entropy(logits, y[batch], weight=weights)

    fit(
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
def predict_windows(encoder, head, windows: torch.Tensor, batch_size: int = 64) -> np.ndarray:
    """Class probabilities per window. Shape: (W, C)."""
    out = [
        F.softmax(head(encoder(windows[i : i + batch_size]).mean(1)), dim=1) for i in range(0, len(windows), batch_size)
    ]
    return torch.cat(out).numpy()
