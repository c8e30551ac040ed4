from __future__ import annotations

from pathlib import Path

import pytest
import torch

from domains.sar.build_app_assets import build_assets
from domains.sar.config import SarPretrainConfig
from domains.sar.domain import DOMAIN
from jepa_core.checkpoint import save_encoder
from jepa_core.config import load_config, to_plain

SAMPLES = Path(__file__).resolve().parents[3] / "data" / "samples" / "sar"
TINY = ["model.embed_dim=32", "model.depth=1", "model.num_heads=2", "model.pred_dim=16", "model.pred_depth=1"]


@pytest.fixture(scope="session")
def sar_test_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny random SAR model directory with probe and references from the bundled training chips."""
    model_dir = tmp_path_factory.mktemp("sar-test-model")
    cfg = load_config(SarPretrainConfig, overrides=TINY)
    torch.manual_seed(0)
    card = {
        "name": "sar-test",
        "summary": "Random tiny SAR encoder for the tests.",
        "domain": "sar",
        "encoder_used_downstream": "online_context_encoder",
        "pooling": "mean",
        "trained_steps": 0,
        "input_spec": DOMAIN.input_spec(cfg),
        "config": to_plain(cfg),
    }
    save_encoder(model_dir, DOMAIN.build_encoder(cfg).eval(), card)
    build_assets(model_dir, SAMPLES / "mstar" / "train", per_class=3, log=lambda msg: None)
    return model_dir
