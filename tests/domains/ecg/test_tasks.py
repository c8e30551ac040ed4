"""ECG downstream tasks and hand-crafted baselines, on bundled, shared and synthetic data."""

from __future__ import annotations

import os
import time
from pathlib import Path

import numpy as np
import pytest
import wfdb

from domains.ecg.baselines import (
    BEAT_FEATURE_NAMES,
    RHYTHM_FEATURE_NAMES,
    beat_features,
    rhythm_features,
)
from domains.ecg.io import read_record
from domains.ecg.tasks import (
    AAMI_CLASSES,
    AAMI_MAP,
    CINC_CLASSES,
    DS1,
    DS2,
    cinc_folds,
    default_mitdb_split,
    load_beats,
    load_cinc_labels,
)
from jepa_core.errors import InputError
from jepa_core.eval.probes import linear_probe

SAMPLE_DIR = Path(__file__).resolve().parents[3] / "data" / "samples" / "ecg"
SHARED_DIR = Path(os.environ.get("JEPA_ECG_DATA", "/work/shared/data/ecg"))
FS = 250.0


def _shared(sub: str) -> Path:
    path = SHARED_DIR / sub
    if not path.is_dir():
        pytest.skip(f"shared ECG data not found at {path}")
    return path


def _synthetic_ecg(rr_s: np.ndarray, fs: float = FS, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """A spike train with QRS- and T-like bumps at the given RR intervals; returns (signal, peaks)."""
    peaks = np.round(np.cumsum(np.concatenate([[1.0], rr_s])) * fs).astype(np.int64)
    t = np.arange(peaks[-1] + int(fs)) / fs
    x = np.random.default_rng(seed).normal(0.0, 0.02, len(t))
    for p in peaks / fs:
        x += np.exp(-0.5 * ((t - p) / 0.01) ** 2) + 0.3 * np.exp(-0.5 * ((t - p - 0.25) / 0.04) ** 2)
    return x[None, :], peaks  # (1, T)


def test_aami_map_covers_the_documented_symbols():
    expected = {"N": "NLRej", "S": "AaJS", "V": "VE", "F": "F", "Q": "/fQ"}
    assert AAMI_MAP == {s: c for c, syms in expected.items() for s in syms}
    assert "Q" not in AAMI_CLASSES
    assert not set(DS1) & set(DS2) and len(DS1) == len(DS2) == 22
    assert not {"102", "104", "107", "217"} & (set(DS1) | set(DS2))


def test_load_beats_208_matches_direct_wfdb_count():
    beats = load_beats(SAMPLE_DIR / "208", fs=FS)
    ann = wfdb.rdann(str(SAMPLE_DIR / "208"), "atr")
    mapped = np.array([AAMI_MAP.get(s, "") for s in ann.symbol])
    keep = np.isin(mapped, AAMI_CLASSES)
    assert beats.record_id == "208"
    for c in AAMI_CLASSES:
        assert (beats.labels == c).sum() == (mapped == c).sum(), c
    assert {"N", "V", "F"} <= set(beats.labels)  # 208 has many PVCs and fusion beats
    assert beats.samples.dtype == np.int64 and len(beats.samples) == len(beats.labels)
    np.testing.assert_allclose(beats.samples, ann.sample[keep] * FS / 360.0, atol=0.5)


def test_load_beats_can_keep_q():
    n4 = len(load_beats(SAMPLE_DIR / "208").labels)
    with_q = load_beats(SAMPLE_DIR / "208", classes=(*AAMI_CLASSES, "Q"))
    assert len(with_q.labels) == n4 + (with_q.labels == "Q").sum()


def test_default_mitdb_split_on_shared_and_samples():
    train, test = default_mitdb_split(_shared("mitdb"))
    assert train == "101 106 118 119 124 201 207 208 209 223".split()
    assert test == "100 200 202 210 213 221 222 228 232 233".split()
    assert default_mitdb_split(SAMPLE_DIR) == (["208"], ["232"])


def test_default_mitdb_split_rejects_bad_dirs(tmp_path):
    with pytest.raises(InputError):
        default_mitdb_split(tmp_path / "missing")
    with pytest.raises(InputError, match="DS1/DS2"):
        default_mitdb_split(tmp_path)


def test_load_cinc_labels_on_samples():
    labels = load_cinc_labels(SAMPLE_DIR)
    assert len(labels) == 12 and set(labels.values()) == set(CINC_CLASSES)
    assert labels["A00002"] == "N"
    assert all((SAMPLE_DIR / f"{r}.hea").is_file() for r in labels)


@pytest.mark.parametrize(
    "text, problem",
    [("", "no labelled"), ("A1,N\nA2\n", "expected"), ("A1,X\n", "not one of"), ("A1,N\nA1,A\n", "twice")],
)
def test_load_cinc_labels_rejects_malformed(tmp_path, text, problem):
    (tmp_path / "REFERENCE.csv").write_text(text)
    with pytest.raises(InputError, match=problem):
        load_cinc_labels(tmp_path)
    with pytest.raises(InputError, match="not found"):
        load_cinc_labels(tmp_path, reference="nope.csv")


def test_cinc_folds_partition_and_stratify():
    labels = load_cinc_labels(_shared("cinc2017"))
    ids = sorted(labels)
    folds = cinc_folds(ids, labels, n_folds=5, seed=0)
    assert len(folds) == 5
    tests = [r for _, test in folds for r in test]
    assert sorted(tests) == ids  # every record in exactly one test fold
    for train, test in folds:
        assert not set(train) & set(test) and len(train) + len(test) == len(ids)
        for c in CINC_CLASSES:
            share = sum(labels[r] == c for r in test) / len(test)
            overall = sum(v == c for v in labels.values()) / len(ids)
            assert abs(share - overall) < 0.01, c
    assert cinc_folds(ids, [labels[r] for r in ids], seed=0) == folds
    assert cinc_folds(ids, labels, seed=1) != folds


def test_beat_features_regular_train_rr():
    beats = np.arange(100, 100 + 200 * 30, 200)  # every 200 samples at 250 Hz = 0.8 s
    x, _ = _synthetic_ecg(np.full(len(beats) - 1, 0.8))
    f = beat_features(x, beats, FS)
    assert f.shape == (len(beats), len(BEAT_FEATURE_NAMES)) and np.isfinite(f).all()
    col = {n: f[:, i] for i, n in enumerate(BEAT_FEATURE_NAMES)}
    for name in ("pre_rr", "post_rr", "local_rr", "record_rr"):
        np.testing.assert_allclose(col[name], 0.8)
    for name in ("pre_over_local", "pre_over_record", "post_over_pre"):
        np.testing.assert_allclose(col[name], 1.0)


def test_beat_features_premature_beat_and_edges():
    beats = np.array([5, 205, 405, 525, 805, 1005])  # a premature 4th beat; the 1st sits at the edge
    f = beat_features(np.random.default_rng(0).normal(size=(2, 1010)), beats, FS)
    assert np.isfinite(f).all()
    pre, post = f[:, BEAT_FEATURE_NAMES.index("pre_rr")], f[:, BEAT_FEATURE_NAMES.index("post_rr")]
    np.testing.assert_allclose(pre, [0.8, 0.8, 0.8, 0.48, 1.12, 0.8])
    assert post[3] / pre[3] > 2 and f[3, BEAT_FEATURE_NAMES.index("pre_over_local")] < 0.7
    assert np.isnan(beat_features(np.zeros((1, 500)), np.array([250]), FS)[:, :7]).all()


def test_beat_features_on_208_fast_and_finite():
    rec = read_record(SAMPLE_DIR / "208", fs=FS)
    beats = load_beats(SAMPLE_DIR / "208", fs=FS)
    assert rec.leads[0] == "II"
    elapsed = []
    for _ in range(3):  # best of three: the budget is for the code, not a busy machine
        t0 = time.perf_counter()
        f = beat_features(rec.signal, beats.samples, rec.fs)
        elapsed.append(time.perf_counter() - t0)
    assert f.shape == (len(beats.samples), len(BEAT_FEATURE_NAMES)) and np.isfinite(f).all()
    assert min(elapsed) < 0.5


def _rr_cv(x: np.ndarray, name: str = "rr_cv") -> float:
    f = rhythm_features(x, FS)
    assert f.shape == (len(RHYTHM_FEATURE_NAMES),)
    return float(f[RHYTHM_FEATURE_NAMES.index(name)])


def test_rhythm_features_regular_vs_irregular_synthetic():
    regular, _ = _synthetic_ecg(np.full(40, 0.8))
    irregular, _ = _synthetic_ecg(np.random.default_rng(1).uniform(0.45, 1.15, 40))
    f = rhythm_features(regular, FS)
    assert np.isfinite(f).all()
    assert f[RHYTHM_FEATURE_NAMES.index("hr_mean")] == pytest.approx(75.0, abs=1.0)
    assert _rr_cv(regular) < 0.02
    assert _rr_cv(irregular) > 0.15


def test_rhythm_features_without_peaks_gives_nan_rr():
    f = rhythm_features(np.zeros((1, int(10 * FS))), FS)
    rr_part = f[1 : RHYTHM_FEATURE_NAMES.index("sig_std")]
    assert np.isnan(rr_part).all() and f[0] == 0.0


def _cv_by_class(data_dir: Path, ids: list[str], labels: dict[str, str], name: str) -> dict[str, float]:
    values: dict[str, list[float]] = {"A": [], "N": []}
    for r in ids:
        values[labels[r]].append(_rr_cv(read_record(data_dir / r, fs=FS).signal, name))
    return {c: float(np.nanmean(v)) for c, v in values.items()}


def test_rhythm_features_af_more_irregular_on_samples():
    labels = load_cinc_labels(SAMPLE_DIR)
    ids = sorted(r for r, c in labels.items() if c in "AN")
    # The MAD-based CV: two of the three bundled N records have short artefacts that fool
    # the detector, which inflates the plain CV but not the robust one.
    cv = _cv_by_class(SAMPLE_DIR, ids, labels, "rr_robust_cv")
    assert cv["A"] > 2 * cv["N"]


def test_rhythm_features_af_higher_rr_cv_on_shared():
    data_dir = _shared("cinc2017")
    labels = load_cinc_labels(data_dir)
    ids = [r for c in "AN" for r in sorted(r for r, v in labels.items() if v == c)[:20]]
    cv = _cv_by_class(data_dir, ids, labels, "rr_cv")
    assert cv["A"] > 1.5 * cv["N"]


def test_linear_probe_on_features_with_nan_and_inf():
    rng = np.random.default_rng(0)
    y = np.repeat(np.array(["a", "b", "c"]), 40)
    X = rng.normal(size=(120, 4)) + 4.0 * (y[:, None] == np.array(["a", "b", "c", "a"]))
    X[::7, 1] = np.nan
    X[::11, 2] = np.inf
    res = linear_probe(X[::2], y[::2], X[1::2], seed=0)
    pred, proba, classes = res.pred, res.proba, res.classes
    assert classes == ["a", "b", "c"] and proba.shape == (60, 3)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    assert np.mean(pred == y[1::2]) > 0.9
    assert (pred == np.asarray(classes)[proba.argmax(axis=1)]).all()
