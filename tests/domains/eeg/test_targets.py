"""EEG spectral targets: which bin, which token, how amplitude moves them, and a tiny pretraining."""

import json
import math
from pathlib import Path

import numpy as np
import pytest
import torch

from domains.eeg.config import EegPretrainConfig
from domains.eeg.dataset import to_video
from domains.eeg.domain import DOMAIN
from domains.eeg.targets import SpectralTargets
from jepa_core.config import ConfigError, load_config

ROOT = Path(__file__).resolve().parents[3]
SAMPLES = ROOT / "data" / "samples" / "eeg"
FS = 128.0


def _targets(**kw) -> SpectralTargets:
    return SpectralTargets(**({"tubelet": (2, 1, 32), "frame": 32, "fs": FS, "max_hz": 45.0} | kw))


def _video(signal: torch.Tensor, frame: int = 32) -> torch.Tensor:
    return to_video(signal, frame=frame, channel_slots=signal.shape[0])[None]  # (1, 1, F, C, S)


def test_sinusoid_peaks_at_its_bin_in_its_own_tokens_only():
    t = torch.arange(512) / FS
    signal = torch.zeros(19, 512)
    signal[3] = 2.0 * torch.sin(2 * math.pi * 10.0 * t)  # 10 Hz in channel slot 3 only
    fn = _targets()
    assert fn.seg == 64 and fn.n_bins == 22 and fn.dim == 22  # 2 Hz bins, 2..44 Hz
    y = fn(_video(signal))[0].reshape(8, 19, 22)  # tokens in the tokenizer's (frame, channel) order
    assert y.shape == (8, 19, 22)
    assert (y[:, 3].argmax(-1) == 4).all()  # bin k is at 2 (k + 1) Hz: 10 Hz is bin 4
    silent = torch.cat([y[:, :3], y[:, 4:]], dim=1)
    assert torch.allclose(silent, torch.full_like(silent, math.log(fn.floor)))  # zero channels: the floor
    assert y[:, 3, 4].min() > math.log(fn.floor) + 3


def test_amplitude_moves_the_target_by_its_log():
    gen = torch.Generator().manual_seed(0)
    signal = torch.randn(19, 512, generator=gen)
    fn = _targets(floor=1e-6)  # no floor to speak of: the log amplitude shifts exactly
    y1, y3 = fn(_video(signal)), fn(_video(3.0 * signal))
    assert torch.allclose(y3 - y1, torch.full_like(y1, math.log(3.0)), atol=1e-3)


def test_token_position_follows_the_tubelet_grid():
    signal = torch.zeros(19, 512)
    signal[7, 128:192] = torch.sin(2 * math.pi * 20.0 * torch.arange(64) / FS)  # frames 4-5 of channel 7
    y = _targets()(_video(signal))[0].reshape(8, 19, -1).amax(-1)
    assert tuple(divmod(int(y.argmax()), 19)) == (2, 7)  # token row 2 (frames 4-5), channel 7


def test_non_contiguous_tubelet_splits_into_segments():
    # 64-sample frames cut into 32-sample pieces: the two frames of a token are not one stretch of time
    fn = _targets(tubelet=(2, 1, 32), frame=64)
    assert not fn.contiguous and fn.seg == 32 and fn.dim == 2 * fn.n_bins
    y = fn(_video(torch.randn(19, 512), frame=64))
    assert y.shape == (1, 4 * 19 * 2, fn.dim)
    with pytest.raises(ValueError, match="do not tile"):
        _targets(tubelet=(2, 1, 24), frame=64)


def test_config_selects_targets_and_rejects_unknown():
    cfg = load_config(EegPretrainConfig, None, [])
    assert DOMAIN.target_fn(cfg) is None and DOMAIN.target_dim(cfg) is None  # EMA latents by default
    cfg = load_config(EegPretrainConfig, None, ["data.target=spectrum", "data.tubelet=[2,1,32]", "data.frame_s=0.25"])
    assert DOMAIN.target_dim(cfg) == 22
    model = DOMAIN.build_model(cfg)
    assert model.target_encoder is None and model.downstream_encoder is model.encoder
    with pytest.raises(ConfigError, match="data.target"):  # the CLI prints it as one line, exit 2
        DOMAIN.target_fn(load_config(EegPretrainConfig, None, ["data.target=fft"]))


def test_tiny_spectral_pretraining_loss_falls(tmp_path):
    from jepa_core.train import train

    overrides = [
        f"data.sources=['{SAMPLES}']", "data.include=['Subject09_*']", f"out={tmp_path / 'run'}",
        "data.target=spectrum", "data.tubelet=[2,1,32]", "data.frame_s=0.25",
        "model.embed_dim=64", "model.depth=2", "model.num_heads=2", "model.pred_dim=32", "model.pred_depth=1",
        "model.pred_heads=2", "train.steps=40", "train.batch_size=16", "train.log_every=5", "train.eval_every=0",
        "train.ckpt_every=40", "train.progress=false", "optim.warmup_steps=5", "optim.lr=1e-3",
    ]  # fmt: skip
    result = train(DOMAIN, load_config(EegPretrainConfig, None, overrides))
    losses = [json.loads(x)["pred_loss"] for x in (result.run_dir / "metrics.jsonl").read_text().splitlines()]
    assert len(losses) == 8 and np.mean(losses[-2:]) < 0.85 * np.mean(losses[:2])
