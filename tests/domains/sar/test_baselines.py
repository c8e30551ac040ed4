"""Hand-crafted features and the small CNN baseline: shapes and sanity on tiny inputs."""

import numpy as np
import torch

from domains.sar.baselines import (
    handcrafted_features,
    hog_features,
    predict_cnn,
    radial_spectrum,
    thumbnail_features,
    train_cnn,
)


def test_hog_sees_edge_orientation():
    vertical = np.zeros((1, 64, 64), np.float32)
    vertical[:, :, 32:] = 10.0
    hog_v, hog_h = hog_features(vertical), hog_features(vertical.transpose(0, 2, 1).copy())
    assert hog_v.shape == (1, 7 * 7 * 36) and not np.allclose(hog_v, hog_h)


def test_radial_spectrum_is_rotation_invariant_for_a_90_degree_turn():
    x = np.random.default_rng(0).normal(size=(2, 64, 64)).astype(np.float32)
    np.testing.assert_allclose(radial_spectrum(x), radial_spectrum(np.rot90(x, axes=(1, 2)).copy()), rtol=1e-4)
    assert np.isfinite(handcrafted_features(np.zeros((1, 64, 64), np.float32))).all()


def test_thumbnail_keeps_where_the_energy_is():
    db = np.full((2, 64, 64), -5.0, np.float32)
    db[1, 8:12, 40:44] = 20.0  # a bright scatterer inside cell (row 2, col 10) of the 16 x 16 grid
    f = thumbnail_features(db)
    assert f.shape == (2, 256)
    np.testing.assert_allclose(f[0], -5.0, atol=1e-5)  # a constant chip stays constant
    grid = f[1].reshape(16, 16)
    assert np.unravel_index(grid.argmax(), grid.shape) == (2, 10)
    assert thumbnail_features(np.zeros((1, 66, 66), np.float32)).shape == (1, 17 * 17)  # ragged edge blocks


def test_cnn_trains_and_predicts_probabilities():
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(20, 1, 40, 40, generator=gen)
    x[10:, :, 10:30, 10:30] += 3.0  # class "b": a bright square
    labels = np.array(["a"] * 10 + ["b"] * 10)
    cnn, head = train_cnn(x, labels, ["a", "b"], size=32, min_steps=60, batch_size=10, seed=0)
    proba = predict_cnn(cnn, head, x[:, :, 4:36, 4:36])
    assert proba.shape == (20, 2) and np.allclose(proba.sum(1), 1.0, atol=1e-5)
    assert (np.array(["a", "b"])[proba.argmax(1)] == labels).mean() >= 0.9
