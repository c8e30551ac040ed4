"""The two ECG downstream tasks, each compared on one record-wise split:
JEPA frozen probe, random-init probe, hand-crafted features, supervised from scratch."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from tqdm.auto import tqdm

from jepa_core.eval.metrics import challenge_f1, classification_metrics, summarise_seeds
from jepa_core.eval.probes import linear_probe
from jepa_core.pretrained import Pretrained, random_encoder

from domains.ecg import baselines, supervised
from domains.ecg.config import window_samples
from domains.ecg.embed import beat_embeddings, beat_positions, cut_padded, window_embeddings
from domains.ecg.io import read_record, to_lead_slots
from domains.ecg.tasks import AAMI_CLASSES, CINC_CLASSES, load_beats, load_cinc_labels


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
    for path in tqdm(paths, desc=desc, leave=False):
        rec = read_record(path, fs=d.fs, bandpass=tuple(d.bandpass))
        item = LoadedRecord(rec.record_id, rec.signal, to_lead_slots(rec, list(d.leads)))
        if with_beats:
            beats = load_beats(path, fs=d.fs)
            inside = beats.samples < rec.signal.shape[1]
            item.beats, item.labels = beats.samples[inside], beats.labels[inside]
        out.append(item)
    return out


def summarise(per_seed: list[dict], headline: str) -> dict:
    """Mean over seeds/folds for the headline and per-class scores; spread kept alongside."""
    first = per_seed[0]
    out = {headline: float(np.mean([m[headline] for m in per_seed])), f"{headline}_spread": summarise_seeds([m[headline] for m in per_seed])}
    for key in ("macro_f1", "balanced_accuracy", "accuracy", "auroc", "challenge_f1"):
        vals = [m[key] for m in per_seed if m.get(key) is not None]
        if vals and key not in out:
            out[key] = float(np.mean(vals))
    for stat in ("sensitivity", "ppv", "f1"):
        out[stat] = {c: float(np.mean([m["per_class"][c][stat] or 0.0 for m in per_seed])) for c in first["classes"]}
    out["confusion"] = np.sum([m["confusion"] for m in per_seed], axis=0).tolist()
    out["classes"], out["n_runs"] = first["classes"], len(per_seed)
    return out


# ---------------------------------------------------------------- MIT-BIH beats (AAMI N/S/V/F)


def _beat_matrix(encoder, recs: list[LoadedRecord], window: int, patch: int) -> np.ndarray:
    return np.concatenate([beat_embeddings(encoder, r.slots, r.beats, window=window, patch=patch) for r in recs])


def _probe_beats(encoder, train, test, window, patch) -> dict:
    y_tr, y_te = np.concatenate([r.labels for r in train]), np.concatenate([r.labels for r in test])
    res = linear_probe(_beat_matrix(encoder, train, window, patch), y_tr, _beat_matrix(encoder, test, window, patch))
    proba = _reorder(res.proba, res.classes, AAMI_CLASSES)
    return classification_metrics(y_te, res.pred, AAMI_CLASSES, proba)


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


def run_mitdb(pre: Pretrained, train_paths, test_paths, *, seeds: Sequence[int], sup_epochs: int,
              methods: Sequence[str], log: Callable[[str], None] = print) -> dict:
    d = pre.cfg.data
    window, patch = window_samples(d), d.patch
    train = load_records(train_paths, pre, with_beats=True, desc="train records")
    test = load_records(test_paths, pre, with_beats=True, desc="test records")
    y_tr, y_te = np.concatenate([r.labels for r in train]), np.concatenate([r.labels for r in test])
    log(f"beats: train {dict(zip(*np.unique(y_tr, return_counts=True)))}  test {dict(zip(*np.unique(y_te, return_counts=True)))}")
    results = {}
    if "jepa" in methods:
        results["jepa"] = summarise([_probe_beats(pre.encoder, train, test, window, patch)], "macro_f1")
    if "random_init" in methods:
        results["random_init"] = summarise([_probe_beats(random_encoder(pre, s), train, test, window, patch) for s in seeds], "macro_f1")
    if "handcrafted" in methods:
        x_tr = np.concatenate([baselines.beat_features(r.signal, r.beats, d.fs) for r in train])
        x_te = np.concatenate([baselines.beat_features(r.signal, r.beats, d.fs) for r in test])
        res = linear_probe(x_tr, y_tr, x_te)
        results["handcrafted"] = summarise([classification_metrics(y_te, res.pred, AAMI_CLASSES, _reorder(res.proba, res.classes, AAMI_CLASSES))], "macro_f1")
    if "supervised" in methods:
        w_tr, bw_tr, bt_tr = _windows_and_beats(train, window, patch)
        w_te, bw_te, bt_te = _windows_and_beats(test, window, patch)
        runs = []
        for s in seeds:
            enc = random_encoder(pre, s)
            head = supervised.train_beat_classifier(enc, w_tr, bw_tr, bt_tr, y_tr, list(AAMI_CLASSES), epochs=sup_epochs, seed=s)
            proba = supervised.predict_beats(enc, head, w_te, bw_te, bt_te)
            runs.append(classification_metrics(y_te, np.asarray(AAMI_CLASSES)[proba.argmax(1)], AAMI_CLASSES, proba))
        results["supervised"] = summarise(runs, "macro_f1")
    return results


# ---------------------------------------------------------------- CinC 2017 rhythm (N/A/O/~)


def _record_embeddings(encoder, recs, window: int, stride: int) -> np.ndarray:
    return np.stack([window_embeddings(encoder, r.slots, window=window, stride=stride).mean(0) for r in recs])


def _cinc_metrics(y_true, y_pred, proba) -> dict:
    m = classification_metrics(y_true, y_pred, CINC_CLASSES, proba)
    m["challenge_f1"] = challenge_f1(y_true, y_pred)
    return m


def _probe_folds(x: np.ndarray, y: np.ndarray, folds: list[tuple[np.ndarray, np.ndarray]]) -> list[dict]:
    runs = []
    for tr, te in folds:
        res = linear_probe(x[tr], y[tr], x[te])
        runs.append(_cinc_metrics(y[te], res.pred, _reorder(res.proba, res.classes, CINC_CLASSES)))
    return runs


def run_cinc(pre: Pretrained, data_dir: Path, paths, folds, *, seeds: Sequence[int], sup_epochs: int,
             methods: Sequence[str], log: Callable[[str], None] = print) -> dict:
    """``folds``: (train_idx, test_idx) arrays over ``paths``; metrics averaged over folds."""
    d = pre.cfg.data
    window, stride = window_samples(d), window_samples(d) // 2
    labels = load_cinc_labels(data_dir)
    recs = load_records(paths, pre, with_beats=False, desc="CinC records")
    y = np.array([labels[r.record_id] for r in recs])
    log(f"records: {dict(zip(*np.unique(y, return_counts=True)))}; {len(folds)} record-wise folds")
    results = {}
    if "jepa" in methods:
        results["jepa"] = summarise(_probe_folds(_record_embeddings(pre.encoder, recs, window, stride), y, folds), "challenge_f1")
    if "random_init" in methods:
        runs = [m for s in seeds for m in _probe_folds(_record_embeddings(random_encoder(pre, s), recs, window, stride), y, folds)]
        results["random_init"] = summarise(runs, "challenge_f1")
    if "handcrafted" in methods:
        x = np.stack([baselines.rhythm_features(r.signal[0], d.fs) for r in tqdm(recs, desc="rhythm features", leave=False)])
        results["handcrafted"] = summarise(_probe_folds(x, y, folds), "challenge_f1")
    if "supervised" in methods:
        results["supervised"] = summarise(_supervised_cinc(pre, recs, y, folds, window, stride, sup_epochs), "challenge_f1")
    return results


def _supervised_cinc(pre, recs, y, folds, window, stride, epochs) -> list[dict]:
    per_rec = [torch.from_numpy(_unfold(r.slots, window, stride)) for r in recs]
    runs = []
    for k, (tr, te) in enumerate(folds):
        w_tr = torch.cat([per_rec[i] for i in tr])
        y_tr = np.concatenate([[y[i]] * len(per_rec[i]) for i in tr])
        enc = random_encoder(pre, k)
        head = supervised.train_window_classifier(enc, w_tr, y_tr, list(CINC_CLASSES), epochs=epochs, seed=k)
        proba = np.stack([supervised.predict_windows(enc, head, per_rec[i]).mean(0) for i in te])
        runs.append(_cinc_metrics(y[te], np.asarray(CINC_CLASSES)[proba.argmax(1)], proba))
    return runs


def _unfold(slots: np.ndarray, window: int, stride: int) -> np.ndarray:
    if slots.shape[1] < window:
        slots = np.pad(slots, ((0, 0), (0, window - slots.shape[1])))
    starts = range(0, slots.shape[1] - window + 1, stride)
    return np.stack([slots[:, s : s + window] for s in starts]).astype(np.float32)
