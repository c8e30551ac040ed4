r"""Evaluate LiDAR BEV cell embeddings against baselines: KITTI foreground (default) or airborne ground.

    python domains/lidar/evaluate.py --data-dir ../shared/data/lidar/kitti_tracking_0000 \
        ../shared/data/lidar/kitti_object ../shared/data/lidar/kitti_object_extra --out results.json
    python domains/lidar/evaluate.py --task als-ground --checkpoint runs/lidar-als \
        --data-dir ../shared/data/lidar/als_autzen/autzen_trim.las --out results.json

Per occupied BEV cell of the encoder's grid:
- ``kitti-fg`` (KITTI frames, scene-disjoint): foreground (>= half of the cell's points inside a labelled
  box) vs background, and object class (Car/Pedestrian/Cyclist) where counts allow.
- ``als-ground`` (one LAS tile split in space: its west ``--train-frac`` of x trains, the east side tests, a
  gap of one crop between them): ground (>= half of the cell's points are ASPRS class 2) vs non-ground, on
  crops of the range's x/y size in a local frame (domains/lidar/tile.py).
Both: a class-balanced linear probe and a kNN probe fit on the train cells; k-means (k=2) on the test cells'
features scored by IoU against the positive class. Methods: ``jepa`` (frozen encoder), ``random_init``
(same architecture, random weights, several seeds), ``handcrafted`` (per-cell point count, height and
intensity statistics; KITTI adds the range), ``supervised`` (same architecture trained from scratch on the
training cells' labels).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
import torch

from domains.lidar.cell_eval import FrameCells, evaluate_features, prepare_frames, prepare_tile, train_supervised
from domains.lidar.inference import PROBE_FILE
from domains.lidar.tasks import find_labelled_frames
from jepa_core.checkpoint import atomic_write
from jepa_core.errors import InputError
from jepa_core.eval.metrics import summarise_seeds
from jepa_core.eval.probes import SavedLinearProbe, linear_probe
from jepa_core.eval.report import add_methods_argument, add_run_arguments, run_evaluation
from jepa_core.pretrained import Pretrained, load_pretrained, random_encoder

DEFAULT_MODEL = Path(__file__).resolve().parents[2] / "models" / "lidar-tiny"
METHODS = ("jepa", "random_init", "handcrafted", "supervised")
TASKS = {"kitti-fg": "bev-cell-foreground", "als-ground": "als-ground"}  # --task -> report["task"]
LABELS = {"bev-cell-foreground": ("fg", "foreground", "frames"), "als-ground": ("ground", "ground", "crops")}


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        prog="python domains/lidar/evaluate.py",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="als-ground crops take the model's point_cloud_range (x/y size) and data.ground_percentile.",
    )
    p.add_argument(
        "--checkpoint", type=Path, default=DEFAULT_MODEL, help=f"model dir, run dir or .pt (default: {DEFAULT_MODEL})"
    )
    p.add_argument("--task", choices=list(TASKS), default="kitti-fg", help="kitti-fg (default) or als-ground")
    p.add_argument("--data-dir", type=Path, nargs="+", required=True,
                   help="kitti-fg: KITTI object and/or tracking folders (layouts: domains/lidar/tasks.py); "
                        "als-ground: one .las/.laz tile")  # fmt: skip
    p.add_argument("--split-frame", type=int, default=100, help="kitti-fg, one tracking sequence: frames below train")
    p.add_argument("--gap", type=int, default=10, help="kitti-fg: frames left out between train and test in time")
    p.add_argument(
        "--train-frac", type=float, default=0.5, help="als-ground: west fraction of the x extent that trains"
    )
    p.add_argument("--test-frac", type=float, default=None,
                   help="als-ground: east fraction that tests (default: all of the rest beyond the gap)")  # fmt: skip
    p.add_argument(
        "--gap-m", type=float, default=None, help="als-ground: least gap between the sides (default: one crop)"
    )
    p.add_argument("--ground-z", type=float, default=0.0,
                   help="als-ground: z of a crop's ground level in the model frame (0 for configs/als.yaml; about "
                        "-1.73, the sensor height, for a KITTI model)")  # fmt: skip
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2], help="seeds for random init")
    add_methods_argument(p, METHODS, "default: all for kitti-fg; jepa random_init handcrafted for als-ground",
                         default_all=False)  # fmt: skip
    p.add_argument("--supervised-epochs", type=int, default=4)
    p.add_argument("--supervised-seeds", type=int, nargs="+", default=[0], help="seeds for the supervised baseline")
    p.add_argument("--max-train-cells", type=int, default=40000, help="subsample training cells for the probes")
    add_run_arguments(p)
    p.add_argument("--out", type=Path, help="write results JSON here")
    p.add_argument("--update-card", action="store_true", help="record the headline metrics in the model card")
    p.add_argument("--save-probe", action="store_true",
                   help="kitti-fg: write the JEPA foreground probe (fit on the training cells) to <checkpoint>/fg_probe.json")  # fmt: skip
    args = p.parse_args(argv)
    if args.save_probe and args.task != "kitti-fg":
        p.error("--save-probe writes the KITTI foreground probe; it has no als-ground counterpart")
    if args.methods is None:
        args.methods = list(METHODS) if args.task == "kitti-fg" else ["jepa", "random_init", "handcrafted"]
    return args


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
    if args.task == "als-ground":
        return _evaluate_tile(args, pre)
    frames = [f for d in args.data_dir for f in find_labelled_frames(d, split_frame=args.split_frame, gap=args.gap)]
    train = [f for f in frames if f.split == "train"]
    test = [f for f in frames if f.split == "test"]
    if not train or not test:
        raise InputError(
            ", ".join(map(str, args.data_dir)), f"need frames on both sides: {len(train)} train, {len(test)} test"
        )
    cells_tr, cells_te = prepare_frames(train, pre.cfg), prepare_frames(test, pre.cfg)
    results = run_methods(pre, cells_tr, cells_te, args, label="fg")
    if args.save_probe and "jepa" in args.methods:
        save_probe(args.checkpoint, cell_embeddings(pre.encoder, cells_tr), cells_tr, len(train))
    return _report("bev-cell-foreground", args, pre, cells_tr, cells_te, results)


def _evaluate_tile(args: argparse.Namespace, pre: Pretrained) -> dict:
    if len(args.data_dir) != 1:
        raise InputError(", ".join(map(str, args.data_dir)), "als-ground takes one .las/.laz tile")
    path = args.data_dir[0]
    _check_unseen(pre, path, args.train_frac)
    tile = prepare_tile(path, pre.cfg, train_frac=args.train_frac, test_frac=args.test_frac, min_gap=args.gap_m,
                        ground_z=args.ground_z)  # fmt: skip
    if not tile.train or not tile.test:
        raise InputError(path, f"need crops on both sides: {len(tile.train)} train, {len(tile.test)} test")
    results = run_methods(pre, tile.train, tile.test, args, label="ground", class_probe=False)
    return {**_report("als-ground", args, pre, tile.train, tile.test, results), "tile": tile.meta}


def _check_unseen(pre: Pretrained, path: Path, train_frac: float) -> None:
    """Refuse an encoder whose pretraining (model card ``training_data``) read this tile's test side."""
    data = pre.card.get("training_data") or {}
    if not any(Path(s).resolve() == Path(path).resolve() for s in data.get("scans", [])):
        return
    region = data.get("crop_region") or [0.0, 1.0]
    if region[1] > train_frac + 1e-9:
        raise InputError(path, f"the encoder was pretrained on x fractions {region} of this tile, beyond "
                               f"--train-frac {train_frac:g}: the test side would not be unseen")  # fmt: skip


