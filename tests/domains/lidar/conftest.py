from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("spconv")

TINY = ["model.channels=[4,8,8,8]", "model.embed_dim=16", "model.pred_dim=16", "model.pred_depth=1",
        "data.num_points=8192"]  # fmt: skip


def build_lidar_test_model(model_dir: Path, *, probe: bool = True) -> Path:
    """A random tiny encoder saved like a pretrained one, with a foreground probe on random features."""
    import torch

    from domains.lidar.domain import DOMAIN
    from domains.lidar.inference import PROBE_FILE
    from jepa_core.checkpoint import save_encoder
    from jepa_core.config import load_config, to_plain
    from jepa_core.eval.probes import SavedLinearProbe, linear_probe

    cfg = load_config(DOMAIN.config_cls, None, TINY)
    torch.manual_seed(0)
    encoder = DOMAIN.build_encoder(cfg)
    save_encoder(model_dir, encoder, {"name": "lidar-test", "domain": "lidar", "config": to_plain(cfg)})
    if probe:
        rng = np.random.default_rng(0)
        x = rng.normal(size=(200, 16))
        fitted = linear_probe(x, (x[:, 0] > 0).astype(str), x)
        (model_dir / PROBE_FILE).write_text(json.dumps(SavedLinearProbe.from_pipeline(fitted.model).to_dict()))
    return model_dir


@pytest.fixture(scope="session")
def lidar_test_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_lidar_test_model(tmp_path_factory.mktemp("lidar-test-model"))
