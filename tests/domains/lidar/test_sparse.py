"""The sparse backbone's building blocks against dense torch ops; BEV masks; the encoder on a real scan."""

from pathlib import Path

import pytest
import torch
import torch.nn.functional as F

spconv = pytest.importorskip("spconv.pytorch")

from domains.lidar.backbone import set_conv_algo  # noqa: E402
from domains.lidar.model import BEVCellMask  # noqa: E402

SAMPLES = Path(__file__).resolve().parents[3] / "data" / "samples" / "lidar"


def _sparse_input(shape=(9, 10, 11), channels=3, sites=60, batch=2, seed=0):
    gen = torch.Generator().manual_seed(seed)
    idx = torch.stack([torch.randperm(int(torch.tensor(shape).prod()), generator=gen)[:sites] for _ in range(batch)])
    coords = [torch.stack(torch.unravel_index(i, shape), dim=1) for i in idx]
    indices = torch.cat([torch.cat([torch.full((sites, 1), b), c], 1) for b, c in enumerate(coords)]).int()
    feats = torch.randn(batch * sites, channels, generator=gen, dtype=torch.float64).float()
    return feats, indices, list(shape), batch


@pytest.mark.parametrize("stride, padding", [(2, 1), (1, 1), ((2, 1, 2), (0, 1, 1))])
def test_sparse_conv_matches_dense_conv3d_forward_and_backward(stride, padding):
    feats, indices, shape, batch = _sparse_input()
    conv = spconv.SparseConv3d(3, 5, 3, stride=stride, padding=padding, bias=False)
    set_conv_algo(conv, feats.device)
    feats.requires_grad_(True)
    out = conv(spconv.SparseConvTensor(feats, indices, shape, batch)).dense()  # (B, C, D, H, W)

    dense_in = spconv.SparseConvTensor(feats.detach(), indices, shape, batch).dense().requires_grad_(True)
    weight = conv.weight.detach().permute(0, 4, 1, 2, 3).contiguous().requires_grad_(True)  # KRSC -> (O, I, k, k, k)
    ref = F.conv3d(dense_in, weight, stride=stride, padding=padding)
    assert out.shape == ref.shape
    torch.testing.assert_close(out, ref, rtol=1e-4, atol=1e-5)

    grad = torch.randn_like(ref)
    out.backward(grad)
    ref.backward(grad)
    b, z, y, x = indices.long().unbind(1)
    torch.testing.assert_close(feats.grad, dense_in.grad[b, :, z, y, x], rtol=1e-4, atol=1e-5)
    torch.testing.assert_close(conv.weight.grad.permute(0, 4, 1, 2, 3), weight.grad, rtol=1e-4, atol=1e-4)


def test_submanifold_conv_keeps_sites_and_matches_dense_there():
    feats, indices, shape, batch = _sparse_input(seed=3)
    conv = spconv.SubMConv3d(3, 4, 3, padding=1, bias=False)
    set_conv_algo(conv, feats.device)
    out = conv(spconv.SparseConvTensor(feats, indices, shape, batch))
    assert torch.equal(out.indices, indices)
    dense_in = spconv.SparseConvTensor(feats, indices, shape, batch).dense()
    ref = F.conv3d(dense_in, conv.weight.detach().permute(0, 4, 1, 2, 3), padding=1)
    b, z, y, x = indices.long().unbind(1)
    torch.testing.assert_close(out.features, ref[b, :, z, y, x], rtol=1e-4, atol=1e-5)


def test_bev_masks_disjoint_nonempty_and_cover_occupied_cells():
    sampler = BEVCellMask((16, 16), target_ratio=0.5)
    masks = sampler(4, torch.Generator().manual_seed(0))
    assert masks.context.shape == (4, 128) and masks.target.shape == (4, 128)
    for c, t in zip(masks.context, masks.target, strict=True):
        assert not set(c.tolist()) & set(t.tolist())
        assert sorted(c.tolist() + t.tolist()) == list(range(256))
    again = sampler(4, torch.Generator().manual_seed(0))
    assert torch.equal(again.target, masks.target)
    # Occupied cells of a scene (a 5 x 5 block) are split too: some are targets, some context.
    occupied = torch.zeros(256, dtype=torch.bool)
    occupied.view(16, 16)[4:9, 4:9] = True
    frac = occupied[masks.target].float().sum(1) / occupied.sum()
    assert ((frac > 0.2) & (frac < 0.8)).all()
    with pytest.raises(ValueError):
        BEVCellMask((16, 16), target_ratio=1.0)


def test_context_encoder_never_sees_target_cells():
    """Dropping target cells removes their points: a cell's occupancy survives only if it is context."""
    from domains.lidar.domain import DOMAIN, prepare_points
    from domains.lidar.io import read_points
    from jepa_core.config import load_config

    cfg = load_config(DOMAIN.config_cls, None, ["model.channels=[4,4,8,8]", "model.embed_dim=8"])
    enc = DOMAIN.build_encoder(cfg).eval()
    x = prepare_points(read_points(SAMPLES / "kitti_tracking/training/velodyne_fov/000000.bin"), cfg)[None]
    grid = enc.grid_for(DOMAIN.sample_shape(cfg))
    masks = DOMAIN.mask_sampler(cfg, grid)(1, torch.Generator().manual_seed(1))
    with torch.no_grad():
        tokens, occupied = enc.encode(x)
        _, ctx_occupied = enc.encode(x, keep=masks.context)
    assert tokens.shape == (1, grid[0] * grid[1], 8) and torch.isfinite(tokens).all()
    assert 0.05 < occupied.float().mean() < 0.6
    assert not ctx_occupied[0, masks.target[0]].any()
    assert torch.equal(ctx_occupied[0, masks.context[0]], occupied[0, masks.context[0]])


def test_encoder_runs_under_bf16_autocast():
    """spconv has no bfloat16 kernels: the sparse stages must leave autocast (train.precision=bf16-mixed)."""
    from domains.lidar.domain import DOMAIN, prepare_points
    from domains.lidar.io import read_points
    from jepa_core.config import load_config

    cfg = load_config(DOMAIN.config_cls, None, ["model.channels=[4,4,8,8]", "model.embed_dim=8"])
    enc = DOMAIN.build_encoder(cfg).eval()
    x = prepare_points(read_points(SAMPLES / "kitti_tracking/training/velodyne_fov/000000.bin"), cfg)[None]
    with torch.no_grad():
        ref, _ = enc.encode(x)
        with torch.autocast("cpu", dtype=torch.bfloat16):
            low, _ = enc.encode(x)
    assert torch.isfinite(low.float()).all()
    assert torch.allclose(low.float(), ref, atol=0.1, rtol=0.1)


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_strided_sparse_conv_on_cuda_default_algorithm_matches_cpu_native():
    feats, indices, shape, batch = _sparse_input(seed=5)
    conv = spconv.SparseConv3d(3, 5, 3, stride=2, padding=1, bias=False)
    set_conv_algo(conv, torch.device("cpu"))
    cpu = conv(spconv.SparseConvTensor(feats, indices, shape, batch)).dense()
    conv = conv.cuda()
    set_conv_algo(conv, torch.device("cuda"))
    assert conv.algo != spconv.ConvAlgo.Native
    gpu = conv(spconv.SparseConvTensor(feats.cuda(), indices.cuda(), shape, batch)).dense()
    torch.testing.assert_close(gpu.cpu(), cpu, rtol=1e-3, atol=1e-4)
