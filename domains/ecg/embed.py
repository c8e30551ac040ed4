"""ECG embeddings from an encoder: token timelines, beat embeddings, window and record embeddings.

Downstream use reads the tokens of the encoder in the model card (the EMA target encoder).
A record is cut into non-overlapping windows (the last one zero-padded) and encoded; the
tokens are laid end to end as a timeline, one token per ``patch`` samples. A beat's embedding
is the concatenation, in time order, of the tokens from 200 ms before to 400 ms after its R
peak, followed by the mean of its window (rhythm context). Concatenating rather than averaging
the local tokens keeps the beat's shape in time: on the MIT-BIH inter-patient split it raised
the frozen-probe macro-F1 from 0.33 to 0.43 with the same encoder.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from einops import rearrange

BEAT_TOKENS = (-2, 4)  # tokens before / after the R-peak token (100 ms tokens: -200 .. +400 ms)
BEAT_SPAN = BEAT_TOKENS[1] - BEAT_TOKENS[0] + 1


def beat_embed_dim(embed_dim: int) -> int:
    """Width of a beat embedding: the local tokens plus the window mean."""
    return (BEAT_SPAN + 1) * embed_dim


def cut_padded(slots: np.ndarray, window: int) -> torch.Tensor:
    """Shape: (L, T) -> (W, L, window), W = ceil(T / window), the tail zero-padded."""
    x = torch.from_numpy(np.ascontiguousarray(slots, dtype=np.float32))
    n_win = max(1, -(-x.shape[1] // window))
    x = F.pad(x, (0, n_win * window - x.shape[1]))
    return rearrange(x, "l (w t) -> w l t", t=window)


@torch.no_grad()
def encode_windows(encoder: torch.nn.Module, windows: torch.Tensor, batch_size: int = 64) -> torch.Tensor:
    """Shape: (W, L, T) -> (W, N, D) tokens, in batches, no gradients."""
    device = next(encoder.parameters()).device
    out = [encoder(windows[i : i + batch_size].to(device)).float().cpu() for i in range(0, len(windows), batch_size)]
    return torch.cat(out)


def beat_positions(beats: np.ndarray, window: int, patch: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Window index and token index (within the window) of every beat sample."""
    beats = torch.as_tensor(beats, dtype=torch.long)
    return beats // window, (beats % window) // patch


def pool_beats(tokens: torch.Tensor, win_idx: torch.Tensor, tok_idx: torch.Tensor) -> torch.Tensor:
    """Beat embeddings: the local tokens in time order (clipped to the window) ++ window mean.

    Shape: tokens (W, N, D), win_idx/tok_idx (B,) -> (B, (BEAT_SPAN + 1) D). Differentiable (supervised baseline).
    """
    n_tok = tokens.shape[1]
    offsets = torch.arange(BEAT_TOKENS[0], BEAT_TOKENS[1] + 1, device=tokens.device)
    cols = (tok_idx.to(tokens.device)[:, None] + offsets).clamp(0, n_tok - 1)  # (B, K)
    local = rearrange(tokens[win_idx.to(tokens.device)[:, None], cols], "b k d -> b (k d)")  # (B, K D)
    context = tokens.mean(dim=1)[win_idx.to(tokens.device)]  # (B, D)
    return torch.cat([local, context], dim=1)


def beat_embeddings(encoder, slots: np.ndarray, beats: np.ndarray, *, window: int, patch: int) -> np.ndarray:
    """Shape: slots (L, T), beats (B,) sample indices -> (B, beat_embed_dim(D))."""
    tokens = encode_windows(encoder, cut_padded(slots, window))
    win_idx, tok_idx = beat_positions(beats, window, patch)
    return pool_beats(tokens, win_idx.clamp(max=len(tokens) - 1), tok_idx).numpy()


def sliding_windows(slots: np.ndarray, *, window: int, stride: int) -> torch.Tensor:
    """Windows every ``stride`` samples, the tail dropped; a short record is zero-padded to one window.

    Shape: (L, T) -> (W, L, window).
    """
    x = torch.from_numpy(np.ascontiguousarray(slots, dtype=np.float32))
    if x.shape[1] < window:
        x = F.pad(x, (0, window - x.shape[1]))
    return x.unfold(1, window, stride).permute(1, 0, 2)


def window_embeddings(encoder, slots: np.ndarray, *, window: int, stride: int) -> np.ndarray:
    """Mean-pooled embeddings of windows every ``stride`` samples. Shape: (L, T) -> (W, D)."""
    return encode_windows(encoder, sliding_windows(slots, window=window, stride=stride)).mean(dim=1).numpy()
