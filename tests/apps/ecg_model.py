"""A tiny random ECG model directory with probes and references, built from the bundled samples.

The encoder is untrained (one block, 32 dims): the tests check plumbing, shapes and messages,
not accuracy. Records are cut to their first ``MAX_SECONDS`` to keep the build to a few seconds.
"""

from __future__ import annotations

from pathlib import Path

import torch

from domains.ecg.build_app_assets import build_assets
from domains.ecg.config import EcgPretrainConfig
from domains.ecg.domain import DOMAIN
from domains.ecg.tasks import load_cinc_labels
from jepa_core.checkpoint import save_encoder
from jepa_core.config import load_config, to_plain

SAMPLE_DIR = Path(__file__).resolve().parents[2] / "data" / "samples" / "ecg"
MAX_SECONDS = 120.0
TINY = ["model.embed_dim=32", "model.depth=1", "model.num_heads=2", "model.pred_dim=16", "model.pred_depth=1"]


def build_ecg_test_model(model_dir: Path, *, seed: int = 0) -> Path:
    """Write encoder.safetensors, model_card.json, probes/ and references/ into ``model_dir``."""
    cfg = load_config(EcgPretrainConfig, overrides=TINY)
    torch.manual_seed(seed)
    encoder = DOMAIN.build_encoder(cfg).eval()
    card = {
        "name": "ecg-test",
        "summary": "Random tiny ECG encoder for the tests.",
        "domain": "ecg",
        "encoder_used_downstream": "ema_target",
        "pooling": "mean",
        "trained_steps": 0,
        "training_command": "tests/apps/ecg_model.py",
        "input_spec": DOMAIN.input_spec(cfg),
        "metrics": {"rankme": 1.0},
        "config": to_plain(cfg),
    }
    save_encoder(model_dir, encoder, card)
    labels = load_cinc_labels(SAMPLE_DIR)
    build_assets(
        model_dir,
        mitdb_paths=[SAMPLE_DIR / "208", SAMPLE_DIR / "232"],
        cinc_paths=[SAMPLE_DIR / r for r in sorted(labels)],
        cinc_labels=labels,
        per_class=50,
        max_seconds=MAX_SECONDS,
        log=lambda msg: None,
    )
    return model_dir
