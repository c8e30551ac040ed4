"""Evaluate an EEG encoder on a labelled task against three baselines, split by subject.

    python domains/eeg/evaluate.py --task eegmat-rest-vs-task --data-dir ../shared/data/eeg/eegmat --out results.json
    python domains/eeg/evaluate.py --task eegmat-rest-vs-task --data-dir DIR --train-subjects 0,1,2 --test-subjects 10,11
    python domains/eeg/evaluate.py --task eegmmidb-motor --data-dir ../shared/data/eeg/eegmmidb

Methods: ``jepa`` (frozen encoder + class-balanced logistic regression), ``random_init`` (same
architecture, random weights, same probe), ``handcrafted`` (log band power per channel, same
probe), ``supervised`` (same architecture trained from scratch). Each probe's L2 strength C is
chosen per fold by subject-grouped cross-validation on that fold's training side (``--probe-c``).
Balanced accuracy and AUROC are reported per window and per recording (mean of its window
probabilities). ``--subject-norm`` runs a subject-calibrated protocol instead: every method's
features are z-scored per subject over all of its windows (test subjects too, unlabelled), as a
calibration recording of each new subject would allow; its numbers are reported apart.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

from domains.eeg.eval_tasks import POOLINGS, load_windows, run_task
from domains.eeg.io import subject_id
from domains.eeg.tasks import (
    EEGMAT_CLASSES,
    MOTOR_CLASSES,
    eegmat_recordings,
    motor_recordings,
    subject_splits,
    time_blocked_folds,
)
from jepa_core.errors import InputError
from jepa_core.eval.probes import add_probe_c_argument
from jepa_core.eval.report import add_methods_argument, add_run_arguments, run_evaluation
from jepa_core.pretrained import load_pretrained

DEFAULT_MODEL = Path(__file__).resolve().parents[2] / "models" / "eeg-tiny"
METHODS = ("jepa", "jepa_bandpower", "random_init", "handcrafted", "supervised")
TASKS = ("eegmat-rest-vs-task", "eegmmidb-motor")


def _subjects(text: str | None) -> list[int] | None:
    if text is None:
        return None
    try:
        return [int(s) for s in text.replace(" ", "").split(",") if s]
    except ValueError:
        raise argparse.ArgumentTypeError(f"subject ids must be integers separated by commas, got {text!r}") from None


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python domains/eeg/evaluate.py", description=__doc__.split("\n\n")[0])
    p.add_argument(
        "--checkpoint", type=Path, default=DEFAULT_MODEL, help=f"model dir, run dir or .pt (default: {DEFAULT_MODEL})"
    )
    p.add_argument("--task", choices=TASKS, default="eegmat-rest-vs-task")
    p.add_argument("--data-dir", type=Path, required=True, help="folder with the task's EDF files")
    p.add_argument("--train-subjects", type=_subjects, help="pin the split: training subject ids, e.g. 0,1,2")
    p.add_argument("--test-subjects", type=_subjects, help="pin the split: test subject ids, e.g. 10,11")
    p.add_argument("--folds", type=int, default=5, help="GroupKFold folds when no split is pinned or implied")
    p.add_argument(
        "--cv",
        action="store_true",
        help="GroupKFold over every subject, even those the encoder saw (unlabelled) in pretraining",
    )
    p.add_argument("--stride-s", type=float, default=2.0, help="eegmat: window stride in seconds (default 2)")
    p.add_argument("--pooling", choices=POOLINGS, help="token pooling for the probes (default: the model card's)")
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2], help="seeds for random init and supervised")
    p.add_argument("--supervised-epochs", type=int, default=10)
    add_probe_c_argument(p, "per fold, grouped by subject, on its training side")
    p.add_argument(
        "--subject-norm",
        action="store_true",
        help="subject-calibrated protocol: z-score every method's features (and the supervised input) per "
        "subject over all its windows, test subjects included (unlabelled, transductive); reported apart",
    )
    add_methods_argument(
        p, METHODS, "jepa_bandpower: the JEPA embedding and the band powers in one probe (does JEPA add to them?)"
    )
    add_run_arguments(p)
    p.add_argument("--out", type=Path, help="write results JSON here")
    p.add_argument("--update-card", action="store_true", help="record headline metrics in the model card")
    return p.parse_args(argv)


def _window_folds(w, splits) -> list[tuple[np.ndarray, np.ndarray]]:
    return [
        (np.flatnonzero(np.isin(w.subjects, s.train_subjects)), np.flatnonzero(np.isin(w.subjects, s.test_subjects)))
        for s in splits
    ]


def pretraining_subjects(card: dict) -> list[int]:
    """Subjects whose recordings the encoder saw in pretraining (from its model card)."""
    names = (card.get("training_data") or {}).get("recordings") or []
    return sorted({s for s in (subject_id(n) for n in names) if s is not None})


def evaluate(args: argparse.Namespace) -> dict:
    pre = load_pretrained(args.checkpoint, domain="eeg")
    pooling = args.pooling or pre.card.get("downstream_pooling", "mean")
    seen = pretraining_subjects(pre.card)
    common = dict(
        seeds=args.seeds,
        methods=args.methods,
        pooling=pooling,
        sup_epochs=args.supervised_epochs,
        probe_c=args.probe_c,
        subject_norm=args.subject_norm,
    )
    if args.task == "eegmat-rest-vs-task":
        recordings = eegmat_recordings(args.data_dir)
        w, skipped = load_windows(recordings, pre.cfg, stride_s=args.stride_s)
        try:
            splits, how = subject_splits(
                w.subjects,
                train=args.train_subjects,
                test=args.test_subjects,
                seen_in_pretraining=() if args.cv else seen,
                folds=args.folds,
            )
        except ValueError as err:
            raise InputError(args.data_dir, str(err)) from None
        folds, classes = _window_folds(w, splits), EEGMAT_CLASSES
        results = run_task(pre, w, folds, classes, **common)
        split = {
            "how": how,
            "folds": [{"train": list(s.train_subjects), "test": list(s.test_subjects)} for s in splits],
        }
    else:
        w, skipped = load_windows(motor_recordings(args.data_dir), pre.cfg, events=MOTOR_CLASSES)
        classes = [c for c in MOTOR_CLASSES if c in set(w.labels)]
        if len(set(w.subjects)) >= 2:
            splits, how = subject_splits(w.subjects, folds=args.folds)
            folds = _window_folds(w, splits)
        else:
            order = np.argsort(w.starts_s, kind="stable")
            folds = [(order[tr], order[te]) for tr, te in time_blocked_folds(len(w.labels), args.folds)]
            how = f"one subject: {len(folds)} time-blocked folds over its events (a smoke test, not a benchmark)"
        results = run_task(pre, w, folds, classes, recording_level=False, **common)
        split = {"how": how, "n_folds": len(folds)}
    counts = {str(c): int((w.labels == c).sum()) for c in sorted(set(w.labels))}
    return {
        "task": args.task,
        "split": split,
        "subjects_seen_in_pretraining": seen,
        "n_windows": counts,
        "pooling": pooling,
        "probe_c": args.probe_c,
        "subject_norm": args.subject_norm,
        "results": results,
        "skipped": skipped,
        "checkpoint": str(args.checkpoint),
        "encoder_sha256": pre.sha256,
        "encoder_used_downstream": pre.card.get("encoder_used_downstream"),
        "seeds": args.seeds,
    }


def format_table(report: dict) -> str:
    lines = [
        f"task {report['task']}{' (subject-normalised features)' if report.get('subject_norm') else ''}  "
        f"({report['split']['how']}; windows {report['n_windows']})",
        f"{'method':<12}{'window bal.acc':>22}{'window AUROC':>16}{'recording bal.acc':>20}{'recording AUROC':>18}",
    ]
    for name, r in report["results"].items():
        s = r["balanced_accuracy_spread"]
        rec = r.get("recording", {})
        cells = [
            f"{s['mean']:.3f}±{s['std']:.3f} (n={s['n']})",
            _num(r.get("auroc")),
            _num(rec.get("balanced_accuracy")),
            _num(rec.get("auroc")),
        ]
        lines.append(f"{name:<12}{cells[0]:>22}{cells[1]:>16}{cells[2]:>20}{cells[3]:>18}")
    return "\n".join(lines)


def _num(v) -> str:
    return "-" if v is None else f"{v:.3f}"


def main(argv=None) -> int:
    return run_evaluation(
        parse_args(argv), evaluate, format_table, card_entry, script="domains/eeg/evaluate.py", argv=argv
    )


def card_entry(report: dict) -> tuple[str, dict]:
    """This task's headline metrics (mean, std, n) for every method, for the model card."""
    summary = {
        name: {
            "balanced_accuracy": r["balanced_accuracy"],
            "balanced_accuracy_std": r["balanced_accuracy_spread"]["std"],
            "auroc": r.get("auroc"),
            "recording_balanced_accuracy": r.get("recording", {}).get("balanced_accuracy"),
            "n_runs": r["n_runs"],
        }
        for name, r in report["results"].items()
    }
    task = report["task"] + ("-subject-norm" if report.get("subject_norm") else "")
    return task, {"split": report["split"], "pooling": report["pooling"], "results": summary}


if __name__ == "__main__":
    sys.exit(main())
