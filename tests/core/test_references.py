"""Novelty: how far an embedding may lie from the labelled references and still look like one of them."""

from __future__ import annotations

import numpy as np
import pytest

from jepa_core.eval.references import Novelty


def test_threshold_is_the_quantile_of_leave_one_out_neighbour_distances():
    emb = np.array([[0.0, 0.0], [1.0, 0.0], [3.0, 0.0], [3.0, 4.0]], dtype=np.float32)
    nearest = [1.0, 1.0, 2.0, 4.0]  # each point's nearest other point
    novelty = Novelty.fit(emb, quantile=0.5)
    assert novelty.threshold == pytest.approx(np.quantile(nearest, 0.5))
    np.testing.assert_allclose(novelty.nearest(emb), 0.0, atol=1e-3)  # a reference is its own neighbour here
    np.testing.assert_allclose(novelty.nearest(np.array([[0.0, 2.0], [10.0, 0.0]])), [2.0, 7.0], rtol=1e-5)
    assert novelty.is_novel(np.array([[0.5, 0.5], [10.0, 0.0]])).tolist() == [False, True]


def test_clustered_references_flag_far_points_only():
    rng = np.random.default_rng(0)
    emb = np.concatenate([rng.normal(c, 0.3, (200, 8)) for c in (-2.0, 2.0)]).astype(np.float32)
    novelty = Novelty.fit(emb, quantile=0.99)
    inside = np.concatenate([rng.normal(c, 0.3, (100, 8)) for c in (-2.0, 2.0)])
    assert novelty.is_novel(inside).mean() < 0.05
    assert novelty.is_novel(rng.normal(0.0, 0.3, (50, 8)) + np.array([0.0] * 7 + [6.0])).all()
    sub = Novelty.fit(emb, quantile=0.99, max_queries=100)  # queries subsampled, all references kept
    assert len(sub.emb) == len(emb) and sub.threshold == pytest.approx(novelty.threshold, rel=0.25)


def test_needs_two_references():
    with pytest.raises(ValueError, match="at least 2"):
        Novelty.fit(np.zeros((1, 4)))