def run_methods(pre: Pretrained, cells_tr: list[FrameCells], cells_te: list[FrameCells], args, **kw) -> dict:
    """Every requested method's metrics (``kw``: ``label``, ``class_probe`` of ``evaluate_features``)."""
    results: dict[str, dict] = {}
    kw = {"max_train": args.max_train_cells, **kw}
    if "jepa" in args.methods:
        feats = cell_embeddings(pre.encoder, cells_tr), cell_embeddings(pre.encoder, cells_te)
        results["jepa"] = evaluate_features(*feats, cells_tr, cells_te, **kw)
    if "random_init" in args.methods:
        runs = []
        for seed in args.seeds:
            enc = random_encoder(pre, seed)
            feats = cell_embeddings(enc, cells_tr), cell_embeddings(enc, cells_te)
            runs.append(evaluate_features(*feats, cells_tr, cells_te, seed=seed, **kw))
        results["random_init"] = _merge_seeds(runs)
    if "handcrafted" in args.methods:
        feats = [f.handcrafted for f in cells_tr], [f.handcrafted for f in cells_te]
        results["handcrafted"] = evaluate_features(*feats, cells_tr, cells_te, **kw)
    if "supervised" in args.methods:
        runs = [
            train_supervised(pre, cells_tr, cells_te, epochs=args.supervised_epochs, seed=s, label=kw["label"])
            for s in args.supervised_seeds
        ]
        results["supervised"] = _merge_seeds(runs)
    return results


