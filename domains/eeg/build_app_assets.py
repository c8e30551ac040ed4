"""Fit the app's rest/task probe and pick its labelled reference windows for an EEG model directory.

    python domains/eeg/build_app_assets.py --model models/eeg-tiny --data-dir ../shared/data/eeg/eegmat \\
        [--subjects 0,1,2,3,4,5,6] [--pooling mean]

Writes next to the encoder (each file atomically): ``probes/eegmat-rest-vs-task.json`` (the
evaluation's class-balanced linear probe, fitted on every window of the given subjects, windows
every 2 s) and ``references/eegmat-rest-vs-task.npz`` (a stratified subsample of those windows).
Default subjects: the ones the encoder saw in pretraining, so the app's probe never saw a test
subject either. The pooling is recorded in the model card (``downstream_pooling``).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from domains.eeg.eval_tasks import POOLINGS, embed, load_windows
from domains.eeg.evaluate import _subjects, pretraining_subjects
from domains.eeg.inference import TASK
from domains.eeg.tasks import eegmat_recordings
from jepa_core.checkpoint import read_card, write_card
from jepa_core.errors import InputError
from jepa_core.eval.probes import add_probe_c_argument
from jepa_core.eval.references import class_counts, fit_probe, stratified_subsample, write_probe, write_reference
from jepa_core.pretrained import load_pretrained


def build_assets(
    model_dir, data_dir, *, subjects=None, pooling="mean", per_class=300, stride_s=2.0, probe_c="cv", seed=0
) -> dict:
    model_dir = Path(model_dir)
    pre = load_pretrained(model_dir, domain="eeg")
    subjects = subjects or pretraining_subjects(pre.card)
    recordings = [r for r in eegmat_recordings(data_dir) if not subjects or r.subject in subjects]
    if not recordings:
        raise InputError(data_dir, f"no eegmat recording of subjects {subjects}")
    w, skipped = load_windows(recordings, pre.cfg, stride_s=stride_s)
    emb = embed(pre.encoder, w.video, pooling)
    keep = stratified_subsample(w.labels, per_class, seed)
    meta = {
        "task": TASK, "level": "window", "input": f"embed(pooling={pooling!r}), windows every {stride_s} s",
        "records": sorted(set(w.record_ids.tolist())), "subjects": sorted(set(int(s) for s in w.subjects)),
        "n_train": class_counts(w.labels), "n_reference": class_counts(w.labels[keep]),
        "encoder_sha256": pre.sha256, "seed": seed, "skipped": skipped,
    }  # fmt: skip
    probe = fit_probe(emb, w.labels, meta, c=probe_c, groups=w.subjects, seed=seed)  # C by subject-grouped CV
    write_probe(model_dir / "probes" / f"{TASK}.json", probe)
    write_reference(model_dir / "references" / f"{TASK}.npz", (emb[keep], w.labels[keep], w.record_ids[keep]))
    card = read_card(model_dir)
    card["downstream_pooling"] = pooling
    write_card(model_dir, card)
    print(
        f"{TASK}: probe on {meta['n_train']} windows of subjects {meta['subjects']}, references {meta['n_reference']}"
    )
    return probe.meta


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python domains/eeg/build_app_assets.py", description=__doc__.split("\n\n")[0])
    p.add_argument("--model", type=Path, required=True, help="model directory (encoder.safetensors + model_card.json)")
    p.add_argument("--data-dir", type=Path, required=True, help="folder with eegmat SubjectNN_1/_2 EDFs")
    p.add_argument("--subjects", type=_subjects, help="subjects to fit on (default: those seen in pretraining)")
    p.add_argument("--pooling", choices=POOLINGS, default="mean")
    p.add_argument("--per-class", type=int, default=300, help="reference windows kept per class")
    add_probe_c_argument(p, "grouped by subject")
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args(argv)
    try:
        build_assets(args.model, args.data_dir, subjects=args.subjects, pooling=args.pooling,
                     per_class=args.per_class, probe_c=args.probe_c, seed=args.seed)  # fmt: skip
    except (InputError, ValueError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
