"""Evaluate an ECG encoder on a labelled task against three baselines on one record-wise split.

    python domains/ecg/evaluate.py --task mitdb-aami --data-dir ../shared/data/ecg/mitdb --out results.json
    python domains/ecg/evaluate.py --task cinc2017 --data-dir ../shared/data/ecg/cinc2017

Methods: ``jepa`` (frozen encoder + class-balanced logistic regression), ``random_init`` (same
architecture, random weights, same probe), ``handcrafted`` (RR + morphology for beats, rhythm
statistics for CinC, same probe), ``supervised`` (same architecture trained from scratch).
Each probe's L2 strength C is chosen by cross-validation on the training records only (``--probe-c``).
Splits are by record (MIT-BIH: de Chazal DS1 -> DS2 inter-patient; CinC: 5-fold record-wise CV).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

from domains.ecg.eval_tasks import CINC_CV_SCORE, MITDB_CV_SCORE, run_cinc, run_mitdb
from domains.ecg.io import find_records
from domains.ecg.tasks import cinc_folds, default_mitdb_split, load_cinc_labels
from jepa_core.errors import InputError
from jepa_core.eval.probes import add_probe_c_argument
from jepa_core.eval.report import add_methods_argument, add_run_arguments, run_evaluation
from jepa_core.pretrained import load_pretrained

DEFAULT_MODEL = Path(__file__).resolve().parents[2] / "models" / "ecg-tiny"
METHODS = ("jepa", "jepa_rr", "random_init", "handcrafted", "supervised")
HEADLINE = {"mitdb-aami": "macro_f1", "cinc2017": "challenge_f1"}


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python domains/ecg/evaluate.py", description=__doc__.split("\n\n")[0])
    p.add_argument(
        "--checkpoint",
        type=Path,
        default=DEFAULT_MODEL,
        help=f"model dir, run dir or .pt checkpoint (default: {DEFAULT_MODEL})",
    )
    p.add_argument("--task", choices=sorted(HEADLINE), default="mitdb-aami")
    p.add_argument(
        "--data-dir", type=Path, required=True, help="folder with the task's WFDB records (and REFERENCE.csv for CinC)"
    )
    p.add_argument("--train", nargs="+", metavar="ID", help="training record ids (default: DS1 / CV folds)")
    p.add_argument("--test", nargs="+", metavar="ID", help="test record ids (default: DS2 / CV folds)")
    p.add_argument("--folds", type=int, default=5, help="CinC: record-wise CV folds when --train/--test are not given")
    p.add_argument("--max-records", type=int, help="CinC: use only the first N labelled records (quick runs)")
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2], help="seeds for random init and supervised")
    p.add_argument("--supervised-epochs", type=int, default=6)
    add_methods_argument(p, METHODS, "jepa_rr (MIT-BIH only): the JEPA beat embedding plus the 7 RR-interval features")
    add_probe_c_argument(p, "over the training records only")
    add_run_arguments(p)
    p.add_argument("--out", type=Path, help="write results JSON here")
    p.add_argument(
        "--update-card", action="store_true", help="record the headline metrics in the model card (model dirs only)"
    )
    return p.parse_args(argv)


def _paths(data_dir: Path, ids) -> list[Path]:
    return [find_records(data_dir / i)[0] for i in ids]


def evaluate(args: argparse.Namespace) -> dict:
    pre = load_pretrained(args.checkpoint, domain="ecg")
    common = dict(seeds=args.seeds, sup_epochs=args.supervised_epochs, methods=args.methods, probe_c=args.probe_c)
    if args.task == "mitdb-aami":
        train, test = default_mitdb_split(args.data_dir)
        train, test = args.train or train, args.test or test
        if set(train) & set(test):
            raise InputError(args.data_dir, f"records on both sides of the split: {sorted(set(train) & set(test))}")
        results = run_mitdb(pre, _paths(args.data_dir, train), _paths(args.data_dir, test), **common)
        split = {"train": list(train), "test": list(test)}
    else:
        labels = load_cinc_labels(args.data_dir)
        ids = (
            sorted(labels)[: args.max_records] if not (args.train and args.test) else list(args.train) + list(args.test)
        )
        if args.train and args.test:
            folds = [(np.arange(len(args.train)), np.arange(len(args.train), len(ids)))]
        else:
            index = {r: i for i, r in enumerate(ids)}
            folds = [
                (np.array([index[r] for r in tr]), np.array([index[r] for r in te]))
                for tr, te in cinc_folds(ids, labels, n_folds=args.folds)
            ]
        results = run_cinc(pre, args.data_dir, _paths(args.data_dir, ids), folds, **common)
        split = {
            "train": list(args.train) if args.train else f"{args.folds}-fold record-wise CV",
            "test": list(args.test) if args.test else ids,
        }
    return {
        "task": args.task,
        **split,
        "probe_c": args.probe_c,
        "probe_c_cv_score": (MITDB_CV_SCORE if args.task == "mitdb-aami" else CINC_CV_SCORE)
        if args.probe_c == "cv"
        else None,
        "results": results,
        "checkpoint": str(args.checkpoint),
        "encoder_sha256": pre.sha256,
        "encoder_used_downstream": pre.card.get("encoder_used_downstream"),
        "seeds": args.seeds,
    }


def format_table(report: dict) -> str:
    head = HEADLINE[report["task"]]
    classes = next(iter(report["results"].values()))["classes"]
    cols = (
        [head, "record-boot std", "macro_f1", "balanced_accuracy"]
        + [f"Se {c}" for c in classes]
        + [f"PPV {c}" for c in classes]
    )
    lines = [f"task {report['task']}", f"{'method':<12}" + "".join(f"{c:>18}" for c in cols)]
    for name, r in report["results"].items():
        spread = r[f"{head}_spread"]
        boot = f"{r['record_bootstrap_std']:.3f}" if "record_bootstrap_std" in r else "-"
        cells = [
            f"{spread['mean']:.3f}±{spread['std']:.3f} (n={spread['n']})",
            boot,
            f"{r['macro_f1']:.3f}",
            f"{r['balanced_accuracy']:.3f}",
        ]
        cells += [f"{r['sensitivity'][c]:.3f}" for c in classes] + [f"{r['ppv'][c]:.3f}" for c in classes]
        lines.append(f"{name:<12}" + "".join(f"{c:>18}" for c in cells))
    return "\n".join(lines)


def main(argv=None) -> int:
    return run_evaluation(
        parse_args(argv), evaluate, format_table, card_entry, script="domains/ecg/evaluate.py", argv=argv
    )


def card_entry(report: dict) -> tuple[str, dict]:
    """This task's headline metrics (mean, std, n) for every method, for the model card."""
    head = HEADLINE[report["task"]]
    summary = {
        name: {
            "macro_f1": r["macro_f1"],
            head: r[head],
            f"{head}_std": r[f"{head}_spread"]["std"],
            "n_runs": r["n_runs"],
        }
        for name, r in report["results"].items()
    }
    return report["task"], {"split": {"train": report["train"], "test": report["test"]}, "results": summary}


if __name__ == "__main__":
    sys.exit(main())
