"""Fit the app's probes and pick its labelled reference embeddings for an ECG model directory.

    python domains/ecg/build_app_assets.py --model models/ecg-tiny \\
        --mitdb-dir ../shared/data/ecg/mitdb --mitdb-records 101 106 108 ... \\
        --cinc-dir ../shared/data/ecg/cinc2017 [--cinc-records A00001 ...]

Writes, next to the encoder (each file atomically):
``probes/mitdb-aami.json`` (beat probe, AAMI N/S/V/F, on ``beat_embeddings``),
``probes/cinc2017.json`` (rhythm probe, N/A/O/~, on the mean of ``window_embeddings`` every half window),
``references/mitdb-aami.npz`` and ``references/cinc2017.npz`` (emb float16, label, record).
The probes are fitted on every beat / record given (use training-side records only: MIT-BIH DS1);
the references are a stratified subsample (at most ``--per-class`` beats per class, a fixed seed).
The records used and the counts per class go into each probe's ``meta``.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
from tqdm.auto import tqdm

from domains.ecg.config import window_samples
from domains.ecg.embed import beat_embeddings, window_embeddings
from domains.ecg.inference import BEAT_TASK, RHYTHM_TASK, load_for_model, native_limit
from domains.ecg.io import find_records
from domains.ecg.tasks import AAMI_CLASSES, DS1, load_beats, load_cinc_labels
from jepa_core.errors import InputError
from jepa_core.eval.references import class_counts, fit_probe, stratified_subsample, write_probe, write_reference
from jepa_core.pretrained import Pretrained, load_pretrained

Dataset = tuple[np.ndarray, np.ndarray, np.ndarray]  # emb (N, D), label (N,), record (N,)


def beat_dataset(pre: Pretrained, paths: Sequence[Path], *, max_seconds: float | None = None) -> Dataset:
    """Embeddings of every annotated N/S/V/F beat of the records. Shape: emb (B, 2 D)."""
    d = pre.cfg.data
    embs, labels, records = [], [], []
    for path in tqdm(paths, desc="MIT-BIH records", leave=False):
        record, slots = load_for_model(path, d, max_samples=native_limit(path, max_seconds)[0])
        beats = load_beats(path, fs=d.fs, classes=AAMI_CLASSES)
        inside = (beats.samples >= 0) & (beats.samples < slots.shape[1])
        samples = beats.samples[inside]
        embs.append(beat_embeddings(pre.encoder, slots, samples, window=window_samples(d), patch=d.patch))
        labels.append(beats.labels[inside])
        records.append(np.full(len(samples), record.record_id))
    return np.concatenate(embs), np.concatenate(labels).astype(str), np.concatenate(records).astype(str)


def rhythm_dataset(
    pre: Pretrained, paths: Sequence[Path], labels: dict[str, str], *, max_seconds: float | None = None
) -> Dataset:
    """One embedding per record: the mean over windows every half window. Shape: emb (R, D)."""
    d = pre.cfg.data
    window = window_samples(d)
    embs, ids = [], []
    for path in tqdm(paths, desc="CinC records", leave=False):
        record, slots = load_for_model(path, d, max_samples=native_limit(path, max_seconds)[0])
        embs.append(window_embeddings(pre.encoder, slots, window=window, stride=window // 2).mean(axis=0))
        ids.append(record.record_id)
    return np.stack(embs), np.array([labels[i] for i in ids]).astype(str), np.array(ids).astype(str)


def build_task(pre: Pretrained, task: str, data: Dataset, *, out: Path, per_class: int, seed: int,
               meta: dict, c: float = 1.0) -> dict:  # fmt: skip
    """Fit the probe on ``data``, write it and a stratified reference subsample; returns the probe meta."""
    emb, label, record = data
    keep = stratified_subsample(label, per_class, seed)
    meta = {
        "task": task, **meta, "records": sorted(set(record.tolist())), "n_train": class_counts(label),
        "n_reference": class_counts(label[keep]), "encoder_sha256": pre.sha256, "c": c, "seed": seed,
    }  # fmt: skip
    write_probe(out / "probes" / f"{task}.json", fit_probe(emb, label, meta, c=c, seed=seed))
    write_reference(out / "references" / f"{task}.npz", (emb[keep], label[keep], record[keep]))
    return meta


def build_assets(
    model_dir: str | Path,
    *,
    mitdb_paths: Sequence[Path],
    cinc_paths: Sequence[Path],
    cinc_labels: dict[str, str],
    per_class: int = 400,
    max_cinc: int = 1000,
    max_seconds: float | None = None,
    seed: int = 0,
    log: Callable[[str], None] = print,
) -> dict[str, dict]:
    """Both tasks' probes and references for the model in ``model_dir`` (written into it)."""
    model_dir = Path(model_dir)
    pre = load_pretrained(model_dir, domain="ecg")
    window = window_samples(pre.cfg.data)
    beat_meta = {"level": "beat", "input": f"beat_embeddings(window={window}, patch={pre.cfg.data.patch})"}
    rhythm_meta = {"level": "record", "input": f"mean of window_embeddings(window={window}, stride={window // 2})"}
    if max_seconds:
        beat_meta["max_seconds"] = rhythm_meta["max_seconds"] = max_seconds
    out = {}
    beats = beat_dataset(pre, mitdb_paths, max_seconds=max_seconds)
    out[BEAT_TASK] = build_task(pre, BEAT_TASK, beats, out=model_dir, per_class=per_class, seed=seed, meta=beat_meta)
    log(f"{BEAT_TASK}: probe on {out[BEAT_TASK]['n_train']}, references {out[BEAT_TASK]['n_reference']}")
    rhythm = rhythm_dataset(pre, list(cinc_paths)[:max_cinc], cinc_labels, max_seconds=max_seconds)
    out[RHYTHM_TASK] = build_task(
        pre, RHYTHM_TASK, rhythm, out=model_dir, per_class=max_cinc, seed=seed, meta=rhythm_meta
    )
    log(f"{RHYTHM_TASK}: probe on {out[RHYTHM_TASK]['n_train']}, references {out[RHYTHM_TASK]['n_reference']}")
    return out


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python domains/ecg/build_app_assets.py", description=__doc__.split("\n\n")[0])
    p.add_argument("--model", type=Path, required=True, help="model directory (encoder.safetensors + model_card.json)")
    p.add_argument("--mitdb-dir", type=Path, required=True, help="folder with MIT-BIH records (.hea/.dat/.atr)")
    p.add_argument(
        "--mitdb-records", nargs="+", metavar="ID", help="training-side records (default: the DS1 records present)"
    )
    p.add_argument("--cinc-dir", type=Path, required=True, help="folder with CinC 2017 records and REFERENCE.csv")
    p.add_argument("--cinc-records", nargs="+", metavar="ID", help="records (default: every labelled one, sorted)")
    p.add_argument("--max-cinc", type=int, default=1000, help="use at most this many CinC records")
    p.add_argument("--per-class", type=int, default=400, help="reference beats kept per AAMI class")
    p.add_argument("--max-seconds", type=float, help="read only the first seconds of each record (quick runs)")
    p.add_argument("--seed", type=int, default=0)
    return p.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    try:
        mitdb_ids = args.mitdb_records or sorted(p.name for p in find_records(args.mitdb_dir) if p.name in DS1)
        if not mitdb_ids:
            raise InputError(args.mitdb_dir, "no MIT-BIH record of DS1 here; name them with --mitdb-records")
        cinc_labels = load_cinc_labels(args.cinc_dir)
        cinc_ids = args.cinc_records or sorted(cinc_labels)
        unlabelled = [r for r in cinc_ids if r not in cinc_labels]
        if unlabelled:
            raise InputError(args.cinc_dir / "REFERENCE.csv", f"no label for {unlabelled[:5]}")
        build_assets(
            args.model,
            mitdb_paths=[find_records(args.mitdb_dir / r)[0] for r in mitdb_ids],
            cinc_paths=[find_records(args.cinc_dir / r)[0] for r in cinc_ids],
            cinc_labels=cinc_labels, per_class=args.per_class, max_cinc=args.max_cinc,
            max_seconds=args.max_seconds, seed=args.seed,
        )  # fmt: skip
    except (InputError, ValueError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
