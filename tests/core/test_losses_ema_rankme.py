import copy

import pytest
import torch

from jepa_core.ema import ema_update, momentum_at
from jepa_core.eval.rankme import rankme
from jepa_core.losses import LatentLoss, SIGReg, VarianceLoss


def test_ema_update_is_lerp():
    online = torch.nn.Linear(4, 3)
    target = copy.deepcopy(online)
    with torch.no_grad():
        for p in online.parameters():
            p.add_(1.0)
    before = [p.clone() for p in target.parameters()]
    ema_update(target, online, momentum=0.9)
    for b, t, o in zip(before, target.parameters(), online.parameters(), strict=True):
        torch.testing.assert_close(t, 0.9 * b + 0.1 * o)
    ema_update(target, online, momentum=1.0)  # momentum 1: frozen
    ema_update(target, online, momentum=0.0)  # momentum 0: copy
    for t, o in zip(target.parameters(), online.parameters(), strict=True):
        torch.testing.assert_close(t, o)


def test_momentum_schedule_endpoints():
    assert momentum_at(0, 100) == pytest.approx(0.996)
    assert momentum_at(100, 100) == pytest.approx(1.0)
    assert momentum_at(50, 100) == pytest.approx(0.998)


@pytest.mark.parametrize("kind", ["l1", "smooth_l1", "mse"])
def test_latent_losses(kind):
    loss = LatentLoss(kind)
    a = torch.zeros(2, 3, 4)
    assert loss(a, a).item() == 0.0
    b = torch.full((2, 3, 4), 0.5)
    expected = {"l1": 0.5, "smooth_l1": 0.125, "mse": 0.25}[kind]
    assert loss(a, b).item() == pytest.approx(expected)
    with pytest.raises(ValueError):
        LatentLoss("l3")


def test_sigreg_low_on_gaussian_high_on_collapsed():
    torch.manual_seed(0)
    reg = SIGReg(num_slices=128)
    gaussian = torch.randn(1024, 64)
    collapsed = torch.randn(1024, 1) @ torch.randn(1, 64)  # rank 1
    shrunk = 0.05 * torch.randn(1024, 64)  # dimensional but far too small
    low = reg(gaussian, seed=1).item()
    assert low < 3.0  # N * squared CF error is O(1) under the null
    assert reg(collapsed, seed=1).item() > 20 * low
    assert reg(shrunk, seed=1).item() > 20 * low
    # same seed, same directions (DDP ranks agree); other seed, other directions
    assert reg(collapsed, seed=1).item() == reg(collapsed, seed=1).item()


def test_sigreg_has_gradient():
    z = (0.1 * torch.randn(256, 16)).requires_grad_()
    SIGReg(num_slices=32)(z).backward()
    assert z.grad is not None and z.grad.abs().sum() > 0


def test_variance_loss():
    var = VarianceLoss(gamma=1.0)
    assert var(torch.randn(4096, 8) * 3).item() == pytest.approx(0.0, abs=1e-6)
    assert var(torch.zeros(64, 8)).item() == pytest.approx(1.0 - 1e-2, abs=1e-3)


def test_rankme_gaussian_and_rank_one():
    torch.manual_seed(0)
    n, d = 2048, 64
    full = rankme(torch.randn(n, d))
    assert full > 0.9 * d
    rank1 = rankme(torch.randn(n, 1) @ torch.randn(1, d))
    assert rank1 < 1.05
    assert 7 < rankme(torch.randn(n, 8) @ torch.randn(8, d)) < 8.01
