"""Classification metrics shared by every domain's downstream tasks.

Everything returned is plain Python (floats, lists, dicts, ``None``) so a result can be
written to JSON as it is.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from sklearn.metrics import roc_auc_score


def _confusion(y_true: np.ndarray, y_pred: np.ndarray, classes: Sequence[str]) -> np.ndarray:
    """Counts with rows = true class, columns = predicted class, both in ``classes`` order."""
    index = {c: i for i, c in enumerate(classes)}
    for name, y in (("y_true", y_true), ("y_pred", y_pred)):
        unknown = sorted({str(v) for v in np.unique(y)} - set(index))
        if unknown:
            raise ValueError(f"{name} holds labels not in classes {list(classes)}: {unknown}")
    t = np.array([index[str(v)] for v in y_true], dtype=np.int64)
    p = np.array([index[str(v)] for v in y_pred], dtype=np.int64)
    cm = np.zeros((len(classes), len(classes)), dtype=np.int64)
    np.add.at(cm, (t, p), 1)
    return cm


def _ratio(num: float, den: float) -> float:
    """``num / den`` with 0.0 for an empty denominator (sklearn's ``zero_division=0``)."""
    return float(num / den) if den > 0 else 0.0


def _per_class(cm: np.ndarray, classes: Sequence[str]) -> dict[str, dict]:
    """Sensitivity, PPV, F1 and support of each class from a confusion matrix."""
    out: dict[str, dict] = {}
    for i, c in enumerate(classes):
        tp, support, predicted = cm[i, i], cm[i, :].sum(), cm[:, i].sum()
        out[c] = {
            # None rather than 0.0: a class with no true example has no sensitivity to speak of.
            "sensitivity": _ratio(tp, support) if support > 0 else None,
            "ppv": _ratio(tp, predicted),
            "f1": _ratio(2 * tp, support + predicted),
            "support": int(support),
        }
    return out


def _auroc(y_true: np.ndarray, y_score: np.ndarray, classes: Sequence[str]) -> float | None:
    """Macro one-vs-rest AUROC over the classes that have positives and negatives in y_true.

    Two classes give the plain AUROC of the second class's score. ``None`` when no class
    can be scored or the scores hold NaN/inf.
    """
    y_score = np.asarray(y_score, dtype=np.float64)
    if y_score.shape != (len(y_true), len(classes)):
        raise ValueError(f"y_score has shape {y_score.shape}, expected {(len(y_true), len(classes))}")
    if not np.all(np.isfinite(y_score)):
        return None
    labels = np.asarray([str(v) for v in y_true])
    columns = [len(classes) - 1] if len(classes) == 2 else range(len(classes))
    aucs = []
    for k in columns:
        positive = labels == classes[k]
        if 0 < positive.sum() < len(labels):
            aucs.append(roc_auc_score(positive, y_score[:, k]))
    return float(np.mean(aucs)) if aucs else None


def classification_metrics(
    y_true: Sequence,
    y_pred: Sequence,
    classes: Sequence[str],
    y_score: np.ndarray | None = None,
) -> dict:
    """Macro F1, accuracy, balanced accuracy, per-class scores and the confusion matrix.

    Conventions (so numbers can be compared across runs):
    - ``macro_f1`` and ``balanced_accuracy`` average over the classes *present in y_true*;
      a class the test set lacks would otherwise add a meaningless 0 (or 1).
    - ``ppv`` (and so ``f1``) of a class that is never predicted is 0.0, as sklearn's
      ``zero_division=0``; ``sensitivity`` of a class absent from y_true is ``None``.
    - ``confusion[i][j]`` counts examples of true class ``classes[i]`` predicted as ``classes[j]``.
    - With ``y_score`` (N, C) of class probabilities in ``classes`` order, ``auroc`` is the
      macro one-vs-rest AUROC (plain AUROC for two classes), ``None`` if it cannot be computed.
    Labels are compared as strings; a label outside ``classes`` raises ValueError.
    """
    classes = [str(c) for c in classes]
    y_true, y_pred = np.asarray(y_true), np.asarray(y_pred)
    if len(y_true) != len(y_pred) or len(y_true) == 0:
        raise ValueError(f"need equal, non-zero lengths; got {len(y_true)} and {len(y_pred)}")
    cm = _confusion(y_true, y_pred, classes)
    per_class = _per_class(cm, classes)
    present = [c for c in classes if per_class[c]["support"] > 0]
    out = {
        "macro_f1": float(np.mean([per_class[c]["f1"] for c in present])),
        "accuracy": float(np.trace(cm) / cm.sum()),
        "balanced_accuracy": float(np.mean([per_class[c]["sensitivity"] for c in present])),
        "per_class": per_class,
        "confusion": cm.tolist(),
        "classes": classes,
    }
    if y_score is not None:
        out["auroc"] = _auroc(y_true, y_score, classes)
    return out


def challenge_f1(y_true: Sequence, y_pred: Sequence) -> float:
    """PhysioNet/CinC 2017 score: the mean of the F1 of N, A and O.

    Each class's F1 is ``2 * n_xx / (n_true_x + n_pred_x)`` as in the challenge's scoring
    script. The noisy class ``~`` is not averaged, but a record predicted as ``~`` still counts
    against its true class (and vice versa). A class absent from both y_true and y_pred has no
    F1 and is left out of the mean; ValueError if none of N, A, O occurs at all.
    """
    t = np.asarray([str(v) for v in y_true])
    p = np.asarray([str(v) for v in y_pred])
    if len(t) != len(p):
        raise ValueError(f"need equal lengths; got {len(t)} and {len(p)}")
    scores = []
    for c in ("N", "A", "O"):
        den = int((t == c).sum() + (p == c).sum())
        if den > 0:
            scores.append(2.0 * int(((t == c) & (p == c)).sum()) / den)
    if not scores:
        raise ValueError("none of the classes N, A, O occurs in y_true or y_pred")
    return float(np.mean(scores))


def summarise_seeds(values: Sequence[float]) -> dict:
    """Mean and sample standard deviation (ddof=1; 0.0 for a single value) over seeds or folds."""
    vals = [float(v) for v in values]
    if not vals:
        raise ValueError("need at least one value")
    std = float(np.std(vals, ddof=1)) if len(vals) > 1 else 0.0
    return {"mean": float(np.mean(vals)), "std": std, "n": len(vals), "values": vals}
