"""Saved probes and labelled reference embeddings next to a model, and 2-D maps of embeddings.

A model directory holds, beside its encoder, what a domain's ``build_app_assets.py`` writes::

    probes/<task>.json       a class-balanced linear probe as plain arrays (no pickle)
    references/<task>.npz    labelled reference embeddings: emb (N, D) float16, label (N,), record (N,)

Apps load them to predict classes and to show where a new embedding falls among labelled ones.
"""

from __future__ import annotations

import io
import json
import threading
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from sklearn.decomposition import PCA
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import StandardScaler

from jepa_core.checkpoint import atomic_write
from jepa_core.errors import InputError
from jepa_core.eval.probes import SavedLinearProbe, linear_probe, resolve_c

MAP_METHODS = ("pca", "umap")
Dataset = tuple[np.ndarray, np.ndarray, np.ndarray]  # emb (N, D), label (N,), record (N,)


@dataclass(frozen=True)
class Reference:
    """Labelled reference embeddings. Shape: emb (N, D), label (N,), record (N,)."""

    emb: np.ndarray
    label: np.ndarray
    record: np.ndarray


@dataclass
class EmbeddingMap:
    """2-D coordinates of the references and of the analysed record's points, same projection."""

    task: str
    method: str
    ref_xy: np.ndarray  # (N, 2)
    ref_label: np.ndarray  # (N,)
    xy: np.ndarray  # (M, 2) the record's beats (beat task) or the record itself (rhythm task)
    label: np.ndarray  # (M,) predicted class of each point


def load_probe(path: Path, *, builder: str = "the domain's build_app_assets.py") -> SavedLinearProbe:
    if not path.is_file():
        raise InputError(path, f"probe not found (build it with {builder})")
    try:
        return SavedLinearProbe.from_dict(json.loads(path.read_text()))
    except (json.JSONDecodeError, TypeError, ValueError) as err:
        raise InputError(path, f"not a saved linear probe ({type(err).__name__}: {err})") from None


def load_reference(path: Path, *, builder: str = "the domain's build_app_assets.py") -> Reference:
    if not path.is_file():
        raise InputError(path, f"reference embeddings not found (build them with {builder})")
    try:
        with np.load(path, allow_pickle=False) as data:
            ref = Reference(data["emb"].astype(np.float32), data["label"].astype(str), data["record"].astype(str))
    except (OSError, KeyError, ValueError) as err:
        raise InputError(path, f"not a reference file with emb/label/record arrays ({err})") from None
    if ref.emb.ndim != 2 or not len(ref.emb) == len(ref.label) == len(ref.record):
        raise InputError(
            path, f"inconsistent shapes emb {ref.emb.shape}, label {ref.label.shape}, record {ref.record.shape}"
        )
    return ref


@dataclass(frozen=True)
class Novelty:
    """How far a new embedding may lie from its nearest labelled reference and still look like one of them.

    ``threshold`` is the ``quantile`` of the references' own leave-one-out nearest-neighbour distances
    (Euclidean): a point beyond it is farther from every reference than all but ``1 - quantile`` of the
    references are from each other, a sign that the input is unlike what the probe was fitted on.
    """

    emb: np.ndarray  # (N, D) float32
    threshold: float
    quantile: float

    @classmethod
    def fit(cls, emb: np.ndarray, quantile: float = 0.99, max_queries: int = 2000, seed: int = 0) -> Novelty:
        """From reference embeddings (N, D), N >= 2; at most ``max_queries`` of them are queried."""
        emb = np.asarray(emb, dtype=np.float32)
        if len(emb) < 2:
            raise ValueError(f"need at least 2 reference embeddings, got {len(emb)}")
        rows = np.arange(len(emb))
        if len(rows) > max_queries:
            rows = np.sort(np.random.default_rng(seed).choice(rows, max_queries, replace=False))
        d = _distances(emb[rows], emb)
        d[np.arange(len(rows)), rows] = np.inf  # leave each query out
        return cls(emb=emb, threshold=float(np.quantile(d.min(axis=1), quantile)), quantile=quantile)

    def nearest(self, points: np.ndarray) -> np.ndarray:
        """Distance of each point to its nearest reference. Shape: (M, D) -> (M,)."""
        return _distances(np.atleast_2d(np.asarray(points, dtype=np.float32)), self.emb).min(axis=1)

    def is_novel(self, points: np.ndarray) -> np.ndarray:
        """Shape: (M, D) -> (M,) bool."""
        return self.nearest(points) > self.threshold


