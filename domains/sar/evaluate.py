"""Evaluate a SAR-JEPA encoder on MSTAR-10 SOC (train 17 deg, test 15 deg) against baselines.

    python domains/sar/evaluate.py --data-dir ../shared/data/sar/MSTAR-10 --out results.json
    python domains/sar/evaluate.py --data-dir ../shared/data/sar/MSTAR-10 --ema-checkpoint runs/sar-bundled-ema

Methods: ``jepa`` (frozen encoder + class-balanced logistic regression), ``jepa_ema`` (the same for
an encoder pretrained with EMA latent targets, when --ema-checkpoint exists), ``random_init`` (same
architecture, random weights), ``handcrafted`` (the chip's dB image smoothed and pooled to 16 x 16),
``handcrafted_hog`` (HOG + radial power spectrum), ``supervised`` (small
CNN from scratch). Each: a probe on all training chips (its L2 strength C chosen by 5-fold
cross-validation on the training chips, ``--probe-c``), and k-shot probes (k = 1, 5, 10, 20 chips per
class, one draw per seed, C = 1) scored on the full test set.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from domains.sar.embed import POOLS, chip_embeddings
from domains.sar.eval_mstar import MARGIN, encoder_features, handcrafted, load_chips, run_mstar
from domains.sar.tasks import mstar_soc
from jepa_core.eval.probes import add_probe_c_argument
from jepa_core.eval.report import add_methods_argument, add_run_arguments, run_evaluation
from jepa_core.pretrained import load_pretrained, random_encoder

DEFAULT_MODEL = Path(__file__).resolve().parents[2] / "models" / "sar-tiny"
METHODS = ("jepa", "jepa_ema", "random_init", "handcrafted", "handcrafted_hog", "supervised")


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python domains/sar/evaluate.py", description=__doc__.split("\n\n")[0])
    p.add_argument(
        "--checkpoint", type=Path, default=DEFAULT_MODEL, help=f"model dir, run dir or .pt (default: {DEFAULT_MODEL})"
    )
    p.add_argument("--ema-checkpoint", type=Path, help="encoder pretrained with EMA latent targets (method jepa_ema)")
    p.add_argument("--data-dir", type=Path, required=True, help="MSTAR-10 folder with train/<CLASS>/ and test/<CLASS>/")
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4], help="k-shot draws (and CNN init) seeds")
    p.add_argument(
        "--pool", choices=POOLS, help="token pooling for the probe features (default: the model card's, else mean)"
    )
    add_probe_c_argument(p, "on the training chips, full-label probe only")
    add_methods_argument(p, METHODS)
    add_run_arguments(p)
    p.add_argument("--out", type=Path, help="write results JSON here")
    p.add_argument("--update-card", action="store_true", help="record the headline metrics in the model card")
    return p.parse_args(argv)


def evaluate(args: argparse.Namespace) -> dict:
    pre = load_pretrained(args.checkpoint, domain="sar")
    pool = args.pool or pre.card.get("downstream_pooling", "mean")
    data, size = pre.cfg.data, pre.cfg.data.size
    train_split, test_split = mstar_soc(args.data_dir)
    train = load_chips(train_split, data, margin=MARGIN, desc="train chips")
    test = load_chips(test_split, data, desc="test chips")
    notes: list[str] = []
    features = {}
    if "jepa" in args.methods:
        features["jepa"] = encoder_features(pre, pool)
    if "jepa_ema" in args.methods:
        if args.ema_checkpoint and args.ema_checkpoint.exists():
            ema = load_pretrained(args.ema_checkpoint, domain="sar")
            features["jepa_ema"] = encoder_features(ema, pool)
        else:
            notes.append(f"jepa_ema skipped: no --ema-checkpoint ({args.ema_checkpoint})")
    if "random_init" in args.methods:
        rand = random_encoder(pre, seed=args.seeds[0])
        features["random_init"] = lambda x: chip_embeddings(rand, x, pool=pool)
    if "handcrafted" in args.methods:
        features["handcrafted"] = handcrafted(data.db_scale)
    if "handcrafted_hog" in args.methods:
        features["handcrafted_hog"] = handcrafted(data.db_scale, "hog")
    results = run_mstar(
        features,
        train,
        test,
        size=size,
        seeds=args.seeds,
        supervised="supervised" in args.methods,
        probe_c=args.probe_c,
    )
    return {
        "task": "mstar-soc",
        "train": f"{args.data_dir}/train (17 deg), {len(train.ids)} chips",
        "test": f"{args.data_dir}/test (15 deg), {len(test.ids)} chips",
        "results": results,
        "checkpoint": str(args.checkpoint),
        "ema_checkpoint": str(args.ema_checkpoint) if args.ema_checkpoint else None,
        "encoder_sha256": pre.sha256,
        "encoder_used_downstream": pre.card.get("encoder_used_downstream"),
        "pool": pool,
        "probe_c": args.probe_c,
        "seeds": args.seeds,
        "notes": notes,
    }


def format_table(report: dict) -> str:
    lines = [
        f"task {report['task']} (accuracy; k-shot mean ± std over {len(report['seeds'])} seeds; pool {report['pool']})"
    ]
    lines.append(f"{'method':<16}{'all labels':>12}" + "".join(f"{k + '-shot':>16}" for k in ("1", "5", "10", "20")))
    for name, r in report["results"].items():
        shots = "".join(f"{r['kshot'][k]['mean']:>10.3f}±{r['kshot'][k]['std']:.3f}" for k in ("1", "5", "10", "20"))
        lines.append(f"{name:<16}{r['accuracy']:>12.3f}{shots}")
    lines += report["notes"]
    return "\n".join(lines)


def card_entry(report: dict) -> tuple[str, dict]:
    """Full-label and k-shot accuracy of every method, for the model card."""
    results = {
        name: {
            "accuracy": r["accuracy"],
            "macro_f1": r["macro_f1"],
            "kshot": {k: {"mean": v["mean"], "std": v["std"], "n": v["n"]} for k, v in r["kshot"].items()},
        }
        | ({"probe_c": r["probe_c"]} if "probe_c" in r else {})
        for name, r in report["results"].items()
    }
    split = {"train": report["train"], "test": report["test"]}
    return report["task"], {"split": split, "pool": report["pool"], "results": results}


def main(argv=None) -> int:
    return run_evaluation(
        parse_args(argv), evaluate, format_table, card_entry, script="domains/sar/evaluate.py", argv=argv
    )


if __name__ == "__main__":
    sys.exit(main())
