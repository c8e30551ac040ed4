import json

import numpy as np
import pytest

from jepa_core.eval.probes import SavedLinearProbe, knn_probe, kshot_indices, linear_probe


def _blobs(n=400, d=6, k=3, seed=0, shift=3.0):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, k, n)
    x = rng.normal(size=(n, d))
    x[np.arange(n), y] += shift  # class c lives along axis c
    return x, np.array(["abc"[i] for i in y])


@pytest.mark.parametrize("probe", [linear_probe, knn_probe])
def test_probes_separate_blobs_and_fail_on_shuffled_labels(probe):
    x, y = _blobs()
    good = probe(x[:300], y[:300], x[300:])
    assert (good.pred == y[300:]).mean() > 0.9
    assert good.proba.shape == (100, 3) and np.allclose(good.proba.sum(1), 1)
    shuffled = np.random.default_rng(1).permutation(y[:300])
    bad = probe(x[:300], shuffled, x[300:])
    assert (bad.pred == y[300:]).mean() < 0.6


def test_linear_probe_is_class_balanced():
    rng = np.random.default_rng(0)
    x = np.concatenate([rng.normal(0, 1, (950, 2)), rng.normal(1.5, 1, (50, 2))])
    y = np.array(["n"] * 950 + ["r"] * 50)
    res = linear_probe(x, y, x)
    assert (res.pred[950:] == "r").mean() > 0.6  # an unbalanced fit would predict "n" almost always


def test_saved_probe_matches_sklearn_after_json_round_trip():
    x, y = _blobs()
    x[::7, 2] = np.nan  # imputed by the saved median, as in the pipeline
    res = linear_probe(x[:300], y[:300], x[300:])
    saved = SavedLinearProbe.from_dict(json.loads(json.dumps(SavedLinearProbe.from_pipeline(res.model).to_dict())))
    np.testing.assert_allclose(saved.predict_proba(x[300:]), res.proba, atol=1e-10)
    assert saved.classes == ["a", "b", "c"]


def test_kshot_indices():
    y = np.array(list("aaaaabbbc"))
    idx = kshot_indices(y, 2, seed=0)
    assert sorted(y[idx].tolist()) == ["a", "a", "b", "b", "c"]
    assert np.array_equal(idx, kshot_indices(y, 2, seed=0))