def _distances(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Euclidean distances. Shape: (M, D), (N, D) -> (M, N) float32."""
    sq = (a * a).sum(1)[:, None] - 2.0 * (a @ b.T) + (b * b).sum(1)[None, :]
    return np.sqrt(np.maximum(sq, 0.0))


def reorder_proba(proba: np.ndarray, have: list[str], want: tuple[str, ...]) -> np.ndarray:
    """Columns from a probe's class order into ``want``; classes the probe never saw get 0."""
    out = np.zeros((len(proba), len(want)))
    for j, c in enumerate(have):
        out[:, want.index(c)] = proba[:, j]
    return out


def stratified_subsample(y: np.ndarray, per_class: int, seed: int = 0) -> np.ndarray:
    """Sorted indices of at most ``per_class`` random items of each class."""
    rng = np.random.default_rng(seed)
    picked = [rng.permutation(np.flatnonzero(y == c))[:per_class] for c in np.unique(y)]
    return np.sort(np.concatenate(picked))


def class_counts(y: np.ndarray) -> dict[str, int]:
    return {str(c): int(n) for c, n in zip(*np.unique(y, return_counts=True), strict=True)}


def fit_probe(
    x: np.ndarray,
    y: np.ndarray,
    meta: dict,
    *,
    c: float | str = 1.0,
    groups: np.ndarray | None = None,
    seed: int = 0,
) -> SavedLinearProbe:
    """The evaluation's class-balanced linear probe, fitted on all of ``x`` and saved as plain arrays.

    ``c="cv"`` picks C by cross-validation on ``x`` (grouped by ``groups``, see ``resolve_c``). The C used
    and the CV scores (None for a given C) are added to ``meta`` as ``c`` and ``c_cv_balanced_accuracy``.
    """
    if len(np.unique(y)) < 2:
        raise ValueError(f"a probe needs at least two classes, got {class_counts(y)}")
    c, cv_scores = resolve_c(x, y, c, groups=groups, seed=seed)
    result = linear_probe(x, y, x[:1], c=c, seed=seed)
    return SavedLinearProbe.from_pipeline(result.model, {**meta, "c": float(c), "c_cv_balanced_accuracy": cv_scores})


def write_probe(path: Path, probe: SavedLinearProbe) -> None:
    text = json.dumps(probe.to_dict())
    atomic_write(path, lambda tmp: Path(tmp).write_text(text + "\n"))


def write_reference(path: Path, data: Dataset) -> None:
    emb, label, record = data
    buf = io.BytesIO()  # np.savez would append '.npz' to the temporary name
    np.savez_compressed(buf, emb=emb.astype(np.float16), label=label.astype(str), record=record.astype(str))
    atomic_write(path, lambda tmp: Path(tmp).write_bytes(buf.getvalue()))


class ReferenceMaps:
    """PCA or UMAP projections fitted on each task's references (once per task and method, thread-safe)."""

    def __init__(self, references: dict[str, Reference]) -> None:
        self.references = references
        self._projections: dict[tuple[str, str], tuple[Pipeline, np.ndarray]] = {}
        self._lock = threading.Lock()

    def project(self, task: str, points: np.ndarray, labels: np.ndarray, method: str = "pca") -> EmbeddingMap:
        """References and ``points`` (M, D) in the same 2-D projection."""
        model, ref_xy = self._projection(task, method)
        xy = model.transform(points.astype(np.float32)) if len(points) else np.zeros((0, 2))
        ref = self.references[task]
        return EmbeddingMap(task, method, ref_xy, ref.label, np.asarray(xy), np.asarray(labels))

    def _projection(self, task: str, method: str) -> tuple[Pipeline, np.ndarray]:
        if method not in MAP_METHODS:
            raise ValueError(f"map method must be one of {MAP_METHODS}, got {method!r}")
        with self._lock:
            if (task, method) not in self._projections:
                emb = self.references[task].emb
                if method == "umap":
                    import umap  # slow import (numba); only on request

                    reducer = umap.UMAP(
                        n_components=2, n_neighbors=max(2, min(15, len(emb) - 1)), random_state=0, n_jobs=1
                    )
                else:
                    reducer = PCA(n_components=2, random_state=0)
                model = make_pipeline(StandardScaler(), reducer).fit(emb)
                self._projections[task, method] = (model, model.transform(emb))
            return self._projections[task, method]
