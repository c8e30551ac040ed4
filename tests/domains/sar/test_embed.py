import pytest
import torch

from domains.sar.embed import pool_tokens


def test_grid2_is_the_mean_of_each_quadrant():
    tokens = torch.randn(3, 8 * 8, 5)
    got = pool_tokens(tokens, (8, 8), "grid2")
    g = tokens.reshape(3, 8, 8, 5)
    want = torch.cat([g[:, :4, :4].mean((1, 2)), g[:, :4, 4:].mean((1, 2)), g[:, 4:, :4].mean((1, 2)),
                      g[:, 4:, 4:].mean((1, 2))], dim=1)  # fmt: skip
    torch.testing.assert_close(got, want)


def test_grid2_on_an_odd_grid_and_unknown_pool():
    tokens = torch.randn(2, 11 * 11, 4)  # an 88 px chip with 8 px patches
    assert pool_tokens(tokens, (11, 11), "grid2").shape == (2, 16)
    assert pool_tokens(tokens, (11, 11), "mean").shape == (2, 4)
    with pytest.raises(ValueError, match="unknown pool"):
        pool_tokens(tokens, (11, 11), "max")
