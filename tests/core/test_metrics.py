"""Metrics against small examples computed by hand."""

from __future__ import annotations

import numpy as np
import pytest

from jepa_core.eval.metrics import challenge_f1, classification_metrics, summarise_seeds

CLASSES = ("N", "S", "V", "F")


def test_hand_computed_confusion_and_per_class():
    # True N N N S S V, predicted N N S S V V; F never occurs.
    m = classification_metrics(list("NNNSSV"), list("NNSSVV"), CLASSES)
    assert m["confusion"] == [[2, 1, 0, 0], [0, 1, 1, 0], [0, 0, 1, 0], [0, 0, 0, 0]]
    assert m["classes"] == list(CLASSES)
    pc = m["per_class"]
    assert pc["N"] == pytest.approx({"sensitivity": 2 / 3, "ppv": 1.0, "f1": 0.8, "support": 3})
    assert pc["S"] == pytest.approx({"sensitivity": 0.5, "ppv": 0.5, "f1": 0.5, "support": 2})
    assert pc["V"] == pytest.approx({"sensitivity": 1.0, "ppv": 0.5, "f1": 2 / 3, "support": 1})
    assert pc["F"] == {"sensitivity": None, "ppv": 0.0, "f1": 0.0, "support": 0}
    # Averages over N, S, V only: F is absent from y_true.
    assert m["macro_f1"] == pytest.approx((0.8 + 0.5 + 2 / 3) / 3)
    assert m["balanced_accuracy"] == pytest.approx((2 / 3 + 0.5 + 1.0) / 3)
    assert m["accuracy"] == pytest.approx(4 / 6)
    assert "auroc" not in m


def test_never_predicted_class_has_zero_ppv_and_f1():
    m = classification_metrics(list("NNSS"), list("NNNN"), ("N", "S"))
    assert m["per_class"]["S"] == {"sensitivity": 0.0, "ppv": 0.0, "f1": 0.0, "support": 2}
    assert m["macro_f1"] == pytest.approx((2 * 2 / (2 + 4) + 0.0) / 2)


def test_perfect_prediction_scores_one():
    y = list("NSVFNNVS")
    m = classification_metrics(y, y, CLASSES)
    assert m["macro_f1"] == m["accuracy"] == m["balanced_accuracy"] == 1.0
    assert challenge_f1(list("NAO~NA"), list("NAO~NA")) == 1.0


def test_unknown_label_and_length_mismatch_raise():
    with pytest.raises(ValueError, match="not in classes"):
        classification_metrics(["N", "X"], ["N", "N"], CLASSES)
    with pytest.raises(ValueError):
        classification_metrics(["N"], ["N", "N"], CLASSES)


def test_binary_auroc_by_hand():
    # Positives (b) score 0.35, 0.8; negatives 0.1, 0.4: 3 of 4 pairs ordered -> 0.75.
    score_b = np.array([0.1, 0.4, 0.35, 0.8])
    m = classification_metrics(list("aabb"), list("abab"), ("a", "b"), np.stack([1 - score_b, score_b], 1))
    assert m["auroc"] == pytest.approx(0.75)


def test_multiclass_auroc_skips_absent_class_and_nan():
    y = ["N", "N", "S", "S", "V", "V"]
    scores = np.array(
        [
            [0.8, 0.1, 0.1, 0.0],
            [0.4, 0.5, 0.1, 0.0],
            [0.3, 0.6, 0.1, 0.0],
            [0.2, 0.7, 0.1, 0.0],
            [0.1, 0.1, 0.8, 0.0],
            [0.5, 0.2, 0.3, 0.0],
        ]
    )
    # One-vs-rest by hand: N 7/8 (0.4 loses only to the V row's 0.5), S 8/8, V 8/8; F has no positive.
    m = classification_metrics(y, y, CLASSES, y_score=scores)
    assert m["auroc"] == pytest.approx((7 / 8 + 1.0 + 1.0) / 3)
    scores[0, 0] = np.nan
    assert classification_metrics(y, y, CLASSES, y_score=scores)["auroc"] is None


def test_challenge_f1_by_hand():
    y_true = ["N", "N", "A", "O", "~", "~"]
    y_pred = ["N", "A", "A", "~", "~", "O"]
    # F1_N = 2*1/(2+1), F1_A = 2*1/(1+2), F1_O = 0/(1+1); '~' not averaged.
    assert challenge_f1(y_true, y_pred) == pytest.approx((2 / 3 + 2 / 3 + 0.0) / 3)


def test_challenge_f1_counts_noisy_predictions_against_true_class():
    # Calling a normal record noisy costs N's F1 even though '~' itself is not scored.
    base = challenge_f1(list("NNAO"), list("NNAO"))
    worse = challenge_f1(list("NNAO"), list("N~AO"))
    assert base == 1.0
    assert worse == pytest.approx((2 * 1 / (2 + 1) + 1.0 + 1.0) / 3)


def test_challenge_f1_leaves_out_absent_classes():
    assert challenge_f1(["N", "~"], ["N", "~"]) == 1.0
    with pytest.raises(ValueError):
        challenge_f1(["~"], ["~"])


def test_summarise_seeds():
    s = summarise_seeds([1.0, 2.0, 3.0])
    assert s == {"mean": 2.0, "std": pytest.approx(1.0), "n": 3, "values": [1.0, 2.0, 3.0]}
    assert summarise_seeds([0.5])["std"] == 0.0
    with pytest.raises(ValueError):
        summarise_seeds([])
