"""Evaluate LiDAR BEV cell embeddings on labelled KITTI frames, scene-disjoint, against baselines.

    python domains/lidar/evaluate.py --data-dir ../shared/data/lidar/kitti_tracking_0000 \
        ../shared/data/lidar/kitti_object ../shared/data/lidar/kitti_object_extra --out results.json

Per occupied BEV cell: (a) foreground (>= half of its points inside a labelled box) vs background with a
class-balanced linear probe and a kNN probe, and object class (Car/Pedestrian/Cyclist) where counts
allow; (b) k-means (k=2) on the test cells' embeddings scored by IoU against the foreground mask.
Methods: ``jepa`` (frozen encoder), ``random_init`` (same architecture, random weights, several seeds),
``handcrafted`` (per-cell point count, height and intensity statistics, range), ``supervised`` (same
architecture trained from scratch on the training frames' foreground labels).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
import torch

from domains.lidar.cell_eval import FrameCells, evaluate_features, prepare_frames, train_supervised
from domains.lidar.inference import PROBE_FILE
from domains.lidar.tasks import find_labelled_frames
from jepa_core.checkpoint import atomic_write
from jepa_core.errors import InputError
from jepa_core.eval.metrics import summarise_seeds
from jepa_core.eval.probes import SavedLinearProbe, linear_probe
from jepa_core.eval.report import run_evaluation
from jepa_core.pretrained import load_pretrained, random_encoder

DEFAULT_MODEL = Path(__file__).resolve().parents[2] / "models" / "lidar-tiny"
METHODS = ("jepa", "random_init", "handcrafted", "supervised")
HEADLINE = ("fg_balanced_accuracy", "fg_f1", "kmeans_iou")


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python domains/lidar/evaluate.py", description=__doc__.split("\n\n")[0])
    p.add_argument(
        "--checkpoint", type=Path, default=DEFAULT_MODEL, help=f"model dir, run dir or .pt (default: {DEFAULT_MODEL})"
    )
    p.add_argument("--data-dir", type=Path, nargs="+", required=True,
                   help="KITTI object and/or tracking folders (see domains/lidar/tasks.py for the layouts)")  # fmt: skip
    p.add_argument("--split-frame", type=int, default=100, help="one tracking sequence: frames below train")
    p.add_argument("--gap", type=int, default=10, help="frames left out between the train and test sides in time")
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2], help="seeds for random init and supervised")
    p.add_argument("--methods", nargs="+", choices=METHODS, default=list(METHODS))
    p.add_argument("--supervised-epochs", type=int, default=4)
    p.add_argument("--supervised-seeds", type=int, nargs="+", default=[0], help="seeds for the supervised baseline")
    p.add_argument("--max-train-cells", type=int, default=40000, help="subsample training cells for the probes")
    p.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    p.add_argument("--out", type=Path, help="write results JSON here")
    p.add_argument("--update-card", action="store_true", help="record the headline metrics in the model card")
    p.add_argument("--save-probe", action="store_true",
                   help="write the JEPA foreground probe (fit on the training cells) to <checkpoint>/fg_probe.json")  # fmt: skip
    return p.parse_args(argv)


@torch.no_grad()
def cell_embeddings(encoder, frames: list[FrameCells], batch_size: int = 4) -> list[np.ndarray]:
    """Encoder tokens at each frame's occupied cells. Returns [(n_occupied_i, D)]."""
    out = []
    encoder.eval()
    for i in range(0, len(frames), batch_size):
        chunk = frames[i : i + batch_size]
        tokens = encoder(torch.stack([f.x for f in chunk]))  # (B, N, D)
        out += [t[torch.from_numpy(f.occupied)].float().numpy() for t, f in zip(tokens, chunk, strict=True)]
    return out