def _report(task: str, args, pre: Pretrained, cells_tr: list[FrameCells], cells_te: list[FrameCells], results):
    label = LABELS[task][0]
    return {
        "task": task,
        "train": [c.frame_id for c in cells_tr],
        "test": [c.frame_id for c in cells_te],
        "cells": {
            "train_occupied": int(sum(c.occupied.sum() for c in cells_tr)),
            "test_occupied": int(sum(c.occupied.sum() for c in cells_te)),
            f"train_{label}": int(sum(c.y.sum() for c in cells_tr)),
            f"test_{label}": int(sum(c.y.sum() for c in cells_te)),
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
    probe = linear_probe(x, np.concatenate([c.y for c in cells_tr]).astype(str), x[:1])
    meta = {"task": "BEV cell foreground (>= half of the cell's points inside a labelled box)",
            "train_frames": n_frames, "train_cells": int(sum(len(c.y) for c in cells_tr))}  # fmt: skip
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


def headline(report: dict) -> tuple[str, ...]:
    label = LABELS[report["task"]][0]
    return f"{label}_balanced_accuracy", f"{label}_f1", "kmeans_iou"


def format_table(report: dict) -> str:
    label, name, units = LABELS[report["task"]]
    cols = [*headline(report), f"{label}_auroc", f"knn_{label}_balanced_accuracy", "class_macro_f1", "cell_rankme"]
    if report["task"] == "als-ground":  # no object classes
        cols.remove("class_macro_f1")
    c = report["cells"]
    lines = [
        f"BEV cell {name}: {len(report['train'])} train / {len(report['test'])} test {units}, {c['train_occupied']} / "
        f"{c['test_occupied']} occupied cells ({c[f'train_{label}']} / {c[f'test_{label}']} {name})",
        f"{'method':<13}" + "".join(f"{k:>{max(26, len(k) + 2)}}" for k in cols),
    ]
    for method, r in report["results"].items():
        cells = []
        for k in cols:
            v, spread = r.get(k), r.get(f"{k}_spread")
            cells.append("-" if v is None else f"{v:.3f}" + (f"±{spread['std']:.3f}" if spread else ""))
        lines.append(f"{method:<13}" + "".join(f"{x:>{max(26, len(k) + 2)}}" for x, k in zip(cells, cols, strict=True)))
    return "\n".join(lines)


def card_entry(report: dict) -> tuple[str, dict]:
    """The headline metrics of every method, for the model card."""
    split = {"train": len(report["train"]), "test": len(report["test"]), "test_frames": report["test"]}
    if "tile" in report:
        split = {"train_crops": len(report["train"]), "test_crops": len(report["test"]), **report["tile"]["split"]}
    keys = headline(report)
    return report["task"], {
        "split": split,
        "results": {m: {k: r.get(k) for k in keys} for m, r in report["results"].items()},
    }


def main(argv=None) -> int:
    return run_evaluation(
        parse_args(argv), evaluate, format_table, card_entry, script="domains/lidar/evaluate.py", argv=argv
    )


if __name__ == "__main__":
    sys.exit(main())
