"""A tiny EEG model directory for app tests: a few pretraining steps, probe and references on the samples."""

from __future__ import annotations

from pathlib import Path

from domains.eeg.build_app_assets import build_assets
from domains.eeg.config import EegPretrainConfig
from domains.eeg.domain import DOMAIN
from jepa_core.config import load_config
from jepa_core.train import train

ROOT = Path(__file__).resolve().parents[2]
SAMPLE_DIR = ROOT / "data" / "samples" / "eeg"


def build_eeg_test_model(folder: Path, scaling: str = "fixed") -> Path:
    overrides = [
        f"data.scaling={scaling}",
        f"data.sources=['{SAMPLE_DIR}']", "data.include=['Subject09_*']", f"out={folder / 'run'}", "data.stride_s=4",
        "model.embed_dim=32", "model.depth=1", "model.num_heads=2", "model.pred_dim=16", "model.pred_depth=1",
        "model.pred_heads=2", "train.steps=2", "train.batch_size=4", "train.log_every=1", "train.eval_every=0",
        "train.ckpt_every=2", "train.progress=false",
    ]  # fmt: skip
    result = train(DOMAIN, load_config(EegPretrainConfig, None, overrides))
    build_assets(result.encoder_dir, SAMPLE_DIR, subjects=[9], per_class=20)
    return result.encoder_dir
