import argparse
import json

import numpy as np
import pytest
from sklearn.metrics import balanced_accuracy_score

import jepa_core.eval.probes as probes
from jepa_core.eval.probes import (
    C_GRID,
    C_LADDER,
    SavedLinearProbe,
    cv_subsample,
    knn_probe,
    kshot_indices,
    linear_probe,
    macro_f1_present,
    probe_c_arg,
    resolve_c,
    select_c,
    standardise_per_group,
)
from jepa_core.eval.references import fit_probe


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


def test_select_c_prefers_strong_regularisation_when_features_are_mostly_noise():
    rng = np.random.default_rng(0)
    y = np.repeat(["a", "b"], 40)
    x = rng.normal(size=(80, 400))
    x[:, 0] += np.where(y == "a", 1.5, -1.5)  # one informative feature among 400
    best, scores = select_c(x, y)
    assert {str(c) for c in C_GRID} < set(scores) <= {str(c) for c in C_LADDER}  # walked below the grid
    assert best <= min(C_GRID) and scores[str(best)] > scores[str(max(C_GRID))]
    tried = sorted(map(float, scores))
    assert best > tried[0] or best == min(C_LADDER)  # the walk stopped where a smaller C got worse


@pytest.mark.parametrize(
    ("best_c", "expect_c", "extra"),
    [
        (30.0, 30.0, {10.0, 30.0, 100.0}),  # 3 -> 10 -> 30 are better, 100 is worse: stop
        (0.1, 0.1, set()),  # the optimum inside the grid: no extra fits
        (1e-7, 1e-5, {3e-4, 1e-4, 3e-5, 1e-5}),  # beyond the ladder: its end
    ],
)
def test_select_c_walks_the_ladder_while_the_grid_edge_is_best(monkeypatch, best_c, expect_c, extra):
    # A stand-in probe whose held-out error grows with |log10(C / best_c)|, scored by a custom function.
    def fake_probe(xa, ya, xb, *, c, seed=0):
        pred = np.full(len(xb), "a", dtype=object)
        pred[: int(round(abs(np.log10(c / best_c)) * 5))] = "wrong"
        return probes.ProbeResult(pred=pred, proba=np.ones((len(xb), 1)), classes=["a"], model=None)

    monkeypatch.setattr(probes, "linear_probe", fake_probe)
    x, y = _blobs(n=200, k=2)
    best, scores = select_c(x, y, score=lambda yt, yp: -float(np.mean(yp == "wrong")))
    assert best == expect_c
    assert set(map(float, scores)) == set(C_GRID) | extra
    assert list(map(float, scores)) == sorted(map(float, scores))  # reported in C order
    assert select_c(x, y, score=lambda yt, yp: -float(np.mean(yp == "wrong")), ladder=None)[1].keys() == {
        str(c) for c in C_GRID
    }


def test_macro_f1_present_averages_over_the_classes_in_the_fold():
    y_true = np.array(["n", "n", "n", "s"])  # no "v" in this held-out fold
    y_pred = np.array(["n", "n", "v", "s"])
    assert macro_f1_present(y_true, y_pred) == pytest.approx((0.8 + 1.0) / 2)
    x, y = _blobs(n=150)
    best, scores = select_c(x, y, score="macro_f1")
    assert best in C_LADDER and scores[str(best)] == max(scores.values())


def test_select_c_with_groups_keeps_each_group_on_one_side():
    # The label is constant within a group and the features only identify the group: stratified folds
    # memorise groups (high score); grouped folds see new groups and fall to chance.
    rng = np.random.default_rng(0)
    groups = np.repeat(np.arange(12), 20)
    y = np.where(groups % 2 == 0, "a", "b")
    x = rng.normal(size=(12, 30))[groups] + 0.1 * rng.normal(size=(240, 30))
    _, leaky = select_c(x, y)
    _, grouped = select_c(x, y, groups=groups)
    assert max(leaky.values()) > 0.95
    assert max(grouped.values()) < 0.8


def test_select_c_with_one_group_falls_back_to_stratified_folds_and_refuses_too_little_data():
    x, y = _blobs(n=30)
    assert select_c(x, y, groups=np.zeros(30)) == select_c(x, y)  # one subject: stratified folds
    with pytest.raises(ValueError, match="cannot cross-validate"):
        select_c(x[:4], np.array(["a", "b", "c", "c"]))


