"""The two ECG downstream tasks, each compared on one record-wise split:
JEPA frozen probe, random-init probe, hand-crafted features, supervised from scratch."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from domains.ecg import baselines, supervised
from domains.ecg.config import window_samples
from domains.ecg.embed import beat_embeddings, beat_positions, cut_padded, sliding_windows, window_embeddings
from domains.ecg.io import read_record, to_lead_slots
from domains.ecg.tasks import AAMI_CLASSES, CINC_CLASSES, load_beats, load_cinc_labels
from jepa_core.eval import supervised as window_supervised
from jepa_core.eval.metrics import challenge_f1, classification_metrics, summarise_seeds
from jepa_core.eval.probes import linear_probe, resolve_c
from jepa_core.pretrained import Pretrained, random_encoder
from jepa_core.progress import progress

MITDB_CV_SCORE = "macro_f1"  # the probe's C is chosen by the metric each task reports
CINC_CV_SCORE = "challenge_f1"


@dataclass
class LoadedRecord:
    record_id: str
    signal: np.ndarray  # (L, T) the record's own leads, preprocessed
    slots: np.ndarray  # (n_slots, T) the model's lead slots
    beats: np.ndarray | None = None  # R-peak samples
    labels: np.ndarray | None = None  # per beat (MIT-BIH) or one label (CinC)


def load_records(paths: Sequence[Path], pre: Pretrained, *, with_beats: bool, desc: str) -> list[LoadedRecord]:
    d = pre.cfg.data
    out = []
    for path in progress(paths, desc=desc, leave=False):
        rec = read_record(path, fs=d.fs, bandpass=tuple(d.bandpass))
        item = LoadedRecord(rec.record_id, rec.signal, to_lead_slots(rec, list(d.leads)))
        if with_beats:
            beats = load_beats(path, fs=d.fs)
            inside = beats.samples < rec.signal.shape[1]
            item.beats, item.labels = beats.samples[inside], beats.labels[inside]
        out.append(item)
    return out


def _counts(labels: np.ndarray) -> dict[str, int]:
    values, counts = np.unique(labels, return_counts=True)
    return {str(v): int(c) for v, c in zip(values, counts, strict=True)}


def summarise(per_seed: list[dict], headline: str) -> dict:
    """Mean over seeds/folds for the headline and per-class scores; spread kept alongside."""
    first = per_seed[0]
    out = {
        headline: float(np.mean([m[headline] for m in per_seed])),
        f"{headline}_spread": summarise_seeds([m[headline] for m in per_seed]),
    }
    for key in ("macro_f1", "balanced_accuracy", "accuracy", "auroc", "challenge_f1"):
        vals = [m[key] for m in per_seed if m.get(key) is not None]
        if vals and key not in out:
            out[key] = float(np.mean(vals))
    for stat in ("sensitivity", "ppv", "f1"):
        out[stat] = {c: float(np.mean([m["per_class"][c][stat] or 0.0 for m in per_seed])) for c in first["classes"]}
    if "record_bootstrap_macro_f1" in first:
        out["record_bootstrap_std"] = float(np.mean([m["record_bootstrap_macro_f1"]["std"] for m in per_seed]))
    out["confusion"] = np.sum([m["confusion"] for m in per_seed], axis=0).tolist()
    out["classes"], out["n_runs"] = first["classes"], len(per_seed)
    if "probe_c" in first:
        out["probe_c"] = [m["probe_c"] for m in per_seed]
        out["probe_c_cv"] = [m.get("probe_c_cv") for m in per_seed]  # each run's CV score per C (None: C given)
    return out


# ---------------------------------------------------------------- MIT-BIH beats (AAMI N/S/V/F)


def _beat_matrix(encoder, recs: list[LoadedRecord], window: int, patch: int) -> np.ndarray:
    return np.concatenate([beat_embeddings(encoder, r.slots, r.beats, window=window, patch=patch) for r in recs])


def _rr(recs: list[LoadedRecord], fs: float) -> np.ndarray:
    return np.concatenate([baselines.rr_features(r.beats, fs) for r in recs])


def _beat_scores(x_tr, y_tr, x_te, groups_tr: np.ndarray, test: list[LoadedRecord], probe_c) -> dict:
    """Probe, metrics, and a test-record bootstrap of macro-F1 (records resampled, not beats).
    ``probe_c="cv"``: C by cross-validation over the training records (``groups_tr``: each beat's record),
    scored by macro-F1, the metric this task reports."""
    y_te = np.concatenate([r.labels for r in test])
    c, cv_scores = resolve_c(x_tr, y_tr, probe_c, groups=groups_tr, score=MITDB_CV_SCORE)
    res = linear_probe(x_tr, y_tr, x_te, c=c)
    metrics = classification_metrics(y_te, res.pred, AAMI_CLASSES, _reorder(res.proba, res.classes, AAMI_CLASSES))
    metrics["probe_c"], metrics["probe_c_cv"] = c, cv_scores
    metrics["record_bootstrap_macro_f1"] = record_bootstrap(y_te, res.pred, [len(r.labels) for r in test])
    return metrics


def record_bootstrap(y_true, y_pred, sizes: list[int], n: int = 200, seed: int = 0) -> dict:
    """Spread of macro-F1 when the test records are resampled with replacement."""
    rng = np.random.default_rng(seed)
    bounds = np.cumsum([0, *sizes])
    vals = []
    for _ in range(n):
        pick = rng.integers(0, len(sizes), len(sizes))
        idx = np.concatenate([np.arange(bounds[i], bounds[i + 1]) for i in pick])
        vals.append(classification_metrics(y_true[idx], y_pred[idx], AAMI_CLASSES)["macro_f1"])
    return {"mean": float(np.mean(vals)), "std": float(np.std(vals)), "n": n}


def _reorder(proba: np.ndarray, have: list, want: Sequence[str]) -> np.ndarray:
    out = np.zeros((len(proba), len(want)))
    for j, c in enumerate(have):
        out[:, list(want).index(str(c))] = proba[:, j]
    return out


def _windows_and_beats(recs: list[LoadedRecord], window: int, patch: int):
    windows, wins, toks, offset = [], [], [], 0
    for r in recs:
        w = cut_padded(r.slots, window)
        win_idx, tok_idx = beat_positions(r.beats, window, patch)
        windows.append(w), wins.append(win_idx + offset), toks.append(tok_idx)
        offset += len(w)
    return torch.cat(windows), torch.cat(wins), torch.cat(toks)


def run_mitdb(
    pre: Pretrained,
    train_paths,
    test_paths,
    *,
    seeds: Sequence[int],
    sup_epochs: int,
    methods: Sequence[str],
    probe_c: float | str = "cv",
    log: Callable[[str], None] = print,
) -> dict:
    d = pre.cfg.data
    window, patch = window_samples(d), d.patch
    train = load_records(train_paths, pre, with_beats=True, desc="train records")
    test = load_records(test_paths, pre, with_beats=True, desc="test records")
    y_tr, y_te = np.concatenate([r.labels for r in train]), np.concatenate([r.labels for r in test])
    rec_tr = np.concatenate([[r.record_id] * len(r.labels) for r in train])  # CV groups: beats stay with their record
    log(f"beats: train {_counts(y_tr)}  test {_counts(y_te)}")
    results = {}
    if "jepa" in methods or "jepa_rr" in methods:
        e_tr, e_te = _beat_matrix(pre.encoder, train, window, patch), _beat_matrix(pre.encoder, test, window, patch)
        if "jepa" in methods:
            results["jepa"] = summarise([_beat_scores(e_tr, y_tr, e_te, rec_tr, test, probe_c)], "macro_f1")
        if "jepa_rr" in methods:  # JEPA embedding + the 7 RR-interval features
            x_tr, x_te = np.hstack([e_tr, _rr(train, d.fs)]), np.hstack([e_te, _rr(test, d.fs)])
            results["jepa_rr"] = summarise([_beat_scores(x_tr, y_tr, x_te, rec_tr, test, probe_c)], "macro_f1")
    if "random_init" in methods:
        runs = []
        for s in seeds:
            enc = random_encoder(pre, s)
            runs.append(
                _beat_scores(
                    _beat_matrix(enc, train, window, patch),
                    y_tr,
                    _beat_matrix(enc, test, window, patch),
                    rec_tr,
                    test,
                    probe_c,
                )
            )
        results["random_init"] = summarise(runs, "macro_f1")
    if "handcrafted" in methods:
        x_tr = np.concatenate([baselines.beat_features(r.signal, r.beats, d.fs) for r in train])
        x_te = np.concatenate([baselines.beat_features(r.signal, r.beats, d.fs) for r in test])
        results["handcrafted"] = summarise([_beat_scores(x_tr, y_tr, x_te, rec_tr, test, probe_c)], "macro_f1")
    if "supervised" in methods:
        w_tr, bw_tr, bt_tr = _windows_and_beats(train, window, patch)
        w_te, bw_te, bt_te = _windows_and_beats(test, window, patch)
        runs = []
        for s in seeds:
            enc = random_encoder(pre, s)
            head = supervised.train_beat_classifier(
                enc, w_tr, bw_tr, bt_tr, y_tr, list(AAMI_CLASSES), epochs=sup_epochs, seed=s
            )
            proba = supervised.predict_beats(enc, head, w_te, bw_te, bt_te)
            pred = np.asarray(AAMI_CLASSES)[proba.argmax(1)]
            metrics = classification_metrics(y_te, pred, AAMI_CLASSES, proba)
            metrics["record_bootstrap_macro_f1"] = record_bootstrap(y_te, pred, [len(r.labels) for r in test])
            runs.append(metrics)
        results["supervised"] = summarise(runs, "macro_f1")
    return results


# ---------------------------------------------------------------- CinC 2017 rhythm (N/A/O/~)


def _record_embeddings(encoder, recs, window: int, stride: int) -> np.ndarray:
    return np.stack([window_embeddings(encoder, r.slots, window=window, stride=stride).mean(0) for r in recs])


def _cinc_metrics(y_true, y_pred, proba) -> dict:
    m = classification_metrics(y_true, y_pred, CINC_CLASSES, proba)
    m["challenge_f1"] = challenge_f1(y_true, y_pred)
    return m


def _probe_folds(
    x: np.ndarray, y: np.ndarray, folds: list[tuple[np.ndarray, np.ndarray]], probe_c: float | str
) -> list[dict]:
    runs = []
    for tr, te in folds:
        # one record per row: stratified CV on the fold's training records, scored as the task reports
        c, cv_scores = resolve_c(x[tr], y[tr], probe_c, score=CINC_CV_SCORE)
        res = linear_probe(x[tr], y[tr], x[te], c=c)
        runs.append(
            _cinc_metrics(y[te], res.pred, _reorder(res.proba, res.classes, CINC_CLASSES))
            | {"probe_c": c, "probe_c_cv": cv_scores}
        )
    return runs


def run_cinc(
    pre: Pretrained,
    data_dir: Path,
    paths,
    folds,
    *,
    seeds: Sequence[int],
    sup_epochs: int,
    methods: Sequence[str],
    probe_c: float | str = "cv",
    log: Callable[[str], None] = print,
) -> dict:
    """``folds``: (train_idx, test_idx) arrays over ``paths``; metrics averaged over folds."""
    d = pre.cfg.data
    window, stride = window_samples(d), window_samples(d) // 2
    labels = load_cinc_labels(data_dir)
    recs = load_records(paths, pre, with_beats=False, desc="CinC records")
    y = np.array([labels[r.record_id] for r in recs])
    log(f"records: {_counts(y)}; {len(folds)} record-wise folds")
    results = {}
    if "jepa" in methods:
        results["jepa"] = summarise(
            _probe_folds(_record_embeddings(pre.encoder, recs, window, stride), y, folds, probe_c), "challenge_f1"
        )
    if "random_init" in methods:
        runs = [
            m
            for s in seeds
            for m in _probe_folds(_record_embeddings(random_encoder(pre, s), recs, window, stride), y, folds, probe_c)
        ]
        results["random_init"] = summarise(runs, "challenge_f1")
    if "handcrafted" in methods:
        x = np.stack(
            [baselines.rhythm_features(r.signal[0], d.fs) for r in progress(recs, desc="rhythm features", leave=False)]
        )
        results["handcrafted"] = summarise(_probe_folds(x, y, folds, probe_c), "challenge_f1")
    if "supervised" in methods:
        results["supervised"] = summarise(
            _supervised_cinc(pre, recs, y, folds, window, stride, sup_epochs), "challenge_f1"
        )
    return results


def _supervised_cinc(pre, recs, y, folds, window, stride, epochs) -> list[dict]:
    per_rec = [sliding_windows(r.slots, window=window, stride=stride).contiguous() for r in recs]
    runs = []
    for k, (tr, te) in enumerate(folds):
        w_tr = torch.cat([per_rec[i] for i in tr])
        y_tr = np.concatenate([[y[i]] * len(per_rec[i]) for i in tr])
        enc = random_encoder(pre, k)
        head = window_supervised.train_window_classifier(enc, w_tr, y_tr, list(CINC_CLASSES), epochs=epochs, seed=k)
        proba = np.stack([window_supervised.predict_windows(enc, head, per_rec[i]).mean(0) for i in te])
        runs.append(_cinc_metrics(y[te], np.asarray(CINC_CLASSES)[proba.argmax(1)], proba))
    return runs
