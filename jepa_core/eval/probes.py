"""Probes on frozen embeddings: class-balanced linear (logistic regression), kNN, k-shot."""

from __future__ import annotations

import argparse
import warnings
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import balanced_accuracy_score, f1_score
from sklearn.model_selection import GroupKFold, StratifiedKFold
from sklearn.neighbors import KNeighborsClassifier
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import StandardScaler

from jepa_core.eval.metrics import challenge_f1


@dataclass
class ProbeResult:
    pred: np.ndarray  # (N,) predicted labels
    proba: np.ndarray  # (N, C) class probabilities, columns in ``classes`` order
    classes: list
    model: Pipeline


def linear_probe(
    x_train: np.ndarray, y_train: np.ndarray, x_test: np.ndarray, *, c: float = 1.0, seed: int = 0, max_iter: int = 2000
) -> ProbeResult:
    """Standardise, then class-balanced multinomial logistic regression. Shape: x (N, D)."""
    model = make_pipeline(
        SimpleImputer(strategy="median", keep_empty_features=True),
        StandardScaler(),
        LogisticRegression(C=c, class_weight="balanced", max_iter=max_iter, random_state=seed),
    )
    model.fit(_finite(x_train), y_train)
    proba = model.predict_proba(_finite(x_test))
    classes = list(model.classes_)
    return ProbeResult(pred=np.asarray(classes)[proba.argmax(1)], proba=proba, classes=classes, model=model)


C_GRID = (0.001, 0.003, 0.01, 0.03, 0.1, 0.3, 1.0, 3.0)  # inverse L2 strengths ``select_c`` starts from
# Where the best C of ``C_GRID`` sits at its edge, ``select_c`` walks on along this ladder (one step at a time,
# while the edge stays best): a grid that binds at its edge has not found the optimum, only a bound.
C_LADDER = (1e-5, 3e-5, 1e-4, 3e-4, *C_GRID, 10.0, 30.0, 100.0)


CV_MAX_SAMPLES = 8000  # the C search of larger training sets runs on a subsample (5 folds x 8+ Cs, cold fits)
CV_MIN_PER_CLASS = 200


