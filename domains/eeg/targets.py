"""Spectral targets for EEG pretraining: the log amplitude spectrum of every tubelet token.

The latent (EMA) targets of V-JEPA are layer-normed per token, so nothing in the objective asks
the encoder to keep how strong a channel's rhythm is, and on eegmat the pretrained encoder kept
relative band power less readable than a random one (README, session 8). These fixed targets ask
for it directly, the way SAR-JEPA predicts hand-made gradient features of masked patches instead
of latents, and the way LaBraM's tokenizer learns from the Fourier amplitude of EEG patches.

A token covers ``pf`` frames x ``pc`` channels x ``ps`` samples. When ``ps`` is the whole frame,
the ``pf`` frames of one channel are consecutive in time and form one segment of ``pf * ps``
samples; otherwise every frame's ``ps`` samples are a segment of their own. Each segment is Hann
windowed, its ``rfft`` amplitude (in model-input units, divided by the window's RMS gain and the
segment length) is kept from the first non-DC bin up to ``max_hz``, and ``log(amp + floor)``
compresses the 1/f range; a zero-filled (missing) channel gives ``log(floor)`` everywhere.
"""

from __future__ import annotations

import math

import torch
from einops import rearrange
from torch import nn

TARGETS = ("ema", "spectrum")


class SpectralTargets(nn.Module):
    """``target_fn``: model input -> per-token log amplitude spectra.

    Shape: x (B, 1, F, C, S) -> (B, (F/pf) * (C/pc) * (S/ps), dim), tokens in the tokenizer's order.
    """

    def __init__(
        self,
        *,
        tubelet: tuple[int, int, int],
        frame: int,
        fs: float,
        max_hz: float,
        floor: float = 0.01,
    ) -> None:
        super().__init__()
        pf, pc, ps = (int(v) for v in tubelet)
        if frame % ps:
            raise ValueError(f"tubelet samples {ps} do not tile a frame of {frame} samples")
        self.tubelet, self.frame, self.floor = (pf, pc, ps), frame, float(floor)
        self.contiguous = ps == frame  # the pf frames of one channel are one stretch of time
        self.seg = pf * ps if self.contiguous else ps
        freqs = torch.fft.rfftfreq(self.seg, 1.0 / fs)
        self.n_bins = int(((freqs > 0) & (freqs <= max_hz)).sum())
        if self.n_bins < 1:
            raise ValueError(f"no frequency bin between 0 and {max_hz} Hz in {self.seg}-sample segments at {fs} Hz")
        window = torch.hann_window(self.seg, periodic=False)
        self.register_buffer("window", window, persistent=False)
        self.norm = 1.0 / (self.seg * math.sqrt(float((window**2).mean())))

    @property
    def dim(self) -> int:
        pf, pc, _ = self.tubelet
        segments = pc if self.contiguous else pf * pc
        return segments * self.n_bins

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        pf, pc, ps = self.tubelet
        x = x.float()[:, 0]  # (B, F, C, S)
        grid = (x.shape[1] // pf, x.shape[2] // pc, x.shape[3] // ps)
        x = x[:, : grid[0] * pf, : grid[1] * pc, : grid[2] * ps]
        # (B, tokens, segments, seg): frames of one channel side by side when they are contiguous
        if self.contiguous:
            seg = rearrange(x, "b (f pf) (c pc) s -> b (f c) pc (pf s)", pf=pf, pc=pc)
        else:
            seg = rearrange(x, "b (f pf) (c pc) (s ps) -> b (f c s) (pf pc) ps", pf=pf, pc=pc, ps=ps)
        with torch.autocast(device_type=x.device.type, enabled=False):
            amp = torch.fft.rfft(seg * self.window, dim=-1).abs()[..., 1 : 1 + self.n_bins] * self.norm
            return torch.log(amp + self.floor).flatten(2)
