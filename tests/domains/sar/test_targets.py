"""The ROA gradient operator and the SAR-JEPA target/mask plumbing."""

import pytest
import torch

from domains.sar.masking import LocalWindowMask
from domains.sar.targets import GradientTargets, RatioGradient, ratio_gradient_loop, roa_kernels, scaled_radii

RADII = [2, 4, 6, 8]


def speckle(shape, seed=0):
    """Fully developed speckle: exponential intensity with unit mean."""
    return torch.empty(shape).exponential_(generator=torch.Generator().manual_seed(seed))


def test_kernels_average_half_windows():
    k = roa_kernels([1, 2])  # (8, 1, 5, 5)
    assert k.shape == (8, 1, 5, 5)
    torch.testing.assert_close(k.sum(dim=(1, 2, 3)), torch.ones(8))
    left_r1 = k[0, 0]
    assert left_r1[1:4, 1].eq(1 / 3).all() and left_r1[:, 2:].eq(0).all()  # columns -1 only, rows -1..1


def test_constant_image_has_zero_gradient():
    g = RatioGradient(RADII)(torch.full((2, 1, 32, 32), 7.5))
    assert g.shape == (2, 4, 32, 32)
    assert g.abs().max() < 1e-5


def test_step_edge_peaks_at_the_edge_and_is_symmetric_in_direction():
    img = torch.ones(1, 1, 40, 40)
    img[..., 20:] = 10.0  # vertical edge between columns 19 and 20
    op = RatioGradient(RADII)
    g = op(img)[0]  # (S, H, W)
    row = g[:, 20]  # (S, W), one row away from the borders' effect (the edge is vertical)
    for s, r in enumerate(RADII):
        assert row[s, 19:21].min() > 0.5 * torch.log(torch.tensor(10.0))  # strong response next to the edge
        assert row[s, : 19 - r].abs().max() < 1e-5 and row[s, 21 + r :].abs().max() < 1e-5  # none beyond r
    # dark-to-bright and bright-to-dark give the same magnitude (mirrored)
    torch.testing.assert_close(op(img.flip(-1))[0], g.flip(-1))
    # the same edge turned horizontal gives the transposed map
    torch.testing.assert_close(op(img.transpose(-1, -2))[0], g.transpose(-1, -2), atol=1e-5, rtol=1e-5)


def test_invariant_to_global_multiplicative_gain():
    x = speckle((2, 1, 48, 48))
    op = RatioGradient(RADII)
    torch.testing.assert_close(op(x * 37.0), op(x), atol=1e-4, rtol=1e-4)
    # a difference operator is not: the point of the ratio
    diff = (x * 37.0)[..., 1:] - (x * 37.0)[..., :-1]
    assert not torch.allclose(diff, x[..., 1:] - x[..., :-1])


@pytest.mark.parametrize("separable", [True, False])
def test_vectorised_operator_equals_per_scale_loop(separable):
    x = speckle((3, 1, 40, 36), seed=1) * torch.linspace(1, 5, 36)
    got = RatioGradient(RADII, separable=separable)(x)
    torch.testing.assert_close(got, ratio_gradient_loop(x, RADII), atol=1e-4, rtol=1e-4)


def test_gradient_targets_per_patch_and_gain_shift_invariant():
    t = GradientTargets(radii=RADII, patch=8, db_scale=10.0)
    x = torch.randn(2, 1, 64, 64)
    y = t(x)
    assert y.shape == (2, 64, t.dim) and t.dim == 4 * 64
    torch.testing.assert_close(t(x + 1.3), y, atol=1e-4, rtol=1e-4)  # +13 dB gain changes nothing
    maps = t.maps(x)  # the first patch holds the top-left 8x8 of every scale
    torch.testing.assert_close(y[0, 0].reshape(4, 8, 8), maps[0, :, :8, :8])


def test_gradient_targets_stay_float32_under_bf16_autocast():
    """Mixed precision (train.precision=bf16-mixed, the default on bf16 GPUs) must not round the targets."""
    t = GradientTargets(radii=RADII, patch=8, db_scale=10.0)
    x = torch.randn(2, 1, 64, 64)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        y = t(x)
    assert y.dtype == torch.float32
    torch.testing.assert_close(y, t(x))


def test_scaled_radii():
    assert scaled_radii(64) == [2, 4, 6, 8]
    assert scaled_radii(128) == [4, 8, 12, 16]
    assert scaled_radii(16) == [1, 2, 3, 4]  # kept distinct


@pytest.mark.parametrize("grid", [(8, 8), (11, 9), (4, 4)])
def test_local_window_mask(grid):
    sampler = LocalWindowMask(grid, window=4, n_windows=2, ratio=0.75)
    m = sampler(6, torch.Generator().manual_seed(3))
    n = grid[0] * grid[1]
    for ctx, tgt in zip(m.context, m.target, strict=True):
        assert not set(ctx.tolist()) & set(tgt.tolist())
        assert int(ctx.max()) < n and int(tgt.max()) < n
    assert m.target.shape[1] == sampler.per_window * min(2, (grid[0] // 4) * (grid[1] // 4))
    again = sampler(6, torch.Generator().manual_seed(3))
    assert torch.equal(again.target, m.target) and torch.equal(again.context, m.context)
