"""Embedding only the kept patches equals embedding all of them and gathering, values and gradients."""

import pytest
import torch

from jepa_core.layers.tokenizers import PatchEmbed1D, PatchEmbed2D, Tubelet3D, flatten_grid
from jepa_core.masking import apply_mask


@pytest.mark.parametrize(
    ("make", "shape"),
    [
        (lambda: PatchEmbed1D(in_channels=12, embed_dim=16, patch=25), (3, 12, 260)),  # 260: a remainder is dropped
        (lambda: PatchEmbed2D(in_channels=2, embed_dim=16, patch=(8, 4)), (3, 2, 66, 64)),
        (lambda: Tubelet3D(in_channels=1, embed_dim=16, patch=(2, 1, 32)), (3, 1, 16, 19, 32)),
    ],
)
def test_embed_kept_matches_forward_then_gather(make, shape):
    torch.manual_seed(0)
    tok, x = make(), torch.randn(shape)
    full, _ = flatten_grid(tok(x))
    keep = torch.stack([torch.randperm(full.shape[1])[:5] for _ in range(shape[0])])
    want, got = apply_mask(full, keep), tok.embed_kept(x, keep)
    torch.testing.assert_close(got, want, rtol=1e-5, atol=1e-5)
    (g_want,) = torch.autograd.grad(want.square().sum(), tok.proj.weight)
    (g_got,) = torch.autograd.grad(got.square().sum(), tok.proj.weight)
    torch.testing.assert_close(g_got, g_want, rtol=1e-4, atol=1e-4)
