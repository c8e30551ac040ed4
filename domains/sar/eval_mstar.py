"""MSTAR SOC evaluation: full-label linear probe and k-shot probes for each method.

Every method is scored on the full 15 deg test set. Probe methods (``jepa``, ``jepa_ema``,
``random_init``, ``handcrafted``, ``handcrafted_hog``) fit a class-balanced logistic regression on frozen features;
``supervised`` trains a small CNN from scratch on the same chips (all, or the same k shots).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import torch

from domains.sar.baselines import centre_crop, handcrafted_features, predict_cnn, thumbnail_features, train_cnn
from domains.sar.dataset import load_chip
from domains.sar.embed import chip_embeddings
from domains.sar.tasks import Split
from jepa_core.eval.metrics import classification_metrics, summarise_seeds
from jepa_core.eval.probes import kshot_indices, linear_probe, resolve_c
from jepa_core.pretrained import Pretrained
from jepa_core.progress import progress

KS = (1, 5, 10, 20)
MARGIN = 4  # training chips keep this many extra px per side for the CNN's random crops


@dataclass
class Chips:
    x: torch.Tensor  # (N, 1, H, W) model input
    labels: np.ndarray  # (N,)
    ids: list[str]


def load_chips(split: Split, data, *, margin: int = 0, desc: str = "chips") -> Chips:
    x = [load_chip(p, data, margin=margin).x for p in progress(split.paths, desc=desc, leave=False)]
    return Chips(torch.from_numpy(np.stack(x)), split.labels, split.ids)


def _score(y_true: np.ndarray, proba: np.ndarray, classes: list[str]) -> dict:
    pred = np.asarray(classes)[proba.argmax(1)]
    return classification_metrics(y_true, pred, classes)


def probe_method(
    train_x: np.ndarray,
    test_x: np.ndarray,
    y_train: np.ndarray,
    y_test: np.ndarray,
    classes: list[str],
    seeds,
    *,
    probe_c: float | str = "cv",
) -> dict:
    """Full-label probe metrics plus ``kshot[str(k)]`` = mean/std/n/values of test accuracy over seeds.

    ``probe_c="cv"``: the full-label probe's C is chosen by 5-fold cross-validation on the training
    chips (``resolve_c``); k-shot probes keep C = 1 (one chip per class leaves nothing to validate on).
    """
    c, cv_scores = resolve_c(train_x, y_train, probe_c)
    full = linear_probe(train_x, y_train, test_x, c=c)
    out = classification_metrics(y_test, full.pred, classes)
    out["probe_c"], out["probe_c_cv"] = c, cv_scores
    out["kshot"] = {}
    for k in KS:
        accs = []
        for seed in seeds:
            idx = kshot_indices(y_train, k, seed)
            accs.append(float((linear_probe(train_x[idx], y_train[idx], test_x, seed=seed).pred == y_test).mean()))
        out["kshot"][str(k)] = summarise_seeds(accs)
    return out


def supervised_method(train: Chips, test: Chips, classes: list[str], seeds, *, size: int, log=print) -> dict:
    """Small CNN from scratch: all labels (first seed) and the k-shot subsets of every seed."""
    cnn, head = train_cnn(train.x, train.labels, classes, size=size, seed=seeds[0])
    out = _score(test.labels, predict_cnn(cnn, head, test.x), classes)
    out["kshot"] = {}
    for k in KS:
        accs = []
        for seed in seeds:
            idx = kshot_indices(train.labels, k, seed)
            cnn, head = train_cnn(train.x[idx], train.labels[idx], classes, size=size, seed=seed)
            accs.append(float(_score(test.labels, predict_cnn(cnn, head, test.x), classes)["accuracy"]))
        out["kshot"][str(k)] = summarise_seeds(accs)
        log(f"supervised {k}-shot: {out['kshot'][str(k)]['mean']:.3f}")
    return out


def run_mstar(
    features: dict[str, Callable[[torch.Tensor], np.ndarray]],
    train: Chips,
    test: Chips,
    *,
    size: int,
    seeds: Sequence[int],
    supervised: bool = True,
    probe_c: float | str = "cv",
    log: Callable[[str], None] = print,
) -> dict:
    """``features``: method name -> function from model-sized chips (N, 1, size, size) to (N, F) features."""
    classes = sorted(set(train.labels) | set(test.labels))
    train_in = centre_crop(train.x, size)
    results = {}
    for name, fn in features.items():
        results[name] = probe_method(
            fn(train_in), fn(test.x), train.labels, test.labels, classes, seeds, probe_c=probe_c
        )
        r = results[name]
        log(f"{name}: accuracy {r['accuracy']:.3f} (C={r['probe_c']:g}), 10-shot {r['kshot']['10']['mean']:.3f}")
    if supervised:
        results["supervised"] = supervised_method(train, test, classes, list(seeds), size=size, log=log)
        log(f"supervised: accuracy {results['supervised']['accuracy']:.3f}")
    return results


def encoder_features(pre: Pretrained, pool: str) -> Callable[[torch.Tensor], np.ndarray]:
    return lambda x: chip_embeddings(pre.encoder, x, pool=pool)


def handcrafted(db_scale: float, kind: str = "thumbnail") -> Callable[[torch.Tensor], np.ndarray]:
    """``thumbnail``: smoothed, 4 x 4-pooled dB image; ``hog``: HOG + radial power spectrum."""
    fn = {"thumbnail": thumbnail_features, "hog": handcrafted_features}[kind]
    return lambda x: fn(x[:, 0].numpy() * db_scale)