def macro_f1_present(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    """Macro-F1 over the classes present in ``y_true`` (a held-out fold may lack a rare class)."""
    return float(f1_score(y_true, y_pred, labels=np.unique(y_true), average="macro", zero_division=0))


CV_SCORES: dict[str, Callable[[np.ndarray, np.ndarray], float]] = {
    "balanced_accuracy": balanced_accuracy_score,
    "macro_f1": macro_f1_present,
    "challenge_f1": challenge_f1,  # PhysioNet/CinC 2017: mean F1 of N, A and O
}


def cv_subsample(y: np.ndarray, n: int, seed: int = 0, min_per_class: int = CV_MIN_PER_CLASS) -> np.ndarray:
    """Sorted indices of about ``n`` examples, each class in proportion but keeping at least
    ``min_per_class`` of it (all of a rarer one), so rare classes still weigh in the balanced accuracy."""
    rng = np.random.default_rng(seed)
    y = np.asarray(y)
    frac = n / len(y)
    keep = []
    for cls in np.unique(y):
        idx = np.flatnonzero(y == cls)
        k = min(len(idx), max(int(np.ceil(frac * len(idx))), min_per_class))
        keep.append(rng.choice(idx, size=k, replace=False))
    return np.sort(np.concatenate(keep))


def _best_c(scores: dict[str, float]) -> float:
    """The C with the best score; ties go to the smaller C (stronger regularisation)."""
    return float(max(scores, key=lambda k: (scores[k], -float(k))))


def _next_on_ladder(tried: dict[str, float], ladder: tuple[float, ...]) -> float | None:
    """The ladder's next C beyond the tried range, on the side where the best tried C sits at the edge."""
    cs = sorted(float(c) for c in tried)
    best = _best_c(tried)
    if best == cs[0]:
        lower = [c for c in ladder if c < cs[0]]
        return max(lower) if lower else None
    if best == cs[-1]:
        higher = [c for c in ladder if c > cs[-1]]
        return min(higher) if higher else None
    return None


def select_c(
    x: np.ndarray,
    y: np.ndarray,
    *,
    groups: np.ndarray | None = None,
    cs: tuple[float, ...] = C_GRID,
    ladder: tuple[float, ...] | None = C_LADDER,
    score: str | Callable[[np.ndarray, np.ndarray], float] = "balanced_accuracy",
    folds: int = 5,
    seed: int = 0,
    max_samples: int | None = CV_MAX_SAMPLES,
) -> tuple[float, dict[str, float]]:
    """The ``C`` of ``linear_probe`` with the best mean CV ``score`` over folds of the training set (never
    the test set), and each tried candidate's score. ``score``: a name in ``CV_SCORES`` or a function
    ``(y_true, y_pred) -> float``; pick the metric the task reports. Starts from ``cs``; while the best C
    is the smallest (largest) tried, tries the next smaller (larger) one of ``ladder`` (None: ``cs`` only).
    With ``groups`` (subject, record) holding two or more groups, the folds are ``GroupKFold``, so no group
    sits on both sides; otherwise (no groups, or all from one subject) stratified by class. Larger training
    sets than ``max_samples`` are searched on a seeded subsample (:func:`cv_subsample`); the caller's final
    fit uses all of them. Ties go to the smaller ``C`` (stronger regularisation). Shape: x (N, D), y and
    groups (N,)."""
    scorer = CV_SCORES[score] if isinstance(score, str) else score
    y = np.asarray(y)
    if max_samples is not None and len(y) > max_samples:
        keep = cv_subsample(y, max_samples, seed)
        x, y, groups = x[keep], y[keep], None if groups is None else np.asarray(groups)[keep]
    if groups is not None and len(np.unique(groups)) >= 2:
        n_folds = min(folds, len(np.unique(groups)))
        splits = list(GroupKFold(n_splits=n_folds).split(x, y, groups))
    else:
        n_folds = min(folds, int(np.unique(y, return_counts=True)[1].min()))
        splits = list(StratifiedKFold(n_folds, shuffle=True, random_state=seed).split(x, y)) if n_folds >= 2 else []
    splits = [(a, b) for a, b in splits if len(np.unique(y[a])) >= 2]
    if not splits:
        raise ValueError(f"cannot cross-validate C: too few groups or examples per class ({len(y)} examples)")

    def cv_score(c: float) -> float:
        # Cold starts, exactly the fit ``linear_probe`` makes: warm starts along the C path run ~4x faster
        # but stop lbfgs at other points on wide, separable features (CV scores 0.4 points apart at C >= 0.3).
        return float(np.mean([scorer(y[b], linear_probe(x[a], y[a], x[b], c=c, seed=seed).pred) for a, b in splits]))

    with warnings.catch_warnings():  # a held-out group may lack a rare class: expected, once per fit otherwise
        warnings.filterwarnings("ignore", message="y_pred contains classes not in y_true")
        scores = {str(c): cv_score(c) for c in sorted(cs)}
        while ladder and (c := _next_on_ladder(scores, ladder)) is not None:
            scores[str(c)] = cv_score(c)
    return _best_c(scores), {k: scores[k] for k in sorted(scores, key=float)}


def resolve_c(
    x: np.ndarray,
    y: np.ndarray,
    probe_c: float | str,
    *,
    groups: np.ndarray | None = None,
    score: str | Callable[[np.ndarray, np.ndarray], float] = "balanced_accuracy",
    seed: int = 0,
) -> tuple[float, dict[str, float] | None]:
    """The probe's C and its CV scores. A number: itself, scores None. ``"cv"``: :func:`select_c` on this
    (training) data, scored by ``score``; where it is too small to cross-validate (a class with a single
    example), C = 1 and scores None, so a small custom split still runs and the record shows that C was
    not chosen."""
    if probe_c != "cv":
        return float(probe_c), None
    try:
        return select_c(x, y, groups=groups, score=score, seed=seed)
    except ValueError:
        return 1.0, None


def probe_c_arg(text: str) -> float | str:
    """argparse type for ``--probe-c``: ``cv`` (choose by cross-validation on training data) or a C > 0."""
    if text == "cv":
        return text
    try:
        c = float(text)
    except ValueError:
        c = float("nan")
    if not c > 0:
        raise argparse.ArgumentTypeError(f"--probe-c must be 'cv' or a positive number, got {text!r}")
    return c


def add_probe_c_argument(parser: argparse.ArgumentParser, folds: str) -> None:
    """``--probe-c cv|NUMBER`` (default ``cv``); ``folds`` says what the CV splits, for the help text."""
    parser.add_argument(
        "--probe-c",
        type=probe_c_arg,
        default="cv",
        help=f"probe's inverse L2 strength C: 'cv' (chosen by CV {folds}) or a number",
    )


def _finite(x: np.ndarray) -> np.ndarray:
    """Non-finite features (inf from a ratio, NaN from a failed detector) become missing, for the imputer."""
    x = np.asarray(x, dtype=np.float64)
    return np.where(np.isfinite(x), x, np.nan)


def standardise_per_group(x: np.ndarray, groups: np.ndarray, *, eps: float = 1e-6) -> np.ndarray:
    """Z-score every feature within each group (e.g. subject) over all of that group's rows.

    A calibration protocol, not a probe: it uses a group's unlabelled rows together, so on test
    groups it is transductive (it needs several windows of the same subject, of whatever class).
    Features that are constant within a group become 0. Shape: x (N, D), groups (N,) -> (N, D).
    """
    x = _finite(x)
    out = np.empty_like(x)
    groups = np.asarray(groups)
    for g in np.unique(groups):
        rows = groups == g
        with warnings.catch_warnings():  # a feature missing in the whole group stays missing (NaN)
            warnings.simplefilter("ignore", RuntimeWarning)
            mu, sd = np.nanmean(x[rows], axis=0), np.nanstd(x[rows], axis=0)
        out[rows] = (x[rows] - mu) / np.where(sd > eps, sd, np.inf)
    return out


def knn_probe(x_train: np.ndarray, y_train: np.ndarray, x_test: np.ndarray, *, k: int = 20) -> ProbeResult:
    """Cosine kNN with distance weighting on standardised embeddings."""
    model = make_pipeline(
        StandardScaler(), KNeighborsClassifier(n_neighbors=min(k, len(x_train)), metric="cosine", weights="distance")
    )
    model.fit(x_train, y_train)
    proba = model.predict_proba(x_test)
    classes = list(model.classes_)
    return ProbeResult(pred=np.asarray(classes)[proba.argmax(1)], proba=proba, classes=classes, model=model)


def kshot_indices(y: np.ndarray, k: int, seed: int) -> np.ndarray:
    """``k`` random training indices per class (all of a class that has fewer)."""
    rng = np.random.default_rng(seed)
    picked = [rng.permutation(np.flatnonzero(y == c))[:k] for c in np.unique(y)]
    return np.sort(np.concatenate(picked))


class SavedLinearProbe:
    """A fitted linear probe as plain arrays (JSON on disk: no pickle, safe to load from anywhere)."""

    def __init__(self, *, median, mean, scale, coef, intercept, classes, meta=None) -> None:
        self.median, self.mean, self.scale = (np.asarray(a, dtype=np.float64) for a in (median, mean, scale))
        self.coef, self.intercept = np.asarray(coef, dtype=np.float64), np.asarray(intercept, dtype=np.float64)
        self.classes, self.meta = [str(c) for c in classes], dict(meta or {})

    @classmethod
    def from_pipeline(cls, model: Pipeline, meta: dict | None = None) -> SavedLinearProbe:
        imputer, scaler, logreg = (model.steps[i][1] for i in range(3))
        return cls(
            median=imputer.statistics_,
            mean=scaler.mean_,
            scale=scaler.scale_,
            coef=logreg.coef_,
            intercept=logreg.intercept_,
            classes=logreg.classes_,
            meta=meta,
        )

    def predict_proba(self, x: np.ndarray) -> np.ndarray:
        """Shape: (N, D) -> (N, C), columns in ``classes`` order (sklearn's formula)."""
        x = np.where(np.isfinite(x), x, self.median)
        logits = ((x - self.mean) / self.scale) @ self.coef.T + self.intercept
        if logits.shape[1] == 1:  # binary: sigmoid of one logit
            p = 1.0 / (1.0 + np.exp(-logits[:, 0]))
            return np.stack([1.0 - p, p], axis=1)
        logits -= logits.max(axis=1, keepdims=True)
        e = np.exp(logits)
        return e / e.sum(axis=1, keepdims=True)

    def to_dict(self) -> dict:
        arrays = {k: getattr(self, k).tolist() for k in ("median", "mean", "scale", "coef", "intercept")}
        return {**arrays, "classes": self.classes, "meta": self.meta}

    @classmethod
    def from_dict(cls, data: dict) -> SavedLinearProbe:
        return cls(**data)
