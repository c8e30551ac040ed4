import pytest
import torch

from jepa_core.masking import BlockMask1D, MultiBlockMask, apply_mask, tube_mask_short_long


def _check(masks, n_tokens, batch):
    assert masks.context.shape[0] == masks.target.shape[0] == batch
    assert masks.context.dtype == masks.target.dtype == torch.long
    for ctx, tgt in zip(masks.context, masks.target, strict=True):
        assert 0 <= int(ctx.min()) and int(ctx.max()) < n_tokens
        assert 0 <= int(tgt.min()) and int(tgt.max()) < n_tokens
        assert len(set(ctx.tolist()) & set(tgt.tolist())) == 0, "context and target overlap"
        assert len(set(ctx.tolist())) == len(ctx) and len(set(tgt.tolist())) == len(tgt)


def _runs(idx: torch.Tensor) -> list[int]:
    """Lengths of contiguous runs in a sorted index row."""
    breaks = torch.nonzero(idx.diff() != 1).flatten().tolist()
    edges = [-1, *breaks, len(idx) - 1]
    return [b - a for a, b in zip(edges[:-1], edges[1:], strict=True)]


@pytest.mark.parametrize("seed", range(5))
def test_block1d_ratios_blocks_and_partition(seed):
    n = 100
    masks = BlockMask1D((n,), keep_ratio=(0.15, 0.25), min_block=10)(16, torch.Generator().manual_seed(seed))
    _check(masks, n, 16)
    n_ctx = masks.context.shape[1]
    assert 15 <= n_ctx <= 25
    assert n_ctx + masks.target.shape[1] == n  # 1-D blocks partition the grid
    for tgt in masks.target:
        assert min(_runs(tgt)) >= 10


def test_block1d_small_grid_still_valid():
    masks = BlockMask1D((12,), keep_ratio=(0.2, 0.2), min_block=10)(4, torch.Generator().manual_seed(0))
    _check(masks, 12, 4)
    assert masks.context.shape[1] >= 1 and masks.target.shape[1] >= 1


@pytest.mark.parametrize(
    "sampler",
    [
        BlockMask1D((50,)),
        MultiBlockMask((14, 14)),
        MultiBlockMask((4, 8, 8), n_targets=8, target_scale=(0.15, 0.15), context_scale=(1.0, 1.0)),
    ],
)
def test_seed_determinism_and_variation(sampler):
    a = sampler(8, torch.Generator().manual_seed(3))
    b = sampler(8, torch.Generator().manual_seed(3))
    c = sampler(8, torch.Generator().manual_seed(4))
    assert torch.equal(a.context, b.context) and torch.equal(a.target, b.target)
    assert not (torch.equal(a.context, c.context) and torch.equal(a.target, c.target))


@pytest.mark.parametrize("seed", range(5))
def test_multiblock2d_target_fraction(seed):
    grid = (14, 14)
    masks = MultiBlockMask(grid, n_targets=4)(8, torch.Generator().manual_seed(seed))
    _check(masks, 196, 8)
    # four 15-20% blocks overlap, so the union covers between one block and ~4 blocks
    frac = masks.target.shape[1] / 196
    assert 0.1 <= frac <= 0.8
    assert masks.context.shape[1] >= 4


def test_multiblock2d_block_shape_follows_scale_and_aspect():
    sampler = MultiBlockMask((20, 20), n_targets=1, target_scale=(0.16, 0.16), target_aspect=(1.0, 1.0))
    masks = sampler(2, torch.Generator().manual_seed(0))
    assert masks.target.shape[1] == 64  # an 8 x 8 box = 16% of 400


def test_boxes_keep_their_aspect_on_an_elongated_plane():
    """EEG's (frames, 19 channels, 1) grid: sides are cut at the edge, the aspect is kept (documented)."""
    grid = (8, 19, 1)
    long = MultiBlockMask(grid, n_targets=1, target_scale=(0.7, 0.7), target_aspect=(1.0, 1.0))
    masks = long(1, torch.Generator().manual_seed(0))
    assert masks.target.shape[1] == 8 * 4  # round(sqrt(0.7 x 19)) = 4 channels through all 8 frames
    assert masks.context.shape[1] >= 1


def test_tubes_span_all_frames():
    t, h, w = 4, 8, 8
    for sampler in tube_mask_short_long((t, h, w)):
        _check(sampler(4, torch.Generator().manual_seed(1)), t * h * w, 4)
        # batch of one: nothing is trimmed to equalise counts, so tube structure is exact
        masks = sampler(1, torch.Generator().manual_seed(1))
        for tgt in masks.target:
            cells = torch.zeros(t, h * w, dtype=torch.int)
            cells.view(-1)[tgt] = 1
            # a tube covers a spatial cell in every frame, so per-cell counts are 0 or t
            counts = cells.sum(0)
            assert set(counts.unique().tolist()) <= {0, t}


def test_apply_mask_gathers_rows():
    x = torch.arange(2 * 5 * 3).float().reshape(2, 5, 3)
    idx = torch.tensor([[0, 4], [1, 2]])
    out = apply_mask(x, idx)
    assert torch.equal(out[0, 1], x[0, 4]) and torch.equal(out[1, 0], x[1, 1])


def test_mask_mixture_is_deterministic_uses_every_sampler_and_checks_grids():
    from jepa_core.masking import MaskMixture

    small = MultiBlockMask((4, 6, 6), n_targets=2, target_scale=(0.1, 0.1))
    large = MultiBlockMask((4, 6, 6), n_targets=2, target_scale=(0.6, 0.6))
    mix = MaskMixture([small, large], weights=[1.0, 1.0])
    a = mix(3, torch.Generator().manual_seed(5))
    b = mix(3, torch.Generator().manual_seed(5))
    assert torch.equal(a.context, b.context) and torch.equal(a.target, b.target)
    sizes = {mix(2, torch.Generator().manual_seed(s)).target.shape[1] for s in range(30)}
    assert min(sizes) < 40 < max(sizes)  # both generators were drawn
    only_large = MaskMixture([small, large], weights=[0.0, 1.0])
    assert all(only_large(2, torch.Generator().manual_seed(s)).target.shape[1] > 40 for s in range(10))
    with pytest.raises(ValueError, match="disagree on the grid"):
        MaskMixture([small, MultiBlockMask((4, 6, 5))])
    with pytest.raises(ValueError, match="weight"):
        MaskMixture([small], weights=[-1.0])