def test_cv_subsample_keeps_rare_classes_and_large_sets_search_on_it(monkeypatch):
    y = np.array(["n"] * 9000 + ["s"] * 900 + ["f"] * 100)
    keep = cv_subsample(y, 2000, seed=1)
    counts = dict(zip(*np.unique(y[keep], return_counts=True), strict=True))
    assert counts == {"f": 100, "n": 1800, "s": 200}  # n in proportion, s lifted to 200, every f kept
    assert np.array_equal(keep, np.unique(keep)) and not np.array_equal(keep, cv_subsample(y, 2000, seed=2))
    seen = []
    real = probes.linear_probe
    monkeypatch.setattr(
        probes, "linear_probe", lambda xa, ya, xb, **kw: seen.append(len(ya) + len(xb)) or real(xa, ya, xb, **kw)
    )
    x, y = _blobs(n=3000, k=2)  # ~1500 per class
    select_c(x, y, cs=(1.0,), max_samples=1000)
    assert len(set(seen)) == 1 and 1000 <= seen[0] <= 1002  # every fold splits the same ~1000-example subsample


def test_probe_c_arg():
    assert probe_c_arg("cv") == "cv" and probe_c_arg("0.1") == 0.1
    for bad in ("0", "-1", "abc", "nan"):
        with pytest.raises(argparse.ArgumentTypeError, match="--probe-c"):
            probe_c_arg(bad)


def test_fit_probe_records_the_c_it_used():
    x, y = _blobs(n=120)
    groups = np.arange(120) % 6  # six "subjects"
    chosen = fit_probe(x, y, {"task": "t"}, c="cv", groups=groups)
    cv = chosen.meta["c_cv_balanced_accuracy"]
    assert chosen.meta["task"] == "t" and {str(c) for c in C_GRID} <= set(cv) <= {str(c) for c in C_LADDER}
    assert chosen.meta["c"] == float(max(cv, key=cv.get))
    fixed = fit_probe(x, y, {"task": "t"}, c=0.5)
    assert fixed.meta["c"] == 0.5 and fixed.meta["c_cv_balanced_accuracy"] is None
    ref = linear_probe(x, y, x, c=0.5)
    np.testing.assert_allclose(fixed.predict_proba(x), ref.proba, atol=1e-9)


def test_resolve_c_given_chosen_or_default_when_too_small():
    x, y = _blobs(n=60)
    assert resolve_c(x, y, 0.5) == (0.5, None)
    assert resolve_c(x, y, "cv") == select_c(x, y)
    assert resolve_c(x[:4], np.array(["a", "b", "c", "c"]), "cv") == (1.0, None)  # one example of a class


def test_standardise_per_group_removes_subject_offsets_a_probe_cannot():
    """Class shifts features by -1 within each subject; subjects add offsets far larger than that.
    Trained on low-offset subjects, a probe calls every high-offset test window one class; z-scored
    per subject (unlabelled), the within-subject shift separates the classes."""
    rng = np.random.default_rng(0)
    subjects = np.repeat(np.arange(6), 40)
    y = np.tile(np.repeat(["rest", "task"], 20), 6)
    offset = np.where(subjects < 4, subjects * 0.5, 6.0 + subjects)[:, None]
    x = offset - (y == "task")[:, None] + 0.2 * rng.standard_normal((len(y), 3))
    tr, te = subjects < 4, subjects >= 4
    raw = linear_probe(x[tr], y[tr], x[te])
    assert balanced_accuracy_score(y[te], raw.pred) == 0.5
    z = standardise_per_group(x, subjects)
    normed = linear_probe(z[tr], y[tr], z[te])
    assert balanced_accuracy_score(y[te], normed.pred) > 0.95
    for s in range(6):
        np.testing.assert_allclose(z[subjects == s].mean(0), 0, atol=1e-9)
        np.testing.assert_allclose(z[subjects == s].std(0), 1, atol=1e-9)
    const = standardise_per_group(np.c_[x[:, :1], np.ones(len(x)), np.full(len(x), np.nan)], subjects)
    assert (const[:, 1] == 0).all() and np.isnan(const[:, 2]).all()


def test_select_c_is_quiet_when_a_held_out_group_lacks_a_class():
    import warnings

    rng = np.random.default_rng(0)
    groups = np.repeat(np.arange(5), 30)
    y = np.where(rng.random(150) < 0.5, "a", "b")
    y[(groups == 4) & (y == "b")] = "a"  # group 4 holds only class a
    x = rng.normal(size=(150, 4)) + (y == "b")[:, None]
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # sklearn's "y_pred contains classes not in y_true" would raise here
        c, scores = select_c(x, y, groups=groups)
    assert c in C_LADDER and len(scores) >= len(C_GRID)
