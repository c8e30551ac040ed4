"""Contract tests run over every domain under domains/ (a new domain folder is picked up here)."""

from pathlib import Path

import pytest
import torch

from jepa_core.config import load_config
from jepa_core.domain import get_domain

DOMAINS = sorted(p.parent.name for p in Path(__file__).resolve().parents[2].glob("domains/*/domain.py"))
TINY = [
    "model.embed_dim=32",
    "model.depth=1",
    "model.num_heads=2",
    "model.pred_dim=16",
    "model.pred_depth=1",
    "model.pred_heads=2",
]


def test_domains_found():
    assert "ecg" in DOMAINS


@pytest.mark.parametrize("name", DOMAINS)
def test_forward_backward_masks_and_grads(name):
    domain = get_domain(name)
    cfg = load_config(domain.config_cls, None, TINY)
    model = domain.build_model(cfg)
    shape = domain.sample_shape(cfg)
    x = torch.randn(3, *shape)
    grid = model.encoder.grid_for(shape)
    tokens = model.encoder.tokenizer(x)
    assert tuple(tokens.shape) == (3, *grid, 32)
    masks = domain.mask_sampler(cfg, grid)(3, torch.Generator().manual_seed(0))
    n = int(torch.tensor(grid).prod())
    assert int(masks.context.max()) < n and int(masks.target.max()) < n
    parts = model(x, masks)
    assert torch.isfinite(parts["loss"])
    parts["loss"].backward()
    for pname, p in list(model.encoder.named_parameters()) + list(model.predictor.named_parameters()):
        assert p.grad is not None and torch.isfinite(p.grad).all(), pname
    if model.target_encoder is not None:
        assert all(p.grad is None for p in model.target_encoder.parameters())
    emb = domain.pool(model.downstream_encoder(x))
    assert emb.shape == (3, 32)
    assert domain.input_spec(cfg)