def evaluate(args: argparse.Namespace) -> dict:
    pre = load_pretrained(args.checkpoint, domain="lidar")
    frames = [f for d in args.data_dir for f in find_labelled_frames(d, split_frame=args.split_frame, gap=args.gap)]
    train = [f for f in frames if f.split == "train"]
    test = [f for f in frames if f.split == "test"]
    if not train or not test:
        raise InputError(
            ", ".join(map(str, args.data_dir)), f"need frames on both sides: {len(train)} train, {len(test)} test"
        )
    cells_tr, cells_te = prepare_frames(train, pre.cfg), prepare_frames(test, pre.cfg)
    results: dict[str, dict] = {}
    if "jepa" in args.methods:
        feats = cell_embeddings(pre.encoder, cells_tr), cell_embeddings(pre.encoder, cells_te)
        results["jepa"] = evaluate_features(*feats, cells_tr, cells_te, max_train=args.max_train_cells)
        if args.save_probe:
            save_probe(args.checkpoint, feats[0], cells_tr, len(train))
    if "random_init" in args.methods:
        runs = []
        for seed in args.seeds:
            enc = random_encoder(pre, seed)
            feats = cell_embeddings(enc, cells_tr), cell_embeddings(enc, cells_te)
            runs.append(evaluate_features(*feats, cells_tr, cells_te, max_train=args.max_train_cells, seed=seed))
        results["random_init"] = _merge_seeds(runs)
    if "handcrafted" in args.methods:
        feats = [f.handcrafted for f in cells_tr], [f.handcrafted for f in cells_te]
        results["handcrafted"] = evaluate_features(*feats, cells_tr, cells_te, max_train=args.max_train_cells)
    if "supervised" in args.methods:
        runs = [
            train_supervised(pre, cells_tr, cells_te, epochs=args.supervised_epochs, seed=s)
            for s in args.supervised_seeds
        ]
        results["supervised"] = _merge_seeds(runs)
    return {
        "task": "bev-cell-foreground",
        "train": [f.frame_id for f in train],
        "test": [f.frame_id for f in test],
        "cells": {
            "train_occupied": int(sum(c.occupied.sum() for c in cells_tr)),
            "test_occupied": int(sum(c.occupied.sum() for c in cells_te)),
            "train_fg": int(sum(c.fg.sum() for c in cells_tr)),
            "test_fg": int(sum(c.fg.sum() for c in cells_te)),
        },  # fmt: skip
        "results": results,
        "checkpoint": str(args.checkpoint),
        "encoder_sha256": pre.sha256,
        "encoder_used_downstream": pre.card.get("encoder_used_downstream"),
        "seeds": args.seeds,
    }


def save_probe(model_dir: Path, feats_tr: list[np.ndarray], cells_tr: list, n_frames: int) -> None:
    """Class-balanced linear foreground probe on all training cells, as plain JSON for the app."""
    x = np.concatenate(feats_tr)
    probe = linear_probe(x, np.concatenate([c.fg for c in cells_tr]).astype(str), x[:1])
    meta = {"task": "BEV cell foreground (>= half of the cell's points inside a labelled box)",
            "train_frames": n_frames, "train_cells": int(sum(len(c.fg) for c in cells_tr))}  # fmt: skip
    saved = SavedLinearProbe.from_pipeline(probe.model, meta)
    atomic_write(model_dir / PROBE_FILE, lambda tmp: Path(tmp).write_text(json.dumps(saved.to_dict())))
    print(f"wrote {model_dir / PROBE_FILE}")


def _merge_seeds(runs: list[dict]) -> dict:
    """Mean over seeds at the top level (same schema as one run) plus ``<metric>_spread``."""
    out = dict(runs[0])
    for key, value in runs[0].items():
        if isinstance(value, float):
            vals = [r[key] for r in runs if r.get(key) is not None]
            out[key] = float(np.mean(vals)) if vals else None
            out[f"{key}_spread"] = summarise_seeds(vals) if vals else None
    out["n_runs"] = len(runs)
    return out


def format_table(report: dict) -> str:
    cols = [*HEADLINE, "fg_auroc", "knn_fg_balanced_accuracy", "class_macro_f1", "cell_rankme"]
    c = report["cells"]
    lines = [
        f"BEV cell foreground: {len(report['train'])} train / {len(report['test'])} test frames, "
        f"{c['train_occupied']} / {c['test_occupied']} occupied cells ({c['train_fg']} / {c['test_fg']} foreground)",
        f"{'method':<13}" + "".join(f"{k:>26}" for k in cols),
    ]
    for name, r in report["results"].items():
        cells = []
        for k in cols:
            v, spread = r.get(k), r.get(f"{k}_spread")
            cells.append("-" if v is None else f"{v:.3f}" + (f"±{spread['std']:.3f}" if spread else ""))
        lines.append(f"{name:<13}" + "".join(f"{x:>26}" for x in cells))
    return "\n".join(lines)


def card_entry(report: dict) -> tuple[str, dict]:
    """The headline metrics of every method, for the model card."""
    return "bev-cell-foreground", {
        "split": {"train": len(report["train"]), "test": len(report["test"]), "test_frames": report["test"]},
        "results": {m: {k: r.get(k) for k in HEADLINE} for m, r in report["results"].items()},
    }


def main(argv=None) -> int:
    return run_evaluation(
        parse_args(argv), evaluate, format_table, card_entry, script="domains/lidar/evaluate.py", argv=argv
    )


if __name__ == "__main__":
    sys.exit(main())
