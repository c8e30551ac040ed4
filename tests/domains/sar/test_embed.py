import pytest
import torch

from domains.sar.embed import chip_embeddings, pool_tokens, pooled_dim


def test_grid2_is_the_mean_of_each_quadrant():
    tokens = torch.randn(3, 8 * 8, 5)
    got = pool_tokens(tokens, (8, 8), "grid2")
    g = tokens.reshape(3, 8, 8, 5)
    want = torch.cat([g[:, :4, :4].mean((1, 2)), g[:, :4, 4:].mean((1, 2)), g[:, 4:, :4].mean((1, 2)),
                      g[:, 4:, 4:].mean((1, 2))], dim=1)  # fmt: skip
    torch.testing.assert_close(got, want)


def test_grid4_cells_are_2x2_token_means_in_row_major_order():
    tokens = torch.randn(2, 8 * 8, 3)
    got = pool_tokens(tokens, (8, 8), "grid4").reshape(2, 4, 4, 3)
    g = tokens.reshape(2, 8, 8, 3)
    for i in range(4):
        for j in range(4):
            torch.testing.assert_close(got[:, i, j], g[:, 2 * i : 2 * i + 2, 2 * j : 2 * j + 2].mean((1, 2)))


def test_grid2_on_an_odd_grid_and_unknown_pool():
    tokens = torch.randn(2, 11 * 11, 4)  # an 88 px chip with 8 px patches
    assert pool_tokens(tokens, (11, 11), "grid2").shape == (2, 16)
    assert pool_tokens(tokens, (11, 11), "grid4").shape == (2, pooled_dim(4, "grid4")) == (2, 64)
    assert pool_tokens(tokens, (11, 11), "mean").shape == (2, 4)
    with pytest.raises(ValueError, match="unknown pool"):
        pool_tokens(tokens, (11, 11), "max")


class _Tokens(torch.nn.Module):
    """A stand-in encoder: one token per 8 x 8 patch, the patch mean repeated over 2 dims."""

    embed_dim = 2

    def grid_for(self, shape):
        return (shape[1] // 8, shape[2] // 8)

    def forward(self, x):
        p = torch.nn.functional.avg_pool2d(x, 8).flatten(1)  # (B, N)
        return torch.stack([p, -p], dim=-1)


def test_several_pools_from_one_pass_match_single_pools():
    x = torch.randn(5, 1, 32, 32)
    mean, grid4 = chip_embeddings(_Tokens(), x, pool=("mean", "grid4"), batch_size=2)
    assert mean.shape == (5, 2) and grid4.shape == (5, 32)
    torch.testing.assert_close(torch.from_numpy(mean), torch.from_numpy(chip_embeddings(_Tokens(), x)))
    torch.testing.assert_close(torch.from_numpy(grid4), torch.from_numpy(chip_embeddings(_Tokens(), x, pool="grid4")))
    with pytest.raises(ValueError, match="unknown pool"):
        chip_embeddings(_Tokens(), x, pool=("mean", "grid3"))
