"""EEG windows as videos: shapes, window counts and onsets, tubelet grid, tube masks, a tiny pretraining."""

from pathlib import Path

import numpy as np
import pytest
import torch

from domains.eeg.config import EegDataConfig, EegPretrainConfig, video_shape
from domains.eeg.dataset import EegWindows, from_video, to_video
from domains.eeg.domain import DOMAIN
from jepa_core.config import ConfigError, load_config
from tests.domains.eeg.edf_factory import TEN_TWENTY_OLD, oscillation, write_edf

ROOT = Path(__file__).resolve().parents[3]
SAMPLES = ROOT / "data" / "samples" / "eeg"


def test_video_layout_round_trip():
    window = torch.arange(19 * 512, dtype=torch.float32).reshape(19, 512)
    video = to_video(window, frame=64, channel_slots=20)
    assert video.shape == (1, 8, 20, 64)
    assert torch.equal(video[0, 2, 5], window[5, 128:192])  # frame 2 of channel 5 is samples 128..191
    assert not video[0, :, 19].any()  # the padding slot of the last channel group
    assert torch.equal(from_video(video)[:19], window)


def test_default_video_shape_and_tubelet_grid():
    cfg = load_config(EegPretrainConfig, None, [])
    shape = DOMAIN.sample_shape(cfg)
    assert shape == (1, 16, 19, 32)  # 4 s at 128 Hz, frames of 0.25 s
    assert DOMAIN.build_tokenizer(cfg).grid_for(shape) == (8, 19, 1)  # a token: 0.5 s of one channel


def test_default_token_is_half_a_second_of_one_channel():
    window = torch.randn(19, 512)
    video = to_video(window, frame=32, channel_slots=19)  # (1, 16, 19, 32)
    f, c = 3, 7  # token (3, 7, 0) of the (8, 19, 1) grid covers frames 6 and 7 of channel 7
    assert torch.equal(video[0, 2 * f : 2 * f + 2, c, :].reshape(-1), window[c, 64 * f : 64 * f + 64])


def test_channel_groups_pad_to_whole_groups():
    data = EegDataConfig(tubelet=[2, 4, 32])
    assert video_shape(data) == (1, 16, 20, 32)


def test_tubelet_that_does_not_tile_is_a_config_error():
    with pytest.raises(ConfigError, match="does not tile"):
        video_shape(EegDataConfig(tubelet=[3, 1, 32]))


def test_window_counts_and_onsets(tmp_path):
    write_edf(tmp_path / "Subject03_1.edf", oscillation(10.0, 21, 256.0, 19), TEN_TWENTY_OLD, 256.0)
    write_edf(tmp_path / "Subject03_2.edf", oscillation(20.0, 3, 256.0, 19), TEN_TWENTY_OLD, 256.0)  # < 1 window
    ds = EegWindows(tmp_path, EegDataConfig(window_s=4.0, stride_s=2.0))
    assert len(ds) == 9  # 21 s: starts 0, 2, ..., 16 s
    assert [ds[i]["start_s"] for i in range(len(ds))] == [0.0, 2.0, 4.0, 6.0, 8.0, 10.0, 12.0, 14.0, 16.0]
    assert ds[0]["x"].shape == (1, 16, 19, 32) and ds[0]["subject"] == 3
    assert len(ds.skipped) == 1 and "too short" in ds.skipped[0][1]


def test_tube_masks_valid_and_both_generators_used():
    cfg = load_config(EegPretrainConfig, None, [])
    grid = (8, 19, 1)
    sampler = DOMAIN.mask_sampler(cfg, grid)
    sizes = set()
    for step in range(40):
        m = sampler(6, torch.Generator().manual_seed(step))
        assert m.context.shape[0] == m.target.shape[0] == 6
        for c, t in zip(m.context, m.target, strict=True):
            assert not set(c.tolist()) & set(t.tolist())
            assert 0 <= int(t.min()) and int(t.max()) < 152
        sizes.add(m.target.shape[1] > 152 // 2)
    assert sizes == {True, False}  # long-range (large) and short-range (small) targets both occur


def test_iter_windows_reports_broken_files(tmp_path):
    cfg = load_config(EegPretrainConfig, None, [])
    (tmp_path / "bad.edf").write_bytes(b"garbage")
    write_edf(tmp_path / "ok.edf", oscillation(10.0, 9, 256.0, 19), TEN_TWENTY_OLD, 256.0)
    items = list(DOMAIN.iter_windows(tmp_path, cfg))
    errors = [i for i in items if "error" in i]
    assert len(errors) == 1 and "bad.edf" in errors[0]["error"]
    good = [i for i in items if "x" in i]
    assert [i["start_s"] for i in good] == [0.0, 4.0] and good[0]["x"].shape == (1, 16, 19, 32)


def test_tiny_pretraining_loss_falls(tmp_path):
    from jepa_core.train import train

    overrides = [
        f"data.sources=['{SAMPLES}']", "data.include=['Subject09_*']", f"out={tmp_path / 'run'}",
        "model.embed_dim=64", "model.depth=2", "model.num_heads=2", "model.pred_dim=32", "model.pred_depth=1",
        "model.pred_heads=2", "train.steps=40", "train.batch_size=16", "train.log_every=5", "train.eval_every=0",
        "train.ckpt_every=40", "train.progress=false", "optim.warmup_steps=5", "optim.lr=1e-3",
    ]  # fmt: skip
    cfg = load_config(EegPretrainConfig, None, overrides)
    result = train(DOMAIN, cfg)
    import json

    losses = [json.loads(x)["loss"] for x in (result.run_dir / "metrics.jsonl").read_text().splitlines()]
    assert len(losses) == 8 and np.mean(losses[-2:]) < 0.9 * np.mean(losses[:2])
    assert (result.encoder_dir / "encoder.safetensors").is_file()


def test_input_scaling_option():
    from domains.eeg.config import input_scale

    assert input_scale(EegDataConfig()) is None  # per recording: the default, and what older cards mean
    assert input_scale(EegDataConfig(scaling="fixed", scale_uv=5.0)) == 5.0
    with pytest.raises(ConfigError, match="data.scaling"):
        input_scale(EegDataConfig(scaling="global"))
    with pytest.raises(ConfigError, match="scale_uv"):
        input_scale(EegDataConfig(scaling="fixed", scale_uv=0.0))


def test_eeg_objective_is_l1_to_layer_normed_ema_targets():
    import torch.nn.functional as F

    cfg = load_config(EegPretrainConfig, None, ["model.embed_dim=32", "model.depth=1", "model.num_heads=2",
                                                "model.pred_dim=16", "model.pred_depth=1", "model.pred_heads=2"])  # fmt: skip
    model = DOMAIN.build_model(cfg)
    assert model.loss.kind == "l1" and model.target_encoder is not None and model.target_encoder is not model.encoder
    assert not any(p.requires_grad for p in model.target_encoder.parameters())
    x = torch.randn(2, *video_shape(cfg.data))
    idx = torch.tensor([[0, 5, 151], [7, 8, 9]])
    target = model.targets(x, idx)
    assert target.shape == (2, 3, 32) and not target.requires_grad
    feats = model.target_encoder(x)
    assert torch.allclose(target, torch.stack([F.layer_norm(feats[b], (32,))[idx[b]] for b in range(2)]), atol=1e-5)
    assert torch.allclose(target.mean(-1), torch.zeros(2, 3), atol=1e-5)
    assert torch.allclose(target.std(-1, unbiased=False), torch.ones(2, 3), atol=1e-3)
