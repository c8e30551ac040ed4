"""Property-based checks of the mask samplers over random grids and ratios."""

import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from jepa_core.masking import BlockMask1D, MultiBlockMask


def _valid(masks, n_tokens, batch):
    assert masks.context.shape[0] == masks.target.shape[0] == batch
    assert masks.context.shape[1] >= 1 and masks.target.shape[1] >= 1
    assert int(masks.context.min()) >= 0 and int(masks.context.max()) < n_tokens
    assert int(masks.target.min()) >= 0 and int(masks.target.max()) < n_tokens
    for ctx, tgt in zip(masks.context.tolist(), masks.target.tolist(), strict=True):
        assert not set(ctx) & set(tgt)
        assert ctx == sorted(set(ctx)) and tgt == sorted(set(tgt))


@settings(max_examples=60, deadline=None)
@given(
    n=st.integers(2, 400),
    low=st.floats(0.01, 0.9),
    width=st.floats(0.0, 0.09),
    min_block=st.integers(1, 30),
    batch=st.integers(1, 6),
    seed=st.integers(0, 2**31 - 1),
)
def test_block1d_always_valid(n, low, width, min_block, batch, seed):
    sampler = BlockMask1D((n,), keep_ratio=(low, low + width), min_block=min_block)
    masks = sampler(batch, torch.Generator().manual_seed(seed))
    _valid(masks, n, batch)
    assert masks.context.shape[1] + masks.target.shape[1] == n


@settings(max_examples=150, deadline=None)
@given(
    grid=st.one_of(
        st.tuples(st.integers(2, 24), st.integers(2, 24)),
        st.tuples(st.integers(1, 6), st.integers(2, 12), st.integers(2, 12)),
    ),
    n_targets=st.integers(1, 8),
    scale=st.floats(0.02, 0.6),
    aspect=st.floats(0.3, 3.0),
    batch=st.integers(1, 5),
    seed=st.integers(0, 2**31 - 1),
)
def test_multiblock_always_valid(grid, n_targets, scale, aspect, batch, seed):
    sampler = MultiBlockMask(
        grid, n_targets=n_targets, target_scale=(scale, scale), target_aspect=(aspect, aspect), min_context=1
    )
    masks = sampler(batch, torch.Generator().manual_seed(seed))
    _valid(masks, int(torch.tensor(grid).prod()), batch)


def test_target_box_never_swallows_a_tiny_grid():
    """Regression: a 60% box on a 2 x 2 grid rounded to the whole grid and left no context."""
    masks = MultiBlockMask((2, 2), target_scale=(0.6, 0.6), target_aspect=(1, 1), min_context=1)(
        3, torch.Generator().manual_seed(0)
    )
    _valid(masks, 4, 3)
