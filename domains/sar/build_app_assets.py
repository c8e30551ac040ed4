"""Fit the app's MSTAR probe and pick labelled reference embeddings for a SAR model directory.

    python domains/sar/build_app_assets.py --model models/sar-tiny --train-dir ../shared/data/sar/MSTAR-10/train

Writes, next to the encoder (each file atomically): ``probes/mstar-soc.json`` (class-balanced
logistic regression, C chosen by 5-fold cross-validation, on the ``--pool`` embedding of every
training chip given, default ``grid4``:
the 4 x 4 grid of token means, which keeps where on the chip a feature sits; the pool is recorded
in the probe's ``meta`` and as the card's ``downstream_pooling``) and ``references/mstar-soc.npz`` (mean-pooled emb float32, label, id: at
most ``--per-class`` training chips per class, a fixed seed) for the app's map. Use training-side
chips only (MSTAR 17 deg).
"""

from __future__ import annotations

import argparse
import io
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np

from domains.sar.embed import POOLS, chip_embeddings
from domains.sar.eval_mstar import load_chips
from domains.sar.tasks import load_split
from jepa_core.checkpoint import atomic_write, read_card, write_card
from jepa_core.errors import InputError
from jepa_core.eval.probes import add_probe_c_argument
from jepa_core.eval.references import class_counts, fit_probe, stratified_subsample, write_probe
from jepa_core.pretrained import load_pretrained

TASK = "mstar-soc"


def build_assets(
    model_dir: Path,
    train_dir: Path,
    *,
    per_class: int = 60,
    pool: str = "grid4",
    probe_c: float | str = "cv",
    log: Callable[[str], None] = print,
) -> None:
    pre = load_pretrained(model_dir, domain="sar")
    split = load_split(train_dir)
    chips = load_chips(split, pre.cfg.data, desc="train chips")
    emb, features = chip_embeddings(pre.encoder, chips.x, pool=("mean", pool))
    meta = {
        "task": TASK,
        "features": f"{pool}-pooled encoder tokens",
        "pool": pool,
        "encoder_sha256": pre.sha256,
        "train_dir": str(train_dir),
        "n_train": len(chips.ids),
        "class_counts": class_counts(chips.labels),
    }
    saved = fit_probe(features, chips.labels, meta, c=probe_c)
    pred = np.asarray(saved.classes)[saved.predict_proba(features.astype(np.float64)).argmax(1)]
    saved.meta["train_accuracy"] = train_accuracy = float((pred == chips.labels).mean())
    write_probe(model_dir / "probes" / f"{TASK}.json", saved)
    idx = stratified_subsample(chips.labels, per_class)
    buf = io.BytesIO()
    np.savez_compressed(
        buf,
        emb=emb[idx].astype(np.float32),
        label=chips.labels[idx].astype(str),
        id=np.array(chips.ids)[idx].astype(str),
    )
    atomic_write(model_dir / "references" / f"{TASK}.npz", lambda tmp: Path(tmp).write_bytes(buf.getvalue()))
    card = read_card(model_dir)
    card["downstream_pooling"] = pool  # evaluate.py's default --pool for this model
    write_card(model_dir, card)
    log(
        f"probe on {len(chips.ids)} chips (C={saved.meta['c']:g}, train accuracy {train_accuracy:.3f}); {len(idx)} references"
    )


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python domains/sar/build_app_assets.py", description=__doc__.split("\n\n")[0])
    p.add_argument("--model", type=Path, default=Path(__file__).resolve().parents[2] / "models" / "sar-tiny")
    p.add_argument("--train-dir", type=Path, required=True, help="MSTAR training chips, <dir>/<CLASS>/*.jpeg")
    p.add_argument("--per-class", type=int, default=60, help="reference chips per class")
    p.add_argument("--pool", choices=POOLS, default="grid4", help="token pooling of the probe's features")
    add_probe_c_argument(p, "on these chips")
    args = p.parse_args(argv)
    try:
        build_assets(args.model, args.train_dir, per_class=args.per_class, pool=args.pool, probe_c=args.probe_c)
    except InputError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
